// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "httppoller.h"

#include "config.h"

#include <berth/networksession.h>
#include <berth/servicecontext.h>

#include <QtCore/QDateTime>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTimer>

using namespace Qt::StringLiterals;

namespace berth {

ServiceType HttpPollerService::type()
{
    using K = ConfigKey::Kind;
    return ServiceType{
        u"http-poller"_s,
        u"polls URLs at an interval with a given concurrency; one JSON line per result"_s,
        {
            {u"url"_s, K::StringOrList, u"the URL to poll, or a list of URLs (polled in turn)"_s, true, {}},
            {u"concurrency"_s, K::Integer, u"polls in flight at once (default 1)"_s, false, {}},
            {u"interval"_s, K::Duration, u"pause between the end of one poll and the next start (default 1s; 0s: back to back)"_s, false, {}},
            {u"method"_s, K::String, u"HTTP method (default GET)"_s, false, {}},
            {u"headers"_s, K::Object, u"request headers, name -> value (never logged)"_s, false, {}},
            {u"body"_s, K::String, u"request body"_s, false, {}},
            {u"output"_s, K::String, u"append the JSON lines to this file (default: the log)"_s, false, {}},
        },
        [] { return std::make_unique<HttpPollerService>(); },
    };
}

HttpPollerService::~HttpPollerService() = default;

void HttpPollerService::start()
{
    const QJsonObject cfg = context().config();
    const QJsonValue urlValue = cfg.value(u"url"_s);
    QStringList texts;
    if (urlValue.isString())
        texts.append(urlValue.toString());
    for (const QJsonValue &v : urlValue.toArray())
        texts.append(v.toString());
    if (texts.isEmpty()) {
        reportFailed(u"config.url: no URL to poll"_s);
        return;
    }
    for (const QString &text : std::as_const(texts)) {
        const QUrl url(text, QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty()
            || (url.scheme() != u"http"_s && url.scheme() != u"https"_s)) {
            reportFailed(u"config.url: \"%1\" is not an http:// or https:// URL with a host"_s
                             .arg(NetworkSession::redact(url, NetworkSession::builtinRedactedQuery())));
            return;
        }
        m_urls.append(url);
    }
    const int concurrency = cfg.value(u"concurrency"_s).toInt(1);
    if (concurrency < 1 || concurrency > 100000) {
        reportFailed(u"config.concurrency: %1 is not from 1 to 100000"_s.arg(concurrency));
        return;
    }
    Millis interval{1000};
    QString err;
    if (cfg.contains(u"interval"_s))
        parseDuration(cfg.value(u"interval"_s).toString(), &interval, &err);
    m_interval = int(interval.count());
    m_method = cfg.value(u"method"_s).toString(u"GET"_s).toUpper().toLatin1();
    m_body = cfg.value(u"body"_s).toString().toUtf8();
    const QJsonObject headers = cfg.value(u"headers"_s).toObject();
    for (auto it = headers.constBegin(); it != headers.constEnd(); ++it) {
        if (!it.value().isString()) {
            reportFailed(u"config.headers.%1: expected a string value"_s.arg(it.key()));
            return;
        }
        m_headers.append({it.key().toLatin1(), it.value().toString().toUtf8()});
    }
    if (const QString path = cfg.value(u"output"_s).toString(); !path.isEmpty()) {
        m_output = std::make_unique<QFile>(path);
        if (!m_output->open(QIODevice::WriteOnly | QIODevice::Append | QIODevice::Text)) {
            reportFailed(u"config.output: cannot open %1 for appending: %2"_s.arg(path, m_output->errorString()));
            return;
        }
        // Results written so far must survive any stop: handed to the kernel once per pass of
        // the event loop (a burst of 1 000 answers costs one write, not 1 000), and in close.
        context().onClose([this] { if (m_output) m_output->flush(); });
    }

    m_session = context().network();
    m_session->raiseAutomaticLimits(concurrency);
    connect(context().stopToken(), &StopToken::stopRequested, this, &HttpPollerService::beginStop);
    for (int i = 0; i < concurrency; ++i) {
        auto w = std::make_shared<Worker>();
        w->index = i;
        w->pause = new QTimer(this);
        w->pause->setSingleShot(true);
        Worker *raw = w.get();
        connect(w->pause, &QTimer::timeout, this, [this, raw] { poll(raw); });
        m_workers.append(w);
    }
    qCInfo(context().log()).noquote() << u"polling %1 URL(s) with concurrency %2, interval %3"_s
                                             .arg(m_urls.size()).arg(concurrency).arg(formatDuration(interval));
    for (const auto &w : std::as_const(m_workers))
        poll(w.get());
    reportReady();
}

void HttpPollerService::poll(Worker *w)
{
    if (m_stopping)
        return;
    w->url = m_urls.at(int((w->index + w->polls) % m_urls.size()));
    ++w->polls;
    QNetworkRequest request(w->url);
    for (const auto &[name, value] : std::as_const(m_headers))
        request.setRawHeader(name, value);
    if (!m_body.isEmpty() && !request.hasRawHeader("Content-Type"))
        request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/octet-stream"));
    w->started.start();
    NetworkCall *call = m_session->send(request, m_method, m_body);
    w->call = call;
    ++m_inFlight;
    connect(call, &NetworkCall::finished, this, [this, w, call] { onFinished(w, call); });
}

void HttpPollerService::onFinished(Worker *w, NetworkCall *call)
{
    w->call = nullptr;
    --m_inFlight;
    if (!call->wasSent()) {
        // Refused or cancelled before it left: the host is stopping (its session takes nothing
        // new from the moment of the signal, before intake reaches this service). Nothing was
        // polled, so there is no result, and no next poll: retrying at once would only spin.
        qCDebug(context().log()).noquote() << call->errorString();
        maybeStopped();
        return;
    }
    QJsonObject o{
        {u"time"_s, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs)},
        {u"url"_s, call->redactedUrl()},
        {u"status"_s, call->httpStatus()},
        {u"latencyMs"_s, double(w->started.nsecsElapsed() / 1000) / 1000.0},
        {u"bytes"_s, double(call->bytesReceived())},
    };
    if (call->attempts() > 1)
        o.insert(u"attempts"_s, call->attempts());
    if (call->error() != QNetworkReply::NoError)
        o.insert(u"error"_s, call->errorString());
    write(QJsonDocument(o).toJson(QJsonDocument::Compact));
    // A session that no longer sends (the signal was seen on another thread, before intake
    // reached this service) would only refuse the next poll.
    if (!m_stopping && m_session->isSending()) {
        if (m_interval > 0)
            w->pause->start(m_interval);
        else   // back to back: a posted call, not a timer to register and remove per poll
            QMetaObject::invokeMethod(this, [this, w] { poll(w); }, Qt::QueuedConnection);
    }
    maybeStopped();
}

void HttpPollerService::write(const QByteArray &line)
{
    if (m_output) {
        m_output->write(line + '\n');
        if (!m_flushQueued) {
            m_flushQueued = true;
            QMetaObject::invokeMethod(this, [this] {
                m_flushQueued = false;
                if (m_output)
                    m_output->flush();
            }, Qt::QueuedConnection);
        }
    } else {
        qCInfo(context().log()).noquote() << QString::fromUtf8(line);
    }
}

void HttpPollerService::beginStop()
{
    if (m_stopping)
        return;
    m_stopping = true;   // no poll starts from now on; the ones in flight drain
    for (const auto &w : std::as_const(m_workers))
        w->pause->stop();
}

void HttpPollerService::stop()
{
    beginStop();
    m_stopCalled = true;
    maybeStopped();
}

void HttpPollerService::maybeStopped()
{
    if (m_stopCalled && m_inFlight == 0 && !m_stoppedReported) {
        m_stoppedReported = true;
        reportStopped();
    }
}

} // namespace berth
