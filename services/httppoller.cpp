// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "httppoller.h"

#include <berth/configvalue.h>
#include <berth/networksession.h>
#include <berth/servicecontext.h>

#include <QtCore/QDateTime>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QTimer>

#include <limits>

using namespace Qt::StringLiterals;

namespace berth {

namespace {
/// The URLs of a "url" value (a string or a list), or what is wrong with them. Used by the
/// config check (`berth check`, with file and line) and again at start.
QString readUrls(const QJsonValue &value, QList<QUrl> *out)
{
    QStringList texts;
    if (value.isString())
        texts.append(value.toString());
    for (const QJsonValue &v : value.toArray())
        texts.append(v.toString());
    if (texts.isEmpty())
        return u"no URL to poll"_s;
    for (qsizetype i = 0; i < texts.size(); ++i) {
        const QUrl url(texts.at(i), QUrl::StrictMode);
        if (!url.isValid() || url.host().isEmpty()
            || (url.scheme() != u"http"_s && url.scheme() != u"https"_s)) {
            return u"%1\"%2\" is not an http:// or https:// URL with a host"_s
                .arg(value.isArray() ? u"item %1: "_s.arg(i) : QString(),
                     NetworkSession::redact(url, NetworkSession::builtinRedactedQuery()));
        }
        if (out)
            out->append(url);
    }
    return {};
}

QString checkConcurrency(const QJsonValue &v)
{
    const double n = v.toDouble();
    return n >= 1 && n <= 100000 ? QString() : u"concurrency %1 is not from 1 to 100000"_s.arg(n);
}

/// An HTTP token (RFC 9110): a method or a header name.
bool isToken(const QString &s)
{
    static const QString extra = u"!#$%&'*+-.^_`|~"_s;
    return !s.isEmpty() && std::all_of(s.cbegin(), s.cend(), [](QChar c) {
        return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9') || extra.contains(c);
    });
}

QString checkMethod(const QJsonValue &v)
{
    return isToken(v.toString()) ? QString() : u"\"%1\" is not an HTTP method"_s.arg(v.toString());
}

QString checkHeaders(const QJsonValue &v)
{
    const QJsonObject headers = v.toObject();
    for (auto it = headers.constBegin(); it != headers.constEnd(); ++it) {
        if (!isToken(it.key()))
            return u"\"%1\" is not a header name"_s.arg(it.key());
        if (!it.value().isString())
            return u"header \"%1\": expected a string value"_s.arg(it.key());
        if (it.value().toString().contains(u'\n') || it.value().toString().contains(u'\r'))
            return u"header \"%1\": a value cannot contain a line break"_s.arg(it.key());
    }
    return {};
}
} // namespace

ServiceType HttpPollerService::type()
{
    using K = ConfigKey::Kind;
    return ServiceType{
        u"http-poller"_s,
        u"polls URLs at an interval with a given concurrency; one JSON line per result"_s,
        {
            {u"url"_s, K::StringOrList, u"the URL to poll, or a list of URLs (polled in turn)"_s, true, {},
             [](const QJsonValue &v) { return readUrls(v, nullptr); }},
            {u"concurrency"_s, K::Integer, u"polls in flight at once (default 1)"_s, false, {}, checkConcurrency},
            {u"interval"_s, K::Duration, u"pause between the end of one poll and the next start (default 1s; 0s: back to back)"_s, false, {}},
            {u"method"_s, K::String, u"HTTP method (default GET)"_s, false, {}, checkMethod},
            {u"headers"_s, K::Object, u"request headers, name -> value (never logged)"_s, false, {}, checkHeaders},
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
    // Checked by the config already; again here for a service started without one (tests).
    if (const QString problem = readUrls(cfg.value(u"url"_s), &m_urls); !problem.isEmpty()) {
        reportFailed(u"config.url: "_s + problem);
        return;
    }
    const int concurrency = cfg.value(u"concurrency"_s).toInt(1);
    if (const QString problem = checkConcurrency(concurrency); !problem.isEmpty()) {
        reportFailed(u"config.concurrency: "_s + problem);
        return;
    }
    const Millis interval = durationValue(cfg, u"interval"_s, Millis(1000));
    m_interval = int(interval.count());
    m_method = cfg.value(u"method"_s).toString(u"GET"_s).toUpper().toLatin1();
    m_body = cfg.value(u"body"_s).toString().toUtf8();
    const QJsonObject headers = cfg.value(u"headers"_s).toObject();
    if (const QString problem = checkHeaders(headers); !problem.isEmpty()) {
        reportFailed(u"config.headers: "_s + problem);
        return;
    }
    // One request per URL, made once: a request sent again is shared, not built and copied per poll.
    for (const QUrl &url : std::as_const(m_urls)) {
        QNetworkRequest request(url);
        for (auto it = headers.constBegin(); it != headers.constEnd(); ++it)
            request.setRawHeader(it.key().toLatin1(), it.value().toString().toUtf8());
        if (!m_body.isEmpty() && !request.hasRawHeader("Content-Type"))
            request.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("application/octet-stream"));
        m_requests.append(request);
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
    const QNetworkRequest &request = m_requests.at(int((w->index + w->polls) % m_requests.size()));
    ++w->polls;
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
    write(pollResultLine(QDateTime::currentMSecsSinceEpoch(), call->redactedUrl(), call->httpStatus(),
                         double(w->started.nsecsElapsed() / 1000) / 1000.0, call->bytesReceived(),
                         call->attempts(),
                         call->error() != QNetworkReply::NoError ? call->errorString() : QString()));
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

static void appendJsonString(QByteArray &out, QStringView text)
{
    static constexpr char hex[] = "0123456789abcdef";
    out += '"';
    const QByteArray utf8 = text.toUtf8();
    for (const char c : utf8) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            switch (c) {
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                out += "\\u00";
                out += hex[u >> 4];
                out += hex[u & 0xf];
            }
        } else {
            out += c;   // UTF-8 passes through: JSON text is UTF-8
        }
    }
    out += '"';
}

QByteArray pollResultLine(qint64 msecsSinceEpoch, QStringView url, int status, double latencyMs,
                          qint64 bytes, int attempts, QStringView error)
{
    // The date and time to the second change once a second: made by QDateTime once per second.
    thread_local qint64 cachedSecond = std::numeric_limits<qint64>::min();
    thread_local QByteArray cachedPrefix;
    const qint64 second = msecsSinceEpoch >= 0 ? msecsSinceEpoch / 1000 : (msecsSinceEpoch - 999) / 1000;
    const int millis = int(msecsSinceEpoch - second * 1000);
    if (second != cachedSecond) {
        cachedSecond = second;
        cachedPrefix = QDateTime::fromSecsSinceEpoch(second, Qt::UTC).toString(u"yyyy-MM-ddTHH:mm:ss"_s).toLatin1();
    }
    QByteArray out;
    out.reserve(96 + url.size() + error.size());
    out += "{\"time\":\"";
    out += cachedPrefix;
    out += '.';
    out += char('0' + millis / 100);
    out += char('0' + millis / 10 % 10);
    out += char('0' + millis % 10);
    out += "Z\",\"url\":";
    appendJsonString(out, url);
    out += ",\"status\":";
    out += QByteArray::number(status);
    out += ",\"latencyMs\":";
    out += QByteArray::number(latencyMs, 'f', 3);
    out += ",\"bytes\":";
    out += QByteArray::number(bytes);
    if (attempts > 1) {
        out += ",\"attempts\":";
        out += QByteArray::number(attempts);
    }
    if (!error.isEmpty()) {
        out += ",\"error\":";
        appendJsonString(out, error);
    }
    out += '}';
    return out;
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
