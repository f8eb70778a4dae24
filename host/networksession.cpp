// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession: every QNetworkReply of a service is a ledger entry, whether it came from send()
// or from the manager directly. The session keeps its own queue in front of Qt's so that nothing
// waits invisibly inside a QNetworkAccessManager: once the host stops, what has not reached the
// network never does.
#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QHash>
#include <QtCore/QLocale>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMetaEnum>
#include <QtCore/QEvent>
#include <QtCore/QRandomGenerator>
#include <QtCore/QSaveFile>
#include <QtCore/QTimeZone>
#include <QtCore/QTimer>
#include <QtCore/QUrlQuery>
#include <QtNetwork/QNetworkCookie>
#include <QtNetwork/QNetworkCookieJar>
#include <QtNetwork/QNetworkDiskCache>
#if QT_CONFIG(ssl)
#include <QtNetwork/QSslCertificate>
#include <QtNetwork/QSslConfiguration>
#include <QtNetwork/QSslError>
#endif
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
#include <QtNetwork/QHttp1Configuration>
#endif

#include <algorithm>
#include <cmath>
#include <deque>

Q_LOGGING_CATEGORY(lcNet, "berth.network")

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

namespace berth {

namespace {

// Qt 6.4 gives each manager 6 HTTP/1.1 connections per host and queues the rest invisibly.
// From 6.5 a request may ask for up to 255.
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
constexpr int QtMaxConnectionsPerManager = 255;
#else
constexpr int QtMaxConnectionsPerManager = 6;
#endif

const QString KindReply = u"reply"_s;
const int DefaultMaxRedirects = QNetworkRequest().maximumRedirectsAllowed();
const QString KindQueued = u"request (queued)"_s;
const QString KindRetryWait = u"retry wait"_s;

QByteArray verbOf(QNetworkAccessManager::Operation op, const QNetworkRequest &req)
{
    switch (op) {
    case QNetworkAccessManager::HeadOperation: return "HEAD";
    case QNetworkAccessManager::GetOperation: return "GET";
    case QNetworkAccessManager::PutOperation: return "PUT";
    case QNetworkAccessManager::PostOperation: return "POST";
    case QNetworkAccessManager::DeleteOperation: return "DELETE";
    case QNetworkAccessManager::CustomOperation:
        return req.attribute(QNetworkRequest::CustomVerbAttribute).toByteArray();
    case QNetworkAccessManager::UnknownOperation: break;
    }
    return "?";
}

QString hostKeyOf(const QUrl &url)
{
    const QString scheme = url.scheme();
    const int port = url.port(scheme == u"https"_s ? 443 : 80);
    return scheme + u"://"_s + url.host() + u':' + QString::number(port);
}

bool isTransient(QNetworkReply::NetworkError e)
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
        return true;
    default:
        return false;
    }
}

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

/// A cookie jar that can live in a file (Set-Cookie lines, owner-only), flushed in close. A
/// background agent's "session" outlives the process: cookies without an expiry are kept too.
class PersistentCookieJar : public QNetworkCookieJar
{
public:
    using QNetworkCookieJar::QNetworkCookieJar;
    QString load(const QString &path)
    {
        QFile f(path);
        if (!f.exists())
            return {};
        if (!f.open(QIODevice::ReadOnly))
            return u"cannot read cookie jar %1: %2"_s.arg(path, f.errorString());
        QList<QNetworkCookie> cookies;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        while (!f.atEnd()) {
            const QByteArray line = f.readLine().trimmed();
            if (line.isEmpty())
                continue;
            for (const QNetworkCookie &c : QNetworkCookie::parseCookies(line)) {
                if (c.isSessionCookie() || c.expirationDate() > now)
                    cookies.append(c);
            }
        }
        setAllCookies(cookies);
        return {};
    }
    QString save(const QString &path) const
    {
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly))
            return u"cannot write cookie jar %1: %2"_s.arg(path, f.errorString());
        f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const QNetworkCookie &c : allCookies()) {
            if (c.isSessionCookie() || c.expirationDate() > now)
                f.write(c.toRawForm(QNetworkCookie::Full) + '\n');
        }
        if (!f.commit())
            return u"cannot write cookie jar %1: %2"_s.arg(path, f.errorString());
        return {};
    }
};

} // namespace

// ---------------------------------------------------------------------------------------------
// The manager subclass: createRequest is where every request of the session passes.

class TrackedManager : public QNetworkAccessManager
{
public:
    TrackedManager(NetworkSession *session, int index)
        : QNetworkAccessManager(session), m_session(session), m_index(index) {}

    QHash<int, int> perHost;          ///< host id -> replies outstanding on this manager
    QHash<int, QList<QObject *>> overflow; ///< direct replies Qt holds back (no free slot)
    int outstanding = 0;

protected:
    QNetworkReply *createRequest(Operation op, const QNetworkRequest &request,
                                 QIODevice *outgoingData) override;
    /// A reply leaves its manager when it is deleted: seen here without a connection per reply.
    void childEvent(QChildEvent *event) override;

private:
    NetworkSession *m_session;
    int m_index;
};

