// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's managers: every request passes a TrackedManager's createRequest (and is
// tracked from there until its reply is deleted), each on a pool with a free connection — a lane
// of one of a few managers (networkhosts.cpp) — and with the settings the session puts on every
// request.
#include "network/networkproxy_p.h"
#include "network/networksession_p.h"
#include "network/persistentcookiejar_p.h"

#include <QtCore/QEvent>
#include <QtCore/QThread>
#if QT_CONFIG(ssl)
#include <QtNetwork/QSslConfiguration>
#include <QtNetwork/QSslError>
#endif
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
#include <QtNetwork/QHttp1Configuration>
#endif

#include <algorithm>

namespace berth {

namespace netdetail {

/// What a request made on a session that no longer accepts work gets: an error, delivered from
/// the event loop (never inside the call that made the request), as Qt's own replies do.
class RefusedReply : public QNetworkReply
{
public:
    RefusedReply(QNetworkAccessManager *manager, QNetworkAccessManager::Operation op,
                 const QNetworkRequest &req, const QString &message)
        : QNetworkReply(manager)
    {
        setRequest(req);
        setUrl(req.url());
        setOperation(op);
        QNetworkReply::open(ReadOnly | Unbuffered);   // before setError: open() clears the error text
        setError(OperationCanceledError, message);
        setFinished(true);
        QMetaObject::invokeMethod(this, [this, manager] {
            Q_EMIT errorOccurred(error());
            Q_EMIT finished();
            Q_EMIT manager->finished(this);
        }, Qt::QueuedConnection);
    }
    void abort() override {}
    qint64 bytesAvailable() const override { return 0; }

protected:
    qint64 readData(char *, qint64) override { return -1; }
};

} // namespace netdetail

QNetworkReply *TrackedManager::createRequest(Operation op, const QNetworkRequest &request,
                                             QIODevice *outgoingData)
{
    auto *d = m_session->d.get();
    const QByteArray verb = verbOf(op, request);
    // A call being dispatched was let through by pump() a moment ago: the early-stop flag may
    // flip in between (another thread sets it), and a call must never get a reply the session
    // does not track. Direct requests are refused as soon as the flag is up.
    if (!d->dispatching && !d->sending()) {
        qCDebug(lcNet).noquote() << d->refusal(verb, request.url());
        return new RefusedReply(this, op, request, d->refusal(verb, request.url()));
    }
    if (d->dispatching) {
        QNetworkReply *reply = QNetworkAccessManager::createRequest(op, request, outgoingData);
        d->onCreated(this, m_index, reply, verb, request);
        return reply;
    }
    // Direct use: the session's stall sweep is the transfer timeout (addManager()), unless the
    // request has one of its own, or uploads: only Qt sees upload progress, so an upload gets
    // the session's timeout on the request, for Qt's timer.
    QNetworkRequest prepared = d->prepare(request);
    const int timeout = int(d->options.transferTimeout.count());
    const bool sessionTimeout = timeout > 0 && prepared.transferTimeout() == 0;
    if (sessionTimeout && outgoingData)
        prepared.setTransferTimeout(timeout);
    const bool swept = sessionTimeout && !outgoingData;
    QNetworkReply *reply = QNetworkAccessManager::createRequest(op, prepared, outgoingData);
    d->onCreated(this, m_index, reply, verb, request, swept);
    return reply;
}

void NetworkSession::Private::onCreated(TrackedManager *m, int managerIndex, QNetworkReply *reply,
                                        const QByteArray &verb, const QNetworkRequest &request, bool swept)
{
    ReplyRec rec;
    rec.manager = quint16(managerIndex);
    rec.lane = quint16(dispatching ? dispatchingLane : 0);
    rec.hostId = dispatching ? dispatching->d->hostId : hostIdOf(request.url(), request.peerVerifyName());
    HostState &h = host(rec.hostId);
    if (h.firstAt < 0)
        h.firstAt = clock.elapsed();
    Lane &onLane = m->laneOf(rec.hostId, rec.lane);
    if (h.proto != Proto::Http1) {
        // Under HTTP/2 Qt may hold a request until a stream is free: the session sees when it
        // is written. (Before the first handshake the protocol is not known yet.)
        rec.unsent = true;
        ++onLane.unsent;
        QObject::connect(reply, &QNetworkReply::requestSent, q, &NetworkSession::onRequestSent);
        if (dispatching && h.proto == Proto::Http2 && h.h2Limit == 0 && onLane.load >= h.h2Seen && !onLane.probe) {
            onLane.probe = reply;
            onLane.probeSawFinish = false;
        }
    }
    if (dispatching) {
        rec.call = dispatching;
        rec.ledgerId = dispatching->d->ledgerId;
    } else {
        rec.direct = true;
        rec.file = directFile;
        rec.line = directLine;
        if (onLane.load >= heldBackBeyond(rec.hostId)) {
            rec.overflow = true;
            m->overflow[rec.hostId].append(reply);
        }
        // The entry is pending only while the reply exists (childEvent ends it on deletion).
        rec.ledgerId = ledger->add(service, KindReply,
                                   nameOf(verb, reply->url()),
                                   [reply] { reply->abort(); }, rec.file, rec.line);
        if (swept) {
            // One connection instead of Qt's timer, which Qt starts through a queued call and
            // restarts on every read, and which made aborting 10 000 held replies quadratic
            // (Qt's timer list; docs/benchmarks.md, session 15).
            rec.swept = true;
            rec.progressAt = clock.elapsed();
            QObject::connect(reply, &QNetworkReply::downloadProgress, q, [this, reply] { onDirectProgress(reply); });
            if (!stallTimer->isActive())
                stallTimer->start();
        }
    }
    ++onLane.load;
    ++m->outstanding;
    ++host(rec.hostId).inFlight;   // not h: nameOf() above may have added a host (hosts grew)
    ++inFlight;
    replies.insert(reply, rec);
}

void TrackedManager::childEvent(QChildEvent *event)
{
    if (event->removed() && !m_session->d->closing)
        m_session->onReplyGone(event->child());
    QNetworkAccessManager::childEvent(event);
}

void NetworkSession::Private::releaseSlot(ReplyRec &rec, QObject *reply, bool answered)
{
    if (rec.finished)
        return;
    rec.finished = true;
    --inFlight;
    --host(rec.hostId).inFlight;
    if (rec.manager >= int(managers.size()) || !managers[rec.manager])
        return;
    TrackedManager *m = managers[rec.manager];
    --m->outstanding;
    Lane &lane = m->laneOf(rec.hostId, rec.lane);
    --lane.load;
    if (answered)
        lane.settled = true;
    if (lane.probe == reply)
        lane.probe = nullptr;             // ended before it went out
    else if (lane.probe && !rec.unsent)
        lane.probeSawFinish = true;       // a stream came free while the probe waited
    if (rec.unsent) {
        rec.unsent = false;
        --lane.unsent;
    } else {
        ++lane.ended;
        lane.lastEndedAt = clock.elapsed();
    }
    auto over = m->overflow.find(rec.hostId);
    if (over == m->overflow.end() || over->isEmpty())
        return;
    if (rec.overflow) {
        over->removeOne(reply);
        rec.overflow = false;
    } else {
        // A slot came free: Qt sends the oldest request it held back.
        QObject *next = over->takeFirst();
        auto it = replies.find(next);
        if (it != replies.end())
            it->overflow = false;
    }
}

void NetworkSession::onRequestSent()
{
    d->onRequestSent(sender());
}

void NetworkSession::Private::onRequestSent(QObject *reply)
{
    const auto it = replies.find(reply);
    if (it == replies.end() || !it->unsent || it->finished)
        return;   // written again (a resend), or over already
    it->unsent = false;
    Lane *pool = poolOf(*it);
    if (!pool)
        return;
    HostState &h = host(it->hostId);
    Lane &lane = *pool;
    --lane.unsent;
    if (lane.firstSentAt < 0) {
        lane.firstSentAt = clock.elapsed();
        if (h.proto != Proto::Http1 && h.h2Limit == 0)
            QTimer::singleShot(h.settleMs + 1, q, [this] { pump(); });   // probes may start then
    }
    const bool probe = lane.probe == reply;
    if (probe)
        lane.probe = nullptr;
    if (h.proto != Proto::Http2)
        return;
    // Every stream written and not yet finished is open at the server now (the finish of a
    // stream reaches this thread before a request Qt wrote after it): the server takes them all.
    int &seen = h.h2Seen;
    seen = std::max(seen, std::min(lane.load - lane.unsent, Http2StreamsPerLane));
    if (!probe)
        return;
    if (lane.probeSawFinish && h.h2Limit == 0) {
        // The probe went out only once a stream came free: the server's limit. (Or Qt was
        // slow to write it while a stream finished: then the limit is lower than the server's,
        // which costs connections, never a request that waits.)
        h.h2Limit = seen;
        qCDebug(lcNet).noquote() << u"%1: %2 takes %3 HTTP/2 stream(s) at once per connection"_s.arg(
            service, q->redact(static_cast<QNetworkReply *>(reply)->url().adjusted(QUrl::RemovePath | QUrl::RemoveQuery)), QString::number(seen));
    }
    pump();
}

void NetworkSession::Private::onEncrypted(QNetworkReply *reply)
{
#if QT_CONFIG(ssl)
    const auto it = replies.constFind(reply);
    if (it == replies.constEnd() || host(it->hostId).proto != Proto::Unknown)
        return;
    const int hostId = it->hostId;
    HostState &h = host(hostId);
    const bool h2 = reply->sslConfiguration().nextNegotiatedProtocol() == QSslConfiguration::ALPNProtocolHTTP2;
    h.proto = h2 ? Proto::Http2 : Proto::Http1;
    // The handshake took the TCP and TLS round trips (and the server's work): the server's
    // SETTINGS reach a new connection about one round trip after Qt's first write on it.
    h.settleMs = int(std::clamp<qint64>(clock.elapsed() - h.firstAt, SettleMs, MaxSettleMs));
    // send() spreads the calls waiting for this host for its protocol now.
    QMetaObject::invokeMethod(q, [this] { pump(); }, Qt::QueuedConnection);
    if (!h2)
        return;
    // Direct requests beyond HTTP/1.1's connections were counted as held back; as streams they
    // are on their way now (or queued in Qt's HTTP/2 handler, which is left alone: see
    // Proto), and drain like any request sent.
    for (TrackedManager *m : managers) {
        if (!m)
            continue;
        const auto over = m->overflow.find(hostId);
        if (over == m->overflow.end())
            continue;
        for (QObject *held : std::as_const(*over)) {
            auto next = replies.find(held);
            if (next != replies.end())
                next->overflow = false;
        }
        m->overflow.erase(over);
    }
#else
    Q_UNUSED(reply);
#endif
}

TrackedManager *NetworkSession::Private::addManager(bool forDirect)
{
    auto *m = new TrackedManager(q, int(managers.size()), forDirect);
    const auto policy = options.redirects == NetworkOptions::Redirects::None
        ? QNetworkRequest::ManualRedirectPolicy
        : options.redirects == NetworkOptions::Redirects::SameOrigin ? QNetworkRequest::SameOriginRedirectPolicy
                                                                     : QNetworkRequest::NoLessSafeRedirectPolicy;
    m->setRedirectPolicy(forDirect ? policy : QNetworkRequest::ManualRedirectPolicy);
    // No manager has Qt's transfer timer per reply (a QTimer started by a queued call for every
    // reply, restarted as the transfer moves): the session's stall sweep watches send()'s
    // replies by what they buffered, and direct ones, which their owner reads as they come, by
    // Qt's downloadProgress (sweepStalls). Uploads put the timeout on the request (only Qt sees
    // upload progress): createRequest() and dispatch().
    if (jar) {
        m->setCookieJar(jar);
        jar->setParent(q);    // shared by all managers; owned by the session
    }
    if (cache) {
        m->setCache(cache);
        cache->setParent(q);
    }
    // Without a proxy the managers skip Qt's lookup of one (which reads the environment for
    // every request); with one, the session's plan answers (Qt owns the factory).
    if (!proxyPlan || proxyPlan->direct())
        m->setProxy(QNetworkProxy(QNetworkProxy::NoProxy));
    else
        m->setProxyFactory(makeProxyFactory(proxyPlan));
    QObject::connect(m, &QNetworkAccessManager::finished, q, &NetworkSession::onReplyFinished);
#if QT_CONFIG(ssl)
    QObject::connect(m, &QNetworkAccessManager::encrypted, q, [this](QNetworkReply *reply) { onEncrypted(reply); });
    // Verification cannot be turned off, not even by a handler that calls ignoreSslErrors():
    // this connection is made before any reply exists, so it runs first and ends the reply.
    QObject::connect(m, &QNetworkAccessManager::sslErrors, q,
                     [this](QNetworkReply *reply, const QList<QSslError> &errors) {
        QStringList texts;
        for (const QSslError &e : errors)
            texts.append(e.errorString());
        const QString text = texts.join(u"; "_s);
        qCWarning(lcNet).noquote() << u"%1: TLS verification failed for %2 %3: %4 (verification cannot be "
                                      u"turned off; to trust a private CA, set network.caBundle)"_s
                                          .arg(service, QString::fromLatin1(verbOf(reply->operation(), reply->request())),
                                               q->redact(reply->url()), text);
        tlsFailures.insert(reply, text);
        reply->abort();
    });
#endif
    managers.push_back(m);
    return m;
}
void NetworkSession::Private::setLimits(int concurrent, int connectionsPerHost)
{
    static const int cores = std::max(1, QThread::idealThreadCount());
    maxConcurrent = concurrent;
    perHostLimit = connectionsPerHost;
    perManagerLimit = std::min(QtMaxConnectionsPerManager, perHostLimit);
    sendPoolSize = std::min(perManagerLimit, std::max(std::min(3, perHostLimit), (perHostLimit + cores - 1) / cores));
    lastCall.clear();   // prepare() sets the connections per pool (Qt >= 6.5)
}
QNetworkRequest NetworkSession::Private::prepare(QNetworkRequest r) const
{
    // Only what differs from Qt's defaults: setting anything detaches the request (~2 KB for
    // the first attribute), on every request.
    if (options.maxRedirects != DefaultMaxRedirects
        && r.maximumRedirectsAllowed() == DefaultMaxRedirects)
        r.setMaximumRedirectsAllowed(options.maxRedirects);   // unless the caller chose
    if (!options.http2)
        r.setAttribute(QNetworkRequest::Http2AllowedAttribute, false);
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
    QHttp1Configuration h1;
    h1.setNumberOfConnectionsPerHost(perManagerLimit);
    r.setHttp1Configuration(h1);
#endif
#if QT_CONFIG(ssl)
    if (r.url().scheme() == u"https"_s) {
        // Verification is always on; a configured CA bundle only adds trust.
        QSslConfiguration conf = r.sslConfiguration();
        conf.setPeerVerifyMode(QSslSocket::VerifyPeer);
        if (!extraCas.isEmpty())
            conf.addCaCertificates(extraCas);
        r.setSslConfiguration(conf);
    }
#endif
    return r;
}

} // namespace berth
