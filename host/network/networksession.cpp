// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession: every QNetworkReply of a service is a ledger entry, whether it came from send()
// or from the manager directly. The session keeps its own queue in front of Qt's so that nothing
// waits invisibly inside a QNetworkAccessManager: once the host stops, what has not reached the
// network never does. This file: the managers, the tracking of replies, the lifecycle.
#include "network/networkproxy_p.h"
#include "network/networksession_p.h"
#include "network/persistentcookiejar_p.h"

#include <berth/servicecontext.h>

#include <QtCore/QEvent>

#include <algorithm>

Q_LOGGING_CATEGORY(lcNet, "berth.network", QtInfoMsg)

namespace berth {


void NetworkSession::onReplyFinished(QNetworkReply *reply)
{
    auto it = d->replies.find(reply);
    if (it == d->replies.end())
        return;
    d->releaseSlot(*it, reply, reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).isValid());
    if (it->call) {
        NetworkCall *call = it->call;
        d->replies.erase(it);
        d->attemptFinished(call, reply, call->d->cancelled || call->d->overDeadline);
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

NetworkSession::NetworkSession(const QString &service, WorkLedger *ledger,
                               const NetworkOptions &options, QObject *parent)
    : QObject(parent), d(std::make_unique<Private>())
{
    d->q = this;
    d->service = service;
    d->ledger = ledger;
    d->options = options;
    d->setLimits(options.maxConcurrent > 0 ? options.maxConcurrent : NetworkOptions::DefaultMaxConcurrent,
                 options.connectionsPerHost > 0 ? options.connectionsPerHost : NetworkOptions::DefaultConnectionsPerHost);
    d->redactKeys = builtinRedactedQuery() + options.redactQuery;
    d->clock.start();
    d->tokens = options.rateBurst;
    d->rateTimer = new QTimer(this);
    d->rateTimer->setSingleShot(true);
    connect(d->rateTimer, &QTimer::timeout, this, [this] { d->pump(); });
    d->deadlineTimer = new QTimer(this);
    d->deadlineTimer->setSingleShot(true);
    d->deadlineTimer->setTimerType(Qt::PreciseTimer);
    connect(d->deadlineTimer, &QTimer::timeout, this, [this] { d->expireDeadlines(); });
    d->stallTimer = new QTimer(this);
    // It also enforces the size cap (maxResponseSize), more often (dispatch()).
    d->stallInterval = int(options.transferTimeout.count() > 0
                               ? std::clamp<qint64>(options.transferTimeout.count() / 8, 10, 1000) : 1000);
    d->stallTimer->setInterval(d->stallInterval);
    connect(d->stallTimer, &QTimer::timeout, this, [this] { d->sweepStalls(); });
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
    QString proxyError;
    d->proxyPlan = std::make_shared<ProxyPlan>(ProxyPlan::make(options, QProcessEnvironment::systemEnvironment(),
                                                               &proxyError));
    if (!proxyError.isEmpty())   // the config check refuses this before the host starts
        qCWarning(lcNet).noquote() << u"%1: %2; requests go straight to their servers"_s.arg(service, proxyError);
    else if (!d->proxyPlan->direct())
        qCInfo(lcNet).noquote() << u"%1: %2"_s.arg(service, d->proxyPlan->describe());
    connect(ledger, &WorkLedger::refreshRequested, this, [this] { Control::refreshProgress(*this); });
}

NetworkSession::~NetworkSession()
{
    Control::close(*this);
    // Managers a close kept for the process exit: the process went on after all (a test, an
    // embedding program), so they are torn down here, while their replies can still look us up.
    d->closing = true;
    qDeleteAll(std::exchange(d->keptForExit, {}));
    d->closing = false;
}

QNetworkAccessManager *NetworkSession::manager(const std::source_location &where)
{
    d->directFile = where.file_name();
    d->directLine = where.line();
    if (!d->directManager)
        d->directManager = d->addManager(true);
    return d->directManager;
}

void NetworkSession::raiseAutomaticLimits(int concurrent)
{
    d->setLimits(d->options.maxConcurrent > 0 ? d->maxConcurrent : std::max(NetworkOptions::DefaultMaxConcurrent, concurrent),
                 d->options.connectionsPerHost > 0 ? d->perHostLimit
                                                   : std::max(NetworkOptions::DefaultConnectionsPerHost, concurrent));
    d->pump();
}

NetworkSession::State NetworkSession::state() const { return d->state; }
bool NetworkSession::isSending() const { return d->sending(); }
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

void NetworkSession::Control::connectToken(NetworkSession &session, StopToken *token)
{
    connect(token, &StopToken::stopRequested, &session, [&session] { beginDrain(session); });
    connect(token, &StopToken::cancelRequested, &session, [&session] { abortAll(session); });
    if (token->isCancelRequested())
        abortAll(session);
    else if (token->isStopRequested())
        beginDrain(session);
}

void NetworkSession::Control::refreshProgress(NetworkSession &session)
{
    Private *const d = session.d.get();
    // A call reads its reply only at the end: what is buffered is what has arrived so far. A
    // direct reply shows what is buffered and not yet read by its owner (all of it for an owner
    // that reads at the end; a streaming reader's consumed bytes are not counted: a progress
    // connection per reply would cost more than the whole entry).
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it) {
        if (it->finished)
            continue;
        if (it->call && it->call->d->reply)
            d->ledger->setProgress(it->ledgerId, it->call->d->reply->bytesAvailable());
        else if (it->direct)
            d->ledger->setProgress(it->ledgerId, static_cast<QNetworkReply *>(it.key())->bytesAvailable());
    }
}

void NetworkSession::Control::setEarlyStop(NetworkSession &session, const std::atomic<int> *counter)
{
    session.d->earlyStop = counter;
}

void NetworkSession::Control::beginDrain(NetworkSession &session)
{
    Private *const d = session.d.get();
    if (d->state != State::Open)
        return;
    d->setState(State::Draining);
    d->rateTimer->stop();
    // Nothing that has not reached the network may leave now: the session's queue...
    const qsizetype queued = qsizetype(d->queue.size());
    while (!d->queue.empty())
        d->cancelQueued(d->queue.front(), u"cancelled before it was sent: the host is stopping"_s);
    // ... the waits between attempts (the call ends with its last answer) ...
    const QList<NetworkCall *> waits = std::exchange(d->waiting, {});
    for (NetworkCall *call : waits) {
        call->d->retryTimer->stop();
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
    if (held.isEmpty() && !d->inFlight && !queued)
        return;
    // Direct requests to an HTTP/2 host that Qt has not written yet: those beyond the streams
    // the server takes wait in Qt's HTTP/2 queue, which Qt 6.4 cannot safely cancel (see
    // Proto). They go out as streams come free, and drain.
    int inQt = 0;
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it)
        inQt += it->direct && it->unsent && !it->finished && d->host(it->hostId).proto == Proto::Http2;
    QString text = u"%1: draining %2 request(s) in flight; %3 never sent (%4 queued call(s), %5 direct request(s) Qt held back)"_s
                       .arg(d->service).arg(d->inFlight).arg(queued + held.size()).arg(queued).arg(held.size());
    if (inQt)
        text += u"; %1 direct request(s) not yet written to an HTTP/2 connection: Qt cannot take them back, "
                u"they go out as streams come free"_s.arg(inQt);
    qCInfo(lcNet).noquote() << text;
}

void NetworkSession::Control::abortAll(NetworkSession &session)
{
    Private *const d = session.d.get();
    if (d->state == State::Closed)
        return;
    beginDrain(session);
    if (d->state == State::Draining)
        d->setState(State::Aborting);
    // abort() finishes replies re-entrantly: work on a copy, expect the set to shrink. Those Qt
    // has not written go first: aborting a written one frees an HTTP/2 stream, and Qt would
    // write a request it holds into it before that request's own abort reached it.
    QList<QObject *> running;
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it) {
        if (!it->finished && it->unsent)
            running.append(it.key());
    }
    for (auto it = d->replies.cbegin(); it != d->replies.cend(); ++it) {
        if (!it->finished && !it->unsent)
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

void NetworkSession::Control::close(NetworkSession &session, Teardown teardown)
{
    Private *const d = session.d.get();
    if (d->state == State::Closed)
        return;
    abortAll(session);
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
                                   + session.redact(reply->url()) + u" (finished, never deleted)"_s,
                               {}, it->file, it->line);
            }
            reply->setParent(d->graveyard);
        }
    }
    for (TrackedManager *m : d->managers) {
        if (!m)
            continue;
        if (teardown == Teardown::Now)
            delete m;
        else
            d->keptForExit.push_back(m);   // refuses every request from now on (Closed)
    }
    d->managers.clear();
    d->directManager = nullptr;
    d->replies.clear();   // all finished; the ones kept alive are the session's now
    d->stallTimer->stop();
    d->deadlineTimer->stop();
    d->closing = false;
    d->setState(State::Closed);
}

QString NetworkSession::redact(const QUrl &url) const
{
    return redact(url, d->redactKeys);
}
} // namespace berth