struct NetworkCall::Private
{
    NetworkSession *session = nullptr;
    QNetworkRequest request;
    QByteArray verb;
    QByteArray body;
    QString where;              ///< "GET <redacted URL>", made once: ledger names, error texts
    CallOptions options;
    const char *file = nullptr;
    uint line = 0;
    quint64 ledgerId = 0;
    int hostId = -1;
    int attempts = 0;
    int maxAttempts = 1;
    bool finished = false;
    bool sent = false;
    bool cancelled = false;     ///< abort() or the shutdown ended it
    bool byHost = false;        ///< the host's cancel phase (through the ledger) ended it
    bool waiting = false;       ///< between attempts
    bool queued = false;
    QNetworkReply *reply = nullptr;
    QTimer *retryTimer = nullptr;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    int status = 0;
    QByteArray responseBody;
    QList<QNetworkReply::RawHeaderPair> headers;
    qint64 bytes = 0;
};

struct ReplyRec
{
    NetworkCall *call = nullptr;   ///< set for replies of send(); they own no ledger entry
    quint64 ledgerId = 0;          ///< direct replies: their own entry
    const char *file = nullptr;
    uint line = 0;
    int manager = 0;
    int hostId = 0;
    bool direct = false;
    bool overflow = false;         ///< held back inside Qt's queue (direct use beyond the slots)
    bool finished = false;
};

struct NetworkSession::Private
{
    NetworkSession *q = nullptr;
    QString service;
    WorkLedger *ledger = nullptr;
    NetworkOptions options;
    State state = State::Open;
    int maxConcurrent = NetworkOptions::DefaultMaxConcurrent;
    int perHostLimit = NetworkOptions::DefaultConnectionsPerHost;
    int perManagerLimit = QtMaxConnectionsPerManager;
    QStringList redactKeys;
    std::vector<TrackedManager *> managers;
    /// Keyed by QObject: a reply is looked up from its destroyed() signal too, when it is no
    /// longer a QNetworkReply.
    QHash<QObject *, ReplyRec> replies;
    QHash<QString, int> hostIds;
    QHash<int, int> hostInFlight;
    int inFlight = 0;
    std::deque<NetworkCall *> queue;
    QList<NetworkCall *> waiting;         ///< calls between attempts
    bool closing = false;                 ///< close() moves replies away from the managers
    NetworkCall *dispatching = nullptr;   ///< set while send() hands a request to a manager
    const char *directFile = nullptr;     ///< where manager() was last asked for
    uint directLine = 0;
    bool pumping = false;
    // Token bucket.
    double tokens = 0;
    qint64 lastRefill = 0;
    QElapsedTimer clock;
    QTimer *rateTimer = nullptr;
    PersistentCookieJar *jar = nullptr;
    QNetworkDiskCache *cache = nullptr;
#if QT_CONFIG(ssl)
    QList<QSslCertificate> extraCas;
#endif
    QObject *graveyard = nullptr;         ///< replies never deleted, kept valid after close
    QHash<QObject *, QString> tlsFailures; ///< replies aborted because verification failed
    /// "GET <redacted URL>" by method and URL: a worker asks for the same URLs again and again,
    /// and a shared name costs its ledger entry nothing (and saves parsing the query each time).
    QHash<std::pair<QByteArray, QUrl>, QString> names;

    QString nameOf(const QByteArray &verb, const QUrl &url)
    {
        auto key = std::make_pair(verb, url);
        if (const auto it = names.constFind(key); it != names.constEnd())
            return *it;
        if (names.size() >= 256)
            names.clear();   // a bounded cache: many distinct URLs simply stop being shared
        const QString name = QString::fromLatin1(verb) + u' ' + q->redact(url);
        names.insert(std::move(key), name);
        return name;
    }
    const std::atomic<int> *earlyStop = nullptr;

    /// Takes new requests to the network: open, and no stop noted on any thread yet.
    bool sending() const
    {
        return state == State::Open && !(earlyStop && earlyStop->load(std::memory_order_acquire) > 0);
    }

