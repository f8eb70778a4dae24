// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Private to the network session's files (networksession.cpp: the lifecycle and the public API;
// networkmanagers.cpp: the managers and reply tracking; networkhosts.cpp: host ids (HostState,
// networklane_p.h), lanes and the pick of a pool; networkcall.cpp: send(), the queue
// (callqueue_p.h) and limits; networkattempt.cpp: an attempt's end, retries; networkredirect.cpp:
// redirects; networkcall_p.h: a call's state; networktimeouts.cpp: the stall sweep and call
// deadlines; networkutil.cpp: redaction, Retry-After, backoff, redirect rules;
// networkproxy.cpp: the proxy plan). Not installed.
#pragma once

#include <berth/networksession.h>
#include <berth/workledger.h>

#include "network/callqueue_p.h"
#include "network/networkcall_p.h"
#include "network/lastone_p.h"
#include "network/networklane_p.h"
#include "network/networksessioncontrol_p.h"
#include "network/networkutil_p.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QLoggingCategory>
#include <QtCore/QPointer>
#include <QtCore/QTimer>
#include <QtNetwork/QNetworkDiskCache>
#if QT_CONFIG(ssl)
#include <QtNetwork/QSslCertificate>
#endif

#include <algorithm>
#include <deque>
#include <limits>
#include <queue>
#include <memory>
#include <tuple>
#include <vector>

Q_DECLARE_LOGGING_CATEGORY(lcNet)

namespace berth {

using namespace Qt::StringLiterals;

namespace netdetail {
// Qt 6.4 gives each manager 6 HTTP/1.1 connections per host and queues the rest invisibly.
// From 6.5 a request may ask for up to 255.
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
constexpr int QtMaxConnectionsPerManager = 255;
#else
constexpr int QtMaxConnectionsPerManager = 6;
#endif

inline const QString KindReply = u"reply"_s;
inline const int DefaultMaxRedirects = QNetworkRequest().maximumRedirectsAllowed();
inline const QString KindQueued = u"request (queued)"_s;
inline const QString KindRetryWait = u"retry wait"_s;

inline QByteArray verbOf(QNetworkAccessManager::Operation op, const QNetworkRequest &req)
{
    switch (op) {
    case QNetworkAccessManager::HeadOperation: return QByteArrayLiteral("HEAD");
    case QNetworkAccessManager::GetOperation: return QByteArrayLiteral("GET");
    case QNetworkAccessManager::PutOperation: return QByteArrayLiteral("PUT");
    case QNetworkAccessManager::PostOperation: return QByteArrayLiteral("POST");
    case QNetworkAccessManager::DeleteOperation: return QByteArrayLiteral("DELETE");
    case QNetworkAccessManager::CustomOperation:
        return req.attribute(QNetworkRequest::CustomVerbAttribute).toByteArray();
    case QNetworkAccessManager::UnknownOperation: break;
    }
    return QByteArrayLiteral("?");
}

/// Where Qt keeps a pool of connections: scheme, host and port, and the peer verify name when
/// the caller set one (Qt keys its pools by it too).
inline QString hostKeyOf(const QUrl &url, const QString &peerVerifyName)
{
    const QString scheme = url.scheme();
    const int port = url.port(scheme == u"https"_s ? 443 : 80);
    QString key = scheme + u"://"_s + url.host() + u':' + QString::number(port);
    if (!peerVerifyName.isEmpty())
        key += u'|' + peerVerifyName;
    return key;
}

inline bool isTransient(QNetworkReply::NetworkError e)
{
    switch (e) {
    case QNetworkReply::ConnectionRefusedError:
    case QNetworkReply::RemoteHostClosedError:
    case QNetworkReply::TimeoutError:
    case QNetworkReply::TemporaryNetworkFailureError:
    case QNetworkReply::NetworkSessionFailedError:
    case QNetworkReply::UnknownNetworkError:
    case QNetworkReply::ProxyConnectionRefusedError:
    case QNetworkReply::ProxyConnectionClosedError:
    case QNetworkReply::ProxyTimeoutError:
    // Qt 6.4's answer for an HTTP/2 stream the server refused with GOAWAY (above its last
    // stream id, RFC 9113, 6.8), and the session's for REFUSED_STREAM and a request taken back.
    case QNetworkReply::ContentReSendError:
        return true;
    default:
        return false;
    }
}

/// Qt 6.4's error text (not translated) for a stream the server reset with REFUSED_STREAM,
/// which it reports as a ProtocolFailure (qt_error() in http2protocol.cpp).
constexpr char QtRefusedStream[] = "Server refused a stream";


class PersistentCookieJar;
class ProxyPlan;

} // namespace netdetail

using namespace netdetail;

// ---------------------------------------------------------------------------------------------
// The manager subclass: createRequest is where every request of the session passes.

class TrackedManager : public QNetworkAccessManager
{
public:
    TrackedManager(NetworkSession *session, int index, bool forDirect)
        : QNetworkAccessManager(session), forDirect(forDirect), m_session(session), m_index(index) {}

