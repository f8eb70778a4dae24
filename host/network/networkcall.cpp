// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkCall and the session's own queue: send(), the limits, the rate limit, and dispatch to
// the least busy manager. What happens when an attempt ends: networkattempt.cpp.
#include "network/networksession_p.h"

#include <cmath>
#include <optional>

namespace berth {

NetworkCall::NetworkCall(NetworkSession *session) : QObject(session), d(std::make_unique<Private>())
{
    d->session = session;
}

NetworkCall::~NetworkCall() = default;

QUrl NetworkCall::url() const { return d->request.url(); }
QString NetworkCall::redactedUrl() const { return d->where.mid(d->verb.size() + 1); }
QByteArray NetworkCall::verb() const { return d->verb; }
bool NetworkCall::isFinished() const { return d->state == CallState::Finished; }
bool NetworkCall::wasSent() const { return d->attempts > 0; }
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
    if (d->state == CallState::Finished)
        return;
    auto *sd = d->session->d.get();
    d->cancelled = true;
    if (d->reply) {
        d->reply->abort();      // finishes the attempt re-entrantly, and with it the call
    } else if (d->state == CallState::Queued) {
        sd->cancelQueued(this, u"cancelled before it was sent"_s);
    } else if (d->state == CallState::Waiting) {
        d->retryTimer->stop();
        sd->waiting.removeOne(this);
        sd->finishCall(this);
    }
}

void NetworkSession::Private::cancelQueued(NetworkCall *call, const QString &why)
{
    queue.remove(call);
    call->d->cancelled = true;
    if (call->d->error == QNetworkReply::NoError || call->d->attempts == 0) {
        call->d->error = QNetworkReply::OperationCanceledError;
        call->d->errorString = call->d->where + u": "_s + why;
    }
    finishCall(call);
}

void NetworkSession::Private::finishCall(NetworkCall *call)
{
    if (call->d->state == CallState::Finished)
        return;
    call->d->state = CallState::Finished;
    if (call->d->deadlineAt >= 0) {
        deadlined.remove(call->d->ledgerId);
        // Entries of finished calls leave the heap when they come to its top; a session whose
        // calls end long before their deadlines rebuilds it now and then instead.
        if (deadlines.size() > 2 * size_t(deadlined.size()) + 1024) {
            decltype(deadlines) live;
            for (auto it = deadlined.cbegin(); it != deadlined.cend(); ++it)
                live.emplace((*it)->d->deadlineAt, it.key());
            deadlines = std::move(live);
        }
    }
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
        // one slow host does not hold up the others, and no further once every host with
        // calls waiting has been found without room.
        auto pick = queue.end();
        std::pair<TrackedManager *, int> slot{nullptr, 0};
        queue.beginPass();
        int looked = 0;
        for (auto it = queue.begin(); it != queue.end() && looked < 64; ++it, ++looked) {
            if (queue.isBlocked(it->host))
                continue;
            if (host(it->host).inFlight < perHostLimit && (slot = pickSlot(it->host)).first) {
                pick = it;
                break;
            }
            if (queue.block(it->host))
                break;
        }
        if (pick == queue.end())
            break;
        NetworkCall *call = pick->call;
        queue.erase(pick);
        if (options.ratePerSecond > 0)
            tokens -= 1.0;
        dispatch(call, slot.first, slot.second);
    }
    pumping = false;
}

void NetworkSession::Private::dispatch(NetworkCall *call, TrackedManager *m, int lane)
{
    auto *cd = call->d.get();
    cd->state = CallState::InFlight;
    if (!std::exchange(cd->hop, false))   // a redirect hop is not another attempt
        ++cd->attempts;
    if (cd->redirects > 0 || cd->attempts > 1) {
        QStringList notes;
        if (cd->redirects > 0)
            notes.append(u"redirect %1"_s.arg(cd->redirects));
        if (cd->attempts > 1)
            notes.append(u"attempt %1"_s.arg(cd->attempts));
        ledger->update(cd->ledgerId, KindReply, cd->where + u" ("_s + notes.join(u", "_s) + u')');
    } else {
        ledger->update(cd->ledgerId, KindReply, cd->where);
    }
    dispatching = call;
    dispatchingLane = lane;
    const bool qtTimer = cd->keepsQtTimer() && options.transferTimeout.count() > 0;
    // Most calls go out as they came, or as the call before them on the same lane: no copy.
    const QNetworkRequest *out = &cd->request;
    if (lane > 0) {
        if (lanedRequests.size() <= size_t(lane))
            lanedRequests.resize(size_t(lane) + 1);
        out = &lanedRequests[size_t(lane)].get(cd->request, [&] {
            QNetworkRequest laned = cd->request;
            laned.setPeerVerifyName(laneName(laned.url(), lane));
            return laned;
        });
    }
    std::optional<QNetworkRequest> timed;   // an upload: Qt's timer, on the request
    if (qtTimer) {
        timed = *out;
        timed->setTransferTimeout(int(options.transferTimeout.count()));
        out = &*timed;
    }
    const QNetworkRequest &request = *out;
    // Qt's own operations where there is one: a custom "GET" bypasses the cache, a custom
    // "HEAD" waits for a body that never comes.
    QNetworkReply *reply = nullptr;
    if (cd->verb == "GET" && cd->body.isEmpty())
        reply = m->get(request);
    else if (cd->verb == "HEAD")
        reply = m->head(request);
    else if (cd->verb == "POST")
        reply = m->post(request, cd->body);
    else if (cd->verb == "PUT")
        reply = m->put(request, cd->body);
    else if (cd->verb == "DELETE" && cd->body.isEmpty())
        reply = m->deleteResource(request);
    else
        reply = m->sendCustomRequest(request, cd->verb, cd->body);
    dispatching = nullptr;
    dispatchingLane = 0;
    cd->reply = reply;   // progress is read on demand (refreshProgress, sweepStalls), not per signal
    cd->progress = -1;
    cd->headSeen = false;
    cd->announced = -1;
    cd->progressAt = clock.elapsed();
    // The size cap is the sweep's too, at least every CapSweepMs while a capped call is in flight
    // (Qt's own hold-back, setReadBufferSize(), costs a queued call into the HTTP thread per
    // reply: 7 % of send()'s throughput, measured).
    if (cd->cap > 0 && stallTimer->interval() > CapSweepMs)
        stallTimer->setInterval(CapSweepMs);
    if ((cd->cap > 0 || (!qtTimer && options.transferTimeout.count() > 0) || host(cd->hostId).proto != Proto::Http1)
        && !stallTimer->isActive())
        stallTimer->start();
}