    int hostIdOf(const QUrl &url)
    {
        const QString key = hostKeyOf(url);
        auto it = hostIds.constFind(key);
        if (it != hostIds.constEnd())
            return *it;
        const int id = int(hostIds.size());
        hostIds.insert(key, id);
        return id;
    }
    int maxManagers() const
    {
        return std::max(1, (perHostLimit + perManagerLimit - 1) / perManagerLimit);
    }
    TrackedManager *addManager()
    {
        auto *m = new TrackedManager(q, int(managers.size()));
        m->setRedirectPolicy(options.redirects == NetworkOptions::Redirects::None
                                 ? QNetworkRequest::ManualRedirectPolicy
                                 : options.redirects == NetworkOptions::Redirects::SameOrigin
                                       ? QNetworkRequest::SameOriginRedirectPolicy
                                       : QNetworkRequest::NoLessSafeRedirectPolicy);
        m->setTransferTimeout(int(options.transferTimeout.count()));
        if (jar) {
            m->setCookieJar(jar);
            jar->setParent(q);    // shared by all managers; owned by the session
        }
        if (cache) {
            m->setCache(cache);
            cache->setParent(q);
        }
        QObject::connect(m, &QNetworkAccessManager::finished, q, &NetworkSession::onReplyFinished);
#if QT_CONFIG(ssl)
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
    TrackedManager *pickManager(int hostId)
    {
        TrackedManager *best = nullptr;
        for (TrackedManager *m : managers) {
            if (!m || m->perHost.value(hostId) >= perManagerLimit)
                continue;
            if (!best || m->outstanding < best->outstanding)
                best = m;
        }
        if (!best && int(managers.size()) < maxManagers())
            best = addManager();
        return best;
    }
    QNetworkRequest prepare(QNetworkRequest r) const
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
    QString refusal(const QByteArray &verb, const QUrl &url) const
    {
        return u"refused %1 %2: the host is stopping (the network session of service \"%3\" is %4 and takes no new requests)"_s
            .arg(QString::fromLatin1(verb), q->redact(url), service, stateName(state == State::Open ? State::Draining : state));
    }

    void onCreated(TrackedManager *m, int managerIndex, QNetworkReply *reply, const QByteArray &verb);
    void pump();
    bool refill();
    void dispatch(NetworkCall *call, TrackedManager *m);
    void attemptFinished(NetworkCall *call, QNetworkReply *reply, bool aborted);
    void finishCall(NetworkCall *call);
    void cancelQueued(NetworkCall *call, const QString &why);
    void releaseSlot(ReplyRec &rec, QObject *reply);
    void setState(State s)
    {
        if (state == s)
            return;
        state = s;
        Q_EMIT q->stateChanged(s);
    }
};

QNetworkReply *TrackedManager::createRequest(Operation op, const QNetworkRequest &request,
                                             QIODevice *outgoingData)
{
    auto *d = m_session->d.get();
    const QByteArray verb = verbOf(op, request);
    if (!d->sending()) {
        qCInfo(lcNet).noquote() << d->refusal(verb, request.url());
        return new RefusedReply(this, op, request, d->refusal(verb, request.url()));
    }
    QNetworkReply *reply = QNetworkAccessManager::createRequest(
        op, d->dispatching ? request : d->prepare(request), outgoingData);
    d->onCreated(this, m_index, reply, verb);
    return reply;
}

void NetworkSession::Private::onCreated(TrackedManager *m, int managerIndex, QNetworkReply *reply,
                                        const QByteArray &verb)
{
    ReplyRec rec;
    rec.manager = managerIndex;
    rec.hostId = dispatching ? dispatching->d->hostId : hostIdOf(reply->url());
    int &onManager = m->perHost[rec.hostId];
    if (dispatching) {
        rec.call = dispatching;
        rec.ledgerId = dispatching->d->ledgerId;
    } else {
        rec.direct = true;
        rec.file = directFile;
        rec.line = directLine;
        if (onManager >= perManagerLimit) {
            rec.overflow = true;
            m->overflow[rec.hostId].append(reply);
        }
        // The entry is pending only while the reply exists (childEvent ends it on deletion).
        rec.ledgerId = ledger->add(service, KindReply,
                                   nameOf(verb, reply->url()),
                                   [reply] { reply->abort(); }, rec.file, rec.line);
    }
    ++onManager;
    ++m->outstanding;
    ++hostInFlight[rec.hostId];
    ++inFlight;
    replies.insert(reply, rec);
}

void TrackedManager::childEvent(QChildEvent *event)
{
    if (event->removed() && !m_session->d->closing)
        m_session->onReplyGone(event->child());
    QNetworkAccessManager::childEvent(event);
}

void NetworkSession::Private::releaseSlot(ReplyRec &rec, QObject *reply)
{
    if (rec.finished)
        return;
    rec.finished = true;
    --inFlight;
    --hostInFlight[rec.hostId];
    if (rec.manager >= int(managers.size()) || !managers[rec.manager])
        return;
    TrackedManager *m = managers[rec.manager];
    --m->outstanding;
    --m->perHost[rec.hostId];
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

void NetworkSession::onReplyFinished(QNetworkReply *reply)
{
    auto it = d->replies.find(reply);
    if (it == d->replies.end())
        return;
    d->releaseSlot(*it, reply);
    if (it->call) {
        NetworkCall *call = it->call;
        d->replies.erase(it);
        d->attemptFinished(call, reply, call->d->cancelled);
    } else {
        d->tlsFailures.remove(reply);
        // Direct use: the entry ends; the record stays until the reply is deleted, so that one
        // never deleted can be named at close.
        if (reply->error() == QNetworkReply::OperationCanceledError && d->state >= State::Draining)
            d->ledger->finishCancelled(it->ledgerId);
        else
            d->ledger->finish(it->ledgerId);
    }
    d->pump();
}

void NetworkSession::onReplyGone(QObject *object)
{
    // The reply is being destroyed (or was moved away from its manager): only its address is
    // used, never as a QNetworkReply.
    auto it = d->replies.find(object);
    if (it == d->replies.end())
        return;
    if (!it->finished) {
        d->releaseSlot(*it, object);
        if (it->direct)
            d->ledger->finishCancelled(it->ledgerId);   // deleted while running = cancelled by its owner
    }
    d->replies.erase(it);
    d->pump();
}

// ---------------------------------------------------------------------------------------------

NetworkCall::NetworkCall(NetworkSession *session) : QObject(session), d(std::make_unique<Private>())
{
    d->session = session;
}

NetworkCall::~NetworkCall() = default;

QUrl NetworkCall::url() const { return d->request.url(); }
QString NetworkCall::redactedUrl() const { return d->where.mid(d->verb.size() + 1); }
QByteArray NetworkCall::verb() const { return d->verb; }
bool NetworkCall::isFinished() const { return d->finished; }
bool NetworkCall::wasSent() const { return d->sent; }
int NetworkCall::attempts() const { return d->attempts; }
QNetworkReply::NetworkError NetworkCall::error() const { return d->error; }
QString NetworkCall::errorString() const { return d->errorString; }
int NetworkCall::httpStatus() const { return d->status; }
QByteArray NetworkCall::body() const { return d->responseBody; }
qint64 NetworkCall::bytesReceived() const { return d->bytes; }
QNetworkReply *NetworkCall::reply() const { return d->reply; }

QByteArray NetworkCall::header(const QByteArray &name) const
{
    for (const auto &[key, value] : d->headers) {
        if (key.compare(name, Qt::CaseInsensitive) == 0)
            return value;
    }
    return {};
}

void NetworkCall::abort()
{
    if (d->finished)
        return;
    auto *sd = d->session->d.get();
    d->cancelled = true;
    if (d->reply) {
        d->reply->abort();      // finishes the attempt re-entrantly, and with it the call
    } else if (d->queued) {
        sd->cancelQueued(this, u"cancelled before it was sent"_s);
    } else if (d->waiting) {
        d->retryTimer->stop();
        d->waiting = false;
        sd->waiting.removeOne(this);
        sd->finishCall(this);
    }
}

void NetworkSession::Private::cancelQueued(NetworkCall *call, const QString &why)
{
    auto it = std::find(queue.begin(), queue.end(), call);
    if (it != queue.end())
        queue.erase(it);
    call->d->queued = false;
    call->d->cancelled = true;
    if (call->d->error == QNetworkReply::NoError || !call->d->sent) {
        call->d->error = QNetworkReply::OperationCanceledError;
        call->d->errorString = call->d->where + u": "_s + why;
    }
    finishCall(call);
}

void NetworkSession::Private::finishCall(NetworkCall *call)
{
    if (call->d->finished)
        return;
    call->d->finished = true;
    call->d->reply = nullptr;
    if (call->d->cancelled)
        ledger->finishCancelled(call->d->ledgerId);
    else
        ledger->finish(call->d->ledgerId);
    Q_EMIT call->finished();
    call->deleteLater();
}

bool NetworkSession::Private::refill()
{
    if (options.ratePerSecond <= 0)
        return true;
    const qint64 now = clock.elapsed();
    tokens = std::min<double>(options.rateBurst, tokens + (now - lastRefill) * options.ratePerSecond / 1000.0);
    lastRefill = now;
    if (tokens >= 1.0)
        return true;
    if (!rateTimer->isActive())
        rateTimer->start(std::max(1, int(std::ceil((1.0 - tokens) * 1000.0 / options.ratePerSecond))));
    return false;
}

void NetworkSession::Private::pump()
{
    if (pumping || !sending())
        return;   // a noted early stop leaves the queue to beginDrain(), which cancels it
    pumping = true;
    while (!queue.empty() && inFlight < maxConcurrent) {
        if (!refill())
            break;
        // The first call whose host has a free slot; look a little past a saturated host so
        // one slow host does not hold up the others.
        auto pick = queue.end();
        TrackedManager *manager = nullptr;
        int looked = 0;
        for (auto it = queue.begin(); it != queue.end() && looked < 64; ++it, ++looked) {
            const int host = (*it)->d->hostId;
            if (hostInFlight.value(host) >= perHostLimit)
                continue;
            if ((manager = pickManager(host))) {
                pick = it;
                break;
            }
        }
        if (pick == queue.end())
            break;
        NetworkCall *call = *pick;
        queue.erase(pick);
        if (options.ratePerSecond > 0)
            tokens -= 1.0;
        dispatch(call, manager);
    }
    pumping = false;
}

void NetworkSession::Private::dispatch(NetworkCall *call, TrackedManager *m)
{
    auto *cd = call->d.get();
    cd->queued = false;
    ++cd->attempts;
    cd->sent = true;
    if (cd->attempts > 1)
        ledger->update(cd->ledgerId, KindReply, cd->where + u" (attempt %1)"_s.arg(cd->attempts));
    else
        ledger->update(cd->ledgerId, KindReply, cd->where);
    dispatching = call;
    // Qt's own operations where there is one: a custom "GET" bypasses the cache, a custom
    // "HEAD" waits for a body that never comes.
    QNetworkReply *reply = nullptr;
    if (cd->verb == "GET" && cd->body.isEmpty())
        reply = m->get(cd->request);
    else if (cd->verb == "HEAD")
        reply = m->head(cd->request);
    else if (cd->verb == "POST")
        reply = m->post(cd->request, cd->body);
    else if (cd->verb == "PUT")
        reply = m->put(cd->request, cd->body);
    else if (cd->verb == "DELETE" && cd->body.isEmpty())
        reply = m->deleteResource(cd->request);
    else
        reply = m->sendCustomRequest(cd->request, cd->verb, cd->body);
    dispatching = nullptr;
    cd->reply = reply;   // progress is read on demand (refreshProgress), not per signal
}

void NetworkSession::Private::attemptFinished(NetworkCall *call, QNetworkReply *reply, bool aborted)
{
    auto *cd = call->d.get();
    cd->reply = nullptr;
    cd->status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    cd->error = reply->error();
    cd->headers = reply->rawHeaderPairs();
    cd->responseBody = reply->isOpen() ? reply->readAll() : QByteArray();
    cd->bytes = cd->responseBody.size();
    const QString &where = cd->where;
    const QString tlsFailure = tlsFailures.take(reply);
    bool lengthOk = false;
    const qint64 announced = reply->header(QNetworkRequest::ContentLengthHeader).toLongLong(&lengthOk);
    if (!tlsFailure.isNull()) {
        cd->error = QNetworkReply::SslHandshakeFailedError;
        cd->errorString = u"%1: TLS verification failed: %2"_s.arg(where, tlsFailure);
    } else if (cd->error == QNetworkReply::NoError && lengthOk && cd->verb != "HEAD" && cd->status != 204
        && cd->status != 304 && cd->responseBody.size() < announced
        && !reply->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool()) {
        // Qt can report success when the peer resets the connection mid-body: never take a
        // truncated body for a whole one.
        cd->error = QNetworkReply::RemoteHostClosedError;
        cd->errorString = u"%1: the connection closed after %2 of %3 body bytes"_s.arg(where)
                              .arg(cd->responseBody.size()).arg(announced);
    } else if (cd->error == QNetworkReply::OperationCanceledError && !aborted) {
        // Qt ends a transfer that stalls past its transfer timeout with an abort of its own.
        cd->error = QNetworkReply::TimeoutError;
        cd->errorString = u"%1: no data for %2 ms (transfer timeout)"_s.arg(where)
                              .arg(options.transferTimeout.count());
    } else if (cd->error == QNetworkReply::OperationCanceledError) {
        cd->errorString = u"%1: aborted (%2)"_s.arg(where, cd->byHost || state >= State::Aborting
                                                              ? u"the host cancelled it while stopping"_s
                                                              : u"cancelled by its owner"_s);
    } else if (cd->error != QNetworkReply::NoError) {
        // Qt's own text repeats the URL unredacted: say it in our words.
        // Qt's ranges: 201-299 content and 401-499 server errors come from the HTTP status.
        const bool fromStatus = (cd->error > 200 && cd->error < 300) || (cd->error > 400 && cd->error < 500);
        const QString name = QString::fromLatin1(QMetaEnum::fromType<QNetworkReply::NetworkError>()
                                                     .valueToKey(cd->error));
        if (cd->status && fromStatus)
            cd->errorString = u"%1: HTTP %2 %3"_s.arg(where).arg(cd->status)
                                  .arg(reply->attribute(QNetworkRequest::HttpReasonPhraseAttribute).toString());
        else if (cd->status)
            cd->errorString = u"%1: %2 after HTTP %3 and %4 body bytes"_s.arg(where, name).arg(cd->status)
                                  .arg(cd->responseBody.size());
        else
            cd->errorString = u"%1: %2"_s.arg(where, name);
    } else {
        cd->errorString.clear();
    }
    reply->deleteLater();

    const bool statusRetry = cd->status && options.retry.statuses.contains(cd->status);
    const bool errorRetry = isTransient(cd->error);   // a reset mid-body too
    bool retry = !aborted && sending() && cd->attempts < cd->maxAttempts
        && (statusRetry || errorRetry);
    std::chrono::milliseconds wait{0};
    if (retry) {
        std::optional<std::chrono::milliseconds> after;
        if (cd->status == 429 || cd->status == 503)
            after = net::parseRetryAfter(reply->rawHeader("Retry-After"), QDateTime::currentDateTimeUtc());
        if (after) {
            wait = *after;
            if (wait > options.retry.cap) {
                qCInfo(lcNet).noquote() << u"%1: not retried: Retry-After %2 ms exceeds the retry cap %3 ms"_s
                                               .arg(where).arg(wait.count()).arg(options.retry.cap.count());
                retry = false;
            }
        } else {
            wait = net::backoffDelay(cd->attempts, options.retry.base, options.retry.cap,
                                     QRandomGenerator::global()->generateDouble());
        }
    }
    if (!retry) {
        finishCall(call);
        return;
    }
    cd->waiting = true;
    waiting.append(call);
    ledger->update(cd->ledgerId, KindRetryWait,
                   u"%1 (attempt %2 failed: %3; next in %4 ms)"_s.arg(where).arg(cd->attempts)
                       .arg(cd->status ? QString::number(cd->status)
                                       : QString::fromLatin1(QMetaEnum::fromType<QNetworkReply::NetworkError>()
                                                                 .valueToKey(cd->error)))
                       .arg(wait.count()));
    if (!cd->retryTimer) {
        cd->retryTimer = new QTimer(call);
        cd->retryTimer->setSingleShot(true);
        QObject::connect(cd->retryTimer, &QTimer::timeout, call, [this, call] {
            call->d->waiting = false;
            waiting.removeOne(call);
            call->d->queued = true;
            ledger->update(call->d->ledgerId, KindQueued, call->d->where);
            queue.push_front(call);   // its turn came long ago
            pump();
        });
    }
    cd->retryTimer->start(int(wait.count()));
}

// ---------------------------------------------------------------------------------------------

NetworkSession::NetworkSession(const QString &service, WorkLedger *ledger,
                               const NetworkOptions &options, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->q = this;
    d->service = service;
    d->ledger = ledger;
    d->options = options;
    d->maxConcurrent = options.maxConcurrent > 0 ? options.maxConcurrent : NetworkOptions::DefaultMaxConcurrent;
    d->perHostLimit = options.connectionsPerHost > 0 ? options.connectionsPerHost
                                                     : NetworkOptions::DefaultConnectionsPerHost;
    d->perManagerLimit = std::min(QtMaxConnectionsPerManager, d->perHostLimit);
    d->redactKeys = builtinRedactedQuery() + options.redactQuery;
    d->clock.start();
    d->tokens = options.rateBurst;
    d->rateTimer = new QTimer(this);
    d->rateTimer->setSingleShot(true);
    connect(d->rateTimer, &QTimer::timeout, this, [this] { d->pump(); });
    d->graveyard = new QObject(this);
    if (!options.cookieJar.isEmpty()) {
        d->jar = new PersistentCookieJar(this);
        const QString err = d->jar->load(options.cookieJar);
        if (!err.isEmpty())
            qCWarning(lcNet).noquote() << service + u": "_s + err;
    } else {
        d->jar = new PersistentCookieJar(this);   // in memory, shared by the managers
    }
    if (!options.cacheDir.isEmpty()) {
        d->cache = new QNetworkDiskCache(this);
        d->cache->setCacheDirectory(options.cacheDir);
        d->cache->setMaximumCacheSize(options.cacheMaxBytes);
    }
#if QT_CONFIG(ssl)
    if (!options.caBundle.isEmpty()) {
        d->extraCas = QSslCertificate::fromPath(options.caBundle, QSsl::Pem);
        if (d->extraCas.isEmpty())
            qCWarning(lcNet).noquote() << u"%1: no certificate in caBundle %2"_s.arg(service, options.caBundle);
    }
#endif
    d->addManager();
    connect(ledger, &WorkLedger::refreshRequested, this, &NetworkSession::refreshProgress);
}

NetworkSession::~NetworkSession()
{
    close();
}

QNetworkAccessManager *NetworkSession::manager(const std::source_location &where)
{
    d->directFile = where.file_name();
    d->directLine = where.line();
    return d->managers.empty() ? nullptr : d->managers.front();
}

NetworkCall *NetworkSession::send(const QNetworkRequest &request, const QByteArray &verb,
                                  const QByteArray &body, const CallOptions &options,
                                  const std::source_location &where)
{
    auto *call = new NetworkCall(this);
    auto *cd = call->d.get();
    cd->request = d->prepare(request);
    cd->verb = verb;
    cd->body = body;
    cd->options = options;
    cd->file = where.file_name();
    cd->line = where.line();
    cd->where = d->nameOf(verb, request.url());
    const int attempts = options.attempts > 0 ? options.attempts : d->options.retry.attempts;
    cd->maxAttempts = (net::isIdempotent(verb) || options.retryNonIdempotent || d->options.retry.nonIdempotent)
        ? std::max(1, attempts) : 1;
    if (!d->sending()) {
        cd->finished = true;
        cd->error = QNetworkReply::OperationCanceledError;
        cd->errorString = d->refusal(verb, request.url());
        qCInfo(lcNet).noquote() << cd->errorString;
        QMetaObject::invokeMethod(call, [call] {
            Q_EMIT call->finished();
            call->deleteLater();
        }, Qt::QueuedConnection);
        return call;
    }
    cd->hostId = d->hostIdOf(request.url());
    // The entry is pending only while the call is alive (it finishes before it is deleted).
    cd->ledgerId = d->ledger->add(d->service, KindQueued, cd->where,
                                  [call] {
                                      call->d->byHost = true;
                                      call->abort();
                                  }, cd->file, cd->line);
    cd->queued = true;
    d->queue.push_back(call);
    d->pump();
    return call;
}

void NetworkSession::raiseAutomaticLimits(int concurrent)
{
    if (d->options.maxConcurrent <= 0)
        d->maxConcurrent = std::max(NetworkOptions::DefaultMaxConcurrent, concurrent);
    if (d->options.connectionsPerHost <= 0) {
        d->perHostLimit = std::max(NetworkOptions::DefaultConnectionsPerHost, concurrent);
        d->perManagerLimit = std::min(QtMaxConnectionsPerManager, d->perHostLimit);
    }
    d->pump();
}

NetworkSession::State NetworkSession::state() const { return d->state; }
const NetworkOptions &NetworkSession::options() const { return d->options; }
int NetworkSession::maxConcurrent() const { return d->maxConcurrent; }
int NetworkSession::connectionsPerHost() const { return d->perHostLimit; }
int NetworkSession::managerCount() const
{
    return int(std::count_if(d->managers.cbegin(), d->managers.cend(), [](TrackedManager *m) { return m; }));
}
int NetworkSession::inFlight() const { return d->inFlight; }
int NetworkSession::queued() const { return int(d->queue.size() + d->waiting.size()); }

QString NetworkSession::stateName(State s)
{
    switch (s) {
    case State::Open: return u"open"_s;
    case State::Draining: return u"draining"_s;
    case State::Aborting: return u"aborting"_s;
    case State::Closed: return u"closed"_s;
    }
    return {};
}

void NetworkSession::connectToken(StopToken *token)
{
    connect(token, &StopToken::stopRequested, this, &NetworkSession::beginDrain);
    connect(token, &StopToken::cancelRequested, this, &NetworkSession::abortAll);
    if (token->isCancelRequested())
        abortAll();
    else if (token->isStopRequested())
        beginDrain();
}

void NetworkSession::refreshProgress()
{
    // A call reads its reply only at the end: what is buffered is what has arrived so far.
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it) {
        if (it->call && !it->finished && it->call->d->reply)
            d->ledger->setProgress(it->ledgerId, it->call->d->reply->bytesAvailable());
    }
}

void NetworkSession::setEarlyStop(const std::atomic<int> *counter)
{
    d->earlyStop = counter;
}

void NetworkSession::beginDrain()
{
    if (d->state != State::Open)
        return;
    d->setState(State::Draining);
    d->rateTimer->stop();
    // Nothing that has not reached the network may leave now: the session's queue...
    while (!d->queue.empty())
        d->cancelQueued(d->queue.front(), u"cancelled before it was sent: the host is stopping"_s);
    // ... the waits between attempts (the call ends with its last answer) ...
    const QList<NetworkCall *> waits = std::exchange(d->waiting, {});
    for (NetworkCall *call : waits) {
        call->d->retryTimer->stop();
        call->d->waiting = false;
        call->d->cancelled = true;
        d->finishCall(call);
    }
    // ... and direct requests that Qt holds back in its own queue for want of a connection.
    QList<QObject *> held;
    for (TrackedManager *m : d->managers) {
        if (!m)
            continue;
        for (const auto &list : std::as_const(m->overflow))
            held += list;
    }
    // Aborted directly (not through the ledger): onReplyFinished() counts them as cancelled,
    // the session being past open.
    for (QObject *reply : std::as_const(held)) {
        auto it = d->replies.constFind(reply);
        if (it != d->replies.constEnd() && it->overflow && !it->finished)
            static_cast<QNetworkReply *>(reply)->abort();
    }
    if (!held.isEmpty() || d->inFlight)
        qCInfo(lcNet).noquote() << u"%1: draining %2 request(s) in flight; %3 never sent"_s
                                       .arg(d->service).arg(d->inFlight).arg(held.size());
}

void NetworkSession::abortAll()
{
    if (d->state == State::Closed)
        return;
    beginDrain();
    if (d->state == State::Draining)
        d->setState(State::Aborting);
    // abort() finishes replies re-entrantly: work on a copy, expect the set to shrink.
    QList<QObject *> running;
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it) {
        if (!it->finished)
            running.append(it.key());
    }
    for (QObject *reply : std::as_const(running)) {
        auto it = d->replies.constFind(reply);
        if (it == d->replies.constEnd() || it->finished)
            continue;
        if (it->call)
            it->call->abort();
        else
            static_cast<QNetworkReply *>(reply)->abort();   // counted as cancelled on finish
    }
}