    /// Per host and lane: by host id (dense, from hostIdOf()), the lanes used so far.
    std::vector<std::vector<Lane>> lanes;
    QHash<int, QList<QObject *>> overflow; ///< direct replies Qt holds back (no free slot)
    int outstanding = 0;
    /// The manager of manager() (Qt follows redirects); send()'s managers follow none
    /// (the session does, hop by hop, for lanes and for its limits).
    const bool forDirect;

    Lane &laneOf(int hostId, int lane)
    {
        if (lanes.size() <= size_t(hostId))
            lanes.resize(size_t(hostId) + 1);
        std::vector<Lane> &of = lanes[size_t(hostId)];
        if (int(of.size()) <= lane)
            of.resize(size_t(lane) + 1);
        return of[size_t(lane)];
    }

protected:
    QNetworkReply *createRequest(Operation op, const QNetworkRequest &request,
                                 QIODevice *outgoingData) override;
    /// A reply leaves its manager when it is deleted: seen here without a connection per reply.
    void childEvent(QChildEvent *event) override;

private:
    NetworkSession *m_session;
    int m_index;
};

struct ReplyRec
{
    NetworkCall *call = nullptr;   ///< set for replies of send(); they own no ledger entry
    quint64 ledgerId = 0;          ///< direct replies: their own entry
    const char *file = nullptr;
    uint line = 0;
    int hostId = 0;
    /// Direct replies the stall sweep watches: session clock (ms) of their last progress (made,
    /// head, body bytes), as Qt restarts its transfer timer.
    qint64 progressAt = 0;
    // Small: one record per reply in flight (48 bytes with the fields above).
    quint16 manager = 0;           ///< managers and lanes: at most connectionsPerHost / 6 each
    quint16 lane = 0;
    bool direct : 1 = false;
    bool overflow : 1 = false;     ///< held back inside Qt's queue (direct use beyond the slots)
    bool finished : 1 = false;
    bool unsent : 1 = false;       ///< HTTP/2 (or not known yet): not written by Qt so far
    /// Direct: the sweep is its transfer timeout (no timer of Qt's: see addManager()).
    bool swept : 1 = false;
    quint16 status = 0;            ///< direct and swept: the HTTP status seen at the last sweep
};
static_assert(sizeof(ReplyRec) <= 48, "ReplyRec is kept small: one per reply in flight");

struct NetworkSession::Private
{
    NetworkSession *q = nullptr;
    QString service;
    WorkLedger *ledger = nullptr;
    NetworkOptions options;
    State state = State::Open;
    int maxConcurrent = NetworkOptions::DefaultMaxConcurrent;
    int perHostLimit = NetworkOptions::DefaultConnectionsPerHost;
    int perManagerLimit = QtMaxConnectionsPerManager;   ///< Qt's connections per pool (host, port, peer name)
    /// send()'s HTTP/1.1 connections per pool: a host's connections spread over one manager
    /// (HTTP thread) per core, in pools of at least 3, at most Qt's. One HTTP thread parses
    /// every byte of its connections; with a host's 6 connections on one it is the busiest
    /// thread of the process (97 % of a core in bench_network's throughput rows).
    int sendPoolSize = QtMaxConnectionsPerManager;
    void setLimits(int concurrent, int connectionsPerHost);
    QStringList redactKeys;
    std::vector<TrackedManager *> managers;   ///< send()'s and manager()'s, by index
    TrackedManager *directManager = nullptr;   ///< made on the first manager() call
    /// close(Teardown::AtProcessExit): idle managers kept for the process exit, or deleted
    /// with the session.
    std::vector<TrackedManager *> keptForExit;
    /// Keyed by QObject: a reply is looked up from its destroyed() signal too, when it is no
    /// longer a QNetworkReply.
    QHash<QObject *, ReplyRec> replies;
    QHash<QString, int> hostIds;
    std::vector<HostState> hosts;         ///< by host id (hostIdOf()): what send() knows of each host
    HostState &host(int hostId) { return hosts[size_t(hostId)]; }
    const HostState &host(int hostId) const { return hosts[size_t(hostId)]; }
    int inFlight = 0;
    CallQueue queue;                      ///< calls waiting for a connection (callqueue_p.h)
    QList<NetworkCall *> waiting;         ///< calls between attempts
    bool closing = false;                 ///< close() moves replies away from the managers
    NetworkCall *dispatching = nullptr;   ///< set while send() hands a request to a manager
    int dispatchingLane = 0;
    /// By lane: the last request sent on it, with the lane's peer verify name.
    std::vector<LastOne<QNetworkRequest, QNetworkRequest>> lanedRequests;
    const char *directFile = nullptr;     ///< where manager() was last asked for
    uint directLine = 0;
    bool pumping = false;
    // Token bucket.
    double tokens = 0;
    qint64 lastRefill = 0;
    QElapsedTimer clock;
    QTimer *rateTimer = nullptr;
    QTimer *stallTimer = nullptr;         ///< the transfer timeout and size cap of send()'s replies (sweepStalls)
    int stallInterval = 1000;             ///< the sweep's tick for the transfer timeout alone
    /// The sweep's tick while a capped call is in flight: what a body may overshoot its cap by
    /// before the call ends is what arrives in this time.
    static constexpr int CapSweepMs = 100;
    /// Calls with a deadline: (when, ledger id) soonest first, and the calls still running by
    /// ledger id (an id is never reused, an address may be). One timer, for the soonest.
    std::priority_queue<std::pair<qint64, quint64>, std::vector<std::pair<qint64, quint64>>, std::greater<>> deadlines;
    QHash<quint64, NetworkCall *> deadlined;
    QTimer *deadlineTimer = nullptr;
    PersistentCookieJar *jar = nullptr;
    QNetworkDiskCache *cache = nullptr;
    std::shared_ptr<const ProxyPlan> proxyPlan;   ///< decided when the session opens (networkproxy.cpp)
#if QT_CONFIG(ssl)
    QList<QSslCertificate> extraCas;
#endif
    QObject *graveyard = nullptr;         ///< replies never deleted, kept valid after close
    QHash<QObject *, QString> tlsFailures; ///< replies aborted because verification failed
    /// "GET <redacted URL>" and the host id by method and URL: a worker asks for the same URLs
    /// again and again, and a shared name costs its ledger entry nothing (and saves parsing the
    /// query and building the host key each time).
    struct Named
    {
        QString name;
        int hostId = -1;
    };
    QHash<std::pair<QByteArray, QUrl>, Named> names;