// ---------------------------------------------------------------------------------------------

const NetworkSession::Private::CallRequest &NetworkSession::Private::callRequest(const QNetworkRequest &request)
{
    return lastCall.get(request, [&] {
        const QVariant policy = request.attribute(QNetworkRequest::RedirectPolicyAttribute);
        CallRequest made{prepare(request), policy.isValid() ? policy.toInt() : -1};
        made.out.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
        return made;
    });
}

NetworkCall *NetworkSession::send(const QNetworkRequest &request, const QByteArray &verb,
                                  const QByteArray &body, const CallOptions &options,
                                  const std::source_location &where)
{
    auto *call = new NetworkCall(this);
    auto *cd = call->d.get();
    const NetworkSession::Private::CallRequest &prepared = d->callRequest(request);
    cd->request = prepared.out;
    cd->verb = verb;
    cd->body = body;
    cd->options = options;
    cd->cap = options.maxResponseBytes >= 0 ? options.maxResponseBytes : d->options.maxResponseBytes;
    cd->file = where.file_name();
    cd->line = where.line();
    NetworkSession::Private::Named named = d->named(verb, request.url());
    cd->where = std::move(named.name);
    const int attempts = options.attempts > 0 ? options.attempts : d->options.retry.attempts;
    cd->maxAttempts = std::max(1, attempts);
    cd->repeatable = net::isIdempotent(verb) || options.retryNonIdempotent || d->options.retry.nonIdempotent;
    if (!d->sending()) {
        cd->state = CallState::Finished;
        cd->error = QNetworkReply::OperationCanceledError;
        cd->errorString = d->refusal(verb, request.url());
        qCDebug(lcNet).noquote() << cd->errorString;   // the caller has it; a stopping host may refuse thousands
        QMetaObject::invokeMethod(call, [call] {
            Q_EMIT call->finished();
            call->deleteLater();
        }, Qt::QueuedConnection);
        return call;
    }
    cd->hostId = request.peerVerifyName().isEmpty() ? named.hostId
                                                    : d->hostIdOf(request.url(), request.peerVerifyName());
    // The session follows redirects itself (its managers follow none): each hop goes through
    // its limits and lanes. A policy or limit on the request wins over the session's.
    cd->maxRedirects = cd->request.maximumRedirectsAllowed();
    if (prepared.policy >= 0) {
        cd->redirectPolicy = QNetworkRequest::RedirectPolicy(prepared.policy);
    } else {
        cd->redirectPolicy = d->options.redirects == NetworkOptions::Redirects::None
            ? QNetworkRequest::ManualRedirectPolicy
            : d->options.redirects == NetworkOptions::Redirects::SameOrigin ? QNetworkRequest::SameOriginRedirectPolicy
                                                                            : QNetworkRequest::NoLessSafeRedirectPolicy;
    }
    // The entry is pending only while the call is alive (it finishes before it is deleted).
    cd->ledgerId = d->ledger->add(d->service, KindQueued, cd->where,
                                  [call] {
                                      call->d->byHost = true;
                                      call->abort();
                                  }, cd->file, cd->line);
    if (const auto budget = options.deadline.count() > 0 ? options.deadline : d->options.callTimeout; budget.count() > 0)
        d->watchDeadline(call, budget);
    cd->state = CallState::Queued;
    d->queue.push_back(call, cd->hostId);
    d->pump();
    return call;
}

} // namespace berth