void NetworkSession::close()
{
    if (d->state == State::Closed)
        return;
    abortAll();
    // Calls still alive here were refused or cancelled; they finish from the event loop.
    if (!d->options.cookieJar.isEmpty() && d->jar) {
        const QString err = d->jar->save(d->options.cookieJar);
        if (!err.isEmpty())
            qCWarning(lcNet).noquote() << d->service + u": "_s + err;
    }
    // A reply the service never deleted must not die under its pointer: it moves to the
    // session (which outlives the service instance) and is reported as leaked.
    d->closing = true;
    for (TrackedManager *m : d->managers) {
        if (!m)
            continue;
        const auto children = m->children();
        for (QObject *child : children) {
            auto *reply = qobject_cast<QNetworkReply *>(child);
            if (!reply)
                continue;
            const auto it = d->replies.constFind(reply);
            if (it != d->replies.constEnd() && it->direct) {
                d->ledger->add(d->service, KindReply,
                               QString::fromLatin1(verbOf(reply->operation(), reply->request())) + u' '
                                   + redact(reply->url()) + u" (finished, never deleted)"_s,
                               {}, it->file, it->line);
            }
            reply->setParent(d->graveyard);
        }
    }
    for (TrackedManager *m : d->managers)
        delete m;
    d->managers.clear();
    d->replies.clear();   // all finished; the ones kept alive are the session's now
    d->closing = false;
    d->setState(State::Closed);
}