    Named named(const QByteArray &verb, const QUrl &url)
    {
        return lastNamed.get(std::tie(verb, url), [&] { return namedInCache(verb, url); });
    }
    LastOne<std::tuple<QByteArray, QUrl>, Named> lastNamed;
    Named namedInCache(const QByteArray &verb, const QUrl &url);
    QString nameOf(const QByteArray &verb, const QUrl &url) { return named(verb, url).name; }
    const std::atomic<int> *earlyStop = nullptr;

    /// Takes new requests to the network: open, and no stop noted on any thread yet.
    bool sending() const
    {
        return state == State::Open && !(earlyStop && earlyStop->load(std::memory_order_acquire) > 0);
    }

    int hostIdOf(const QUrl &url, const QString &peerVerifyName)
    {
        return lastHost.get(std::tie(url, peerVerifyName), [&] { return hostIdByKey(url, peerVerifyName); });
    }
    LastOne<std::tuple<QUrl, QString>, int> lastHost;
    int hostIdByKey(const QUrl &url, const QString &peerVerifyName);
    /// Requests send() puts on one pool (manager, lane) of \a hostId: its connections under
    /// HTTP/1.1, streams of its connection under HTTP/2.
    int laneCapacity(int hostId) const
    {
        const HostState &h = host(hostId);
        if (h.proto != Proto::Http2)   // unknown: one pool of Qt's (the handshake tells)
            return h.proto == Proto::Http1 ? sendPoolSize : perManagerLimit;
        const int limit = h.h2Limit;
        return limit > 0 ? std::min(limit, Http2StreamsPerLane) : Http2StreamsPerLane;
    }
    /// Whether send() may hand one more request of \a hostId to this pool. Under HTTP/2 Qt
    /// writes a request at once only while the connection has a stream free, and the server
    /// says how many it takes in a frame Qt keeps to itself. So the session hands Qt requests
    /// up to the streams a connection to the host has been seen to carry, and then one at a
    /// time (the probe) until one has to wait for a stream: from then on the host's limit is
    /// known and nothing waits inside Qt.
    bool laneHasRoom(TrackedManager *m, int hostId, int lane)
    {
        const Lane &l = m->laneOf(hostId, lane);
        if (l.load >= laneCapacity(hostId) || (l.heldUntil > 0 && isHeld(l)))
            return false;
        const HostState &h = host(hostId);
        if (h.proto != Proto::Http2 || h.h2Limit > 0)
            return true;
        return l.load < h.h2Seen
            || (!l.probe && (l.settled || (l.firstSentAt >= 0 && clock.elapsed() - l.firstSentAt >= h.settleMs)));
    }
    /// In the sweep's quarantine (Lane::heldUntil); the quarantine ends at its time.
    bool isHeld(const Lane &l) const { return clock.elapsed() < l.heldUntil; }
    void onRequestSent(QObject *reply);
    /// The pool a reply went to, or null once its manager is gone (close).
    Lane *poolOf(const ReplyRec &rec)
    {
        if (rec.manager >= managers.size() || !managers[rec.manager])
            return nullptr;
        return &managers[rec.manager]->laneOf(rec.hostId, rec.lane);
    }
    /// How long an HTTP/2 pool must have had nothing in flight but requests Qt holds unsent
    /// before the sweep takes them back: a second, or four times the host's first handshake if
    /// longer. (A request Qt writes as a stream frees tells so a moment after that stream's end.)
    static constexpr int HeldGraceMs = 1000;
    /// How long a pool the sweep took a request back from gets nothing, in graces.
    static constexpr int HeldQuarantineGraces = 3;
    int heldGraceMs(int hostId) const { return std::max(HeldGraceMs, 4 * host(hostId).settleMs); }
    /// Direct requests to \a hostId on one manager beyond which Qt holds them back (the
    /// session cancels those unsent when the host stops): none it will cancel under HTTP/2.
    int heldBackBeyond(int hostId) const
    {
        return host(hostId).proto == Proto::Http2 ? std::numeric_limits<int>::max() : perManagerLimit;
    }
    /// Pools one host needs: one while its protocol is unknown (the first handshake tells).
    int poolsNeeded(int hostId) const
    {
        if (host(hostId).proto == Proto::Unknown)
            return 1;
        const int capacity = laneCapacity(hostId);
        return std::max(1, (perHostLimit + capacity - 1) / capacity);
    }
    TrackedManager *addManager(bool forDirect);
    /// A pool with a free connection for \a hostId: (manager, lane), or null.
    std::pair<TrackedManager *, int> pickSlot(int hostId);
    /// The latest Lane::heldUntil of any pool (0: none in quarantine): pickSlot() looks at
    /// quarantines only while one lasts.
    qint64 heldUntilMax = 0;
    /// Every one of the first \a lanes lanes of \a m for \a hostId is in quarantine.
    bool allHeld(TrackedManager *m, int hostId, int lanes)
    {
        if (heldUntilMax == 0)
            return false;
        if (clock.elapsed() >= heldUntilMax) {
            heldUntilMax = 0;
            return false;
        }
        for (int lane = 0; lane < lanes; ++lane) {
            if (!isHeld(m->laneOf(hostId, lane)))
                return false;
        }
        return true;
    }
    /// What the session sets on every request (only what differs from Qt's defaults).
    QNetworkRequest prepare(QNetworkRequest r) const;
    /// send()'s request as the session sends it: prepared, and Qt told to follow no redirect
    /// (Qt would otherwise set that on a copy of every request); with the caller's own
    /// redirect policy, if any (-1: none). Kept for the next call with the same request.
    struct CallRequest
    {
        QNetworkRequest out;
        int policy = -1;
    };
    LastOne<QNetworkRequest, CallRequest> lastCall;
    const CallRequest &callRequest(const QNetworkRequest &request);
    QString refusal(const QByteArray &verb, const QUrl &url) const
    {
        return u"refused %1 %2: the host is stopping (the network session of service \"%3\" is %4 and takes no new requests)"_s
            .arg(QString::fromLatin1(verb), q->redact(url), service, stateName(state == State::Open ? State::Draining : state));
    }

