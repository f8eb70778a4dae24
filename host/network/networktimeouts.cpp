// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The clocks of send()'s calls: the sweep that is their transfer timeout, their size cap and the
// take-back of requests Qt holds after a GOAWAY, and their deadlines (callTimeout,
// CallOptions::deadline). All end a call from outside its own flow, so all run off session
// timers, never a timer per call.
#include "network/networksession_p.h"

#include <QtCore/QPointer>
#include <QtCore/QVarLengthArray>

#include <algorithm>

namespace berth {

/// The transfer timeout of send()'s replies, their size cap, and the requests Qt holds back
/// for ever on an HTTP/2 connection the server ended: one coarse timer for the session
/// instead of Qt's per reply. Every tick (an eighth of the timeout, at most a second; 100 ms
/// while a capped call is in flight) looks at each reply in flight: what it has buffered, and
/// whether its answer has begun. A call reads its reply only at the end, so that only grows. A
/// reply that has not moved for the whole timeout is aborted; the attempt then ends as a
/// timeout (attemptFinished), as Qt's own timer would end it, within one tick of the timeout.
/// Direct replies, which their owner reads as they come, are watched by Qt's downloadProgress
/// (onDirectProgress) and by the status of the head; one that stalls is aborted, as Qt's
/// timer aborts it (the owner sees OperationCanceledError either way).
void NetworkSession::Private::sweepStalls()
{
    const qint64 now = clock.elapsed();
    const qint64 limit = options.transferTimeout.count();
    QVarLengthArray<QPointer<QNetworkReply>, 8> stalled;
    bool watching = false;
    for (auto it = replies.begin(); it != replies.end(); ++it) {
        if (it->finished)
            continue;
        if (it->swept) {
            // Direct: moved when Qt reported bytes (onDirectProgress) or a head came, a
            // redirect's included (its status differs from the one before). (Only made with a
            // transfer timeout: createRequest().)
            watching = true;
            auto *reply = static_cast<QNetworkReply *>(it.key());
            const auto status = quint16(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt());
            if (status != it->status) {
                it->status = status;
                it->progressAt = now;
            } else if (now - it->progressAt >= limit) {
                stalled.append(reply);
            }
            continue;
        }
        if (!it->call)
            continue;
        auto *cd = it->call->d.get();
        QNetworkReply *reply = cd->reply;
        if (!reply)
            continue;
        Lane *pool = it->unsent && host(it->hostId).proto == Proto::Http2 ? poolOf(*it) : nullptr;
        if (pool) {
            // Held back by Qt for the grace on a pool that has carried streams and has had
            // nothing else in flight since: Qt waits for no stream of the server's, and after a
            // GOAWAY Qt 6.4 holds such requests for ever, also those handed over after the
            // pool's last stream ended (the end that freed the room for them). Taken back, it
            // goes out again, on another pool: this one gets nothing for a while
            // (Lane::heldUntil), as Qt would hold the next request there too while the server
            // keeps the connection open. (progressAt: when it was handed over, or its first sweep.)
            watching = true;
            const int grace = heldGraceMs(it->hostId);
            if (pool->load == pool->unsent && pool->ended > 0
                && now - std::max(pool->lastEndedAt, cd->progressAt) >= grace) {
                pool->heldUntil = now + HeldQuarantineGraces * grace;
                heldUntilMax = std::max(heldUntilMax, pool->heldUntil);
                cd->takenBack = true;
                stalled.append(reply);
                continue;
            }
        }
        const qint64 buffered = reply->bytesAvailable();
        if (!cd->headSeen && reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).isValid()) {
            // Read once per attempt: the head does not change.
            cd->headSeen = true;
            bool known = false;
            const qint64 length = cd->verb == "HEAD" ? -1
                : reply->header(QNetworkRequest::ContentLengthHeader).toLongLong(&known);
            cd->announced = known ? length : -1;
        }
        if (cd->cap > 0) {
            // Over the cap: more buffered than it, or announced.
            if (buffered > cd->cap || cd->announced > cd->cap) {
                cd->overCap = cd->announced > cd->cap ? cd->announced : buffered;
                stalled.append(reply);
                continue;
            }
            watching = true;
        }
        if (cd->keepsQtTimer() || limit <= 0)
            continue;
        watching = true;
        const qint64 seen = buffered + (cd->headSeen ? 1 : 0);
        if (seen != cd->progress) {
            cd->progress = seen;
            cd->progressAt = now;
        } else if (now - cd->progressAt >= limit) {
            stalled.append(reply);
        }
    }
    // abort() finishes each attempt re-entrantly (a retry may dispatch at once): only now.
    for (const QPointer<QNetworkReply> &reply : stalled) {
        auto it = reply ? replies.constFind(reply.data()) : replies.cend();
        if (it != replies.cend() && !it->finished)
            reply->abort();
    }
    if (!watching) {
        stallTimer->stop();
        stallTimer->setInterval(stallInterval);
    }
}