QString NetworkSession::redact(const QUrl &url) const
{
    return redact(url, d->redactKeys);
}

const QStringList &NetworkSession::builtinRedactedQuery()
{
    static const QStringList keys = {u"token"_s, u"access_token"_s, u"refresh_token"_s, u"id_token"_s,
                                     u"api_key"_s, u"apikey"_s, u"key"_s, u"password"_s, u"passwd"_s,
                                     u"secret"_s, u"client_secret"_s, u"signature"_s, u"sig"_s,
                                     u"auth"_s, u"session"_s, u"code"_s,
                                     u"X-Amz-Signature"_s, u"X-Amz-Credential"_s, u"X-Amz-Security-Token"_s};
    return keys;
}

QString NetworkSession::redact(const QUrl &url, const QStringList &queryKeys)
{
    QUrl u = url;
    u.setFragment(QString());
    if (!u.password().isEmpty())
        u.setPassword(u"***"_s);
    if (u.hasQuery()) {
        QUrlQuery query(u);
        auto items = query.queryItems(QUrl::FullyEncoded);
        bool changed = false;
        for (auto &[key, value] : items) {
            const QString plain = QUrl::fromPercentEncoding(key.toUtf8());
            if (std::any_of(queryKeys.cbegin(), queryKeys.cend(),
                            [&](const QString &k) { return k.compare(plain, Qt::CaseInsensitive) == 0; })) {
                value = u"REDACTED"_s;
                changed = true;
            }
        }
        if (changed) {
            QUrlQuery redacted;
            redacted.setQueryItems(items);
            u.setQuery(redacted.query(QUrl::FullyEncoded), QUrl::StrictMode);
        }
    }
    return u.toString(QUrl::FullyEncoded);
}