    void onCreated(TrackedManager *m, int managerIndex, QNetworkReply *reply, const QByteArray &verb,
                   const QNetworkRequest &request, bool swept = false);
    /// A direct reply the sweep watches has moved (Qt's downloadProgress, at most every 100 ms).
    void onDirectProgress(QObject *reply);
    void pump();
    void sweepStalls();
    void watchDeadline(NetworkCall *call, std::chrono::milliseconds budget);
    void armDeadlines();
    void expireDeadlines();
    void expire(NetworkCall *call);
    bool refill();
    void dispatch(NetworkCall *call, TrackedManager *m, int lane);
    /// A 3xx answer of a call: follows it (true) or leaves the answer as the call's result.
    bool followRedirect(NetworkCall *call, QNetworkReply *reply);
    void attemptFinished(NetworkCall *call, QNetworkReply *reply, bool aborted);
    void finishCall(NetworkCall *call);
    void cancelQueued(NetworkCall *call, const QString &why);
    void releaseSlot(ReplyRec &rec, QObject *reply, bool answered = false);
    /// A new TLS connection: the first one to a host tells its protocol (ALPN).
    void onEncrypted(QNetworkReply *reply);
    void setState(State s)
    {
        if (state == s)
            return;
        state = s;
        Q_EMIT q->stateChanged(s);
    }
};

} // namespace berth