void NetworkSession::Private::onDirectProgress(QObject *reply)
{
    const auto it = replies.find(reply);
    if (it != replies.end())
        it->progressAt = clock.elapsed();
}

void NetworkSession::Private::watchDeadline(NetworkCall *call, std::chrono::milliseconds budget)
{
    auto *cd = call->d.get();
    cd->deadline = budget;
    cd->deadlineAt = clock.elapsed() + budget.count();
    deadlined.insert(cd->ledgerId, call);
    deadlines.emplace(cd->deadlineAt, cd->ledgerId);
    armDeadlines();
}

void NetworkSession::Private::armDeadlines()
{
    while (!deadlines.empty() && !deadlined.contains(deadlines.top().second))
        deadlines.pop();
    if (deadlines.empty()) {
        deadlineTimer->stop();
        return;
    }
    const qint64 wait = std::max<qint64>(0, deadlines.top().first - clock.elapsed());
    if (!deadlineTimer->isActive() || deadlineTimer->remainingTime() > wait)
        deadlineTimer->start(int(std::min<qint64>(wait, std::numeric_limits<int>::max())));
}

void NetworkSession::Private::expireDeadlines()
{
    const qint64 now = clock.elapsed();
    QVarLengthArray<quint64, 8> due;
    while (!deadlines.empty() && deadlines.top().first <= now) {
        due.append(deadlines.top().second);
        deadlines.pop();
    }
    QVarLengthArray<NetworkCall *, 8> calls;
    for (quint64 id : due) {
        if (NetworkCall *call = deadlined.value(id))
            calls.append(call);
    }
    // Those not in flight first: ending one in flight frees a connection, which pump() would
    // give to a queued call that is itself due. Then look each up again, as ending one can end
    // another (a finished handler may abort it).
    std::stable_partition(calls.begin(), calls.end(), [](NetworkCall *c) { return !c->d->reply; });
    for (NetworkCall *call : calls) {
        if (deadlined.contains(call->d->ledgerId))
            expire(call);
    }
    armDeadlines();
}

void NetworkSession::Private::expire(NetworkCall *call)
{
    auto *cd = call->d.get();
    cd->overDeadline = true;
    if (cd->reply) {
        cd->reply->abort();   // attemptFinished ends the call as over its deadline
        return;
    }
    QString stage;
    if (cd->state == CallState::Queued) {
        queue.remove(call);
        stage = cd->attempts == 0 ? u"never sent: it waited in the session's queue"_s
                                  : u"%1 attempt(s), the next one waiting for a free connection"_s.arg(cd->attempts);
    } else if (cd->state == CallState::Waiting) {
        cd->retryTimer->stop();
        waiting.removeOne(call);
        stage = u"%1 attempt(s); the last: %2"_s.arg(cd->attempts).arg(cd->errorString.mid(cd->where.size() + 2));
    }
    cd->failDeadline(stage);
    finishCall(call);
}

} // namespace berth