// ---------------------------------------------------------------------------------------------

namespace net {

QDateTime parseHttpDate(const QByteArray &raw)
{
    const QString value = QString::fromLatin1(raw.trimmed());
    const QLocale c = QLocale::c();
    // IMF-fixdate, obsolete RFC 850, asctime (RFC 9110 section 5.6.7).
    static const char *const formats[] = {"ddd, dd MMM yyyy HH:mm:ss 'GMT'",
                                          "dddd, dd-MMM-yy HH:mm:ss 'GMT'",
                                          "ddd MMM d HH:mm:ss yyyy"};
    for (const char *format : formats) {
        QString v = value;
        if (format == formats[2])
            v = v.simplified();   // asctime pads the day with a space
        QDateTime dt = c.toDateTime(v, QString::fromLatin1(format));
        if (dt.isValid()) {
            if (format == formats[1] && dt.date().year() < 1970)
                dt = dt.addYears(100);
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
            dt = QDateTime(dt.date(), dt.time(), QTimeZone::UTC);
#else
            dt = QDateTime(dt.date(), dt.time(), Qt::UTC);
#endif
            return dt;
        }
    }
    return {};
}

std::optional<std::chrono::milliseconds> parseRetryAfter(const QByteArray &value, const QDateTime &now)
{
    const QByteArray v = value.trimmed();
    if (v.isEmpty())
        return std::nullopt;
    if (std::all_of(v.cbegin(), v.cend(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        bool ok = false;
        const qint64 seconds = v.size() > 12 ? -1 : v.toLongLong(&ok);
        if (!ok || seconds < 0)
            return std::nullopt;
        return std::chrono::milliseconds(seconds * 1000);
    }
    const QDateTime when = parseHttpDate(v);
    if (!when.isValid())
        return std::nullopt;
    return std::chrono::milliseconds(std::max<qint64>(0, now.msecsTo(when)));
}

std::chrono::milliseconds backoffDelay(int retry, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit)
{
    const double ceiling = std::min<double>(double(cap.count()),
                                            double(base.count()) * std::pow(2.0, std::max(0, retry - 1)));
    const double u = std::clamp(unit, 0.0, 1.0);
    return std::chrono::milliseconds(qint64(std::floor(ceiling * u)));
}

bool isIdempotent(const QByteArray &verb)
{
    static const QByteArrayList safe = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    return safe.contains(verb.toUpper());
}

} // namespace net

} // namespace berth
