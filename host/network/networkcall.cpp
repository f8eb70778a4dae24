// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkCall and the session's own queue: send(), the limits, the rate limit, dispatch to the
// least busy manager, and what happens when an attempt ends (retry with backoff, or finish).
#include "config/config.h"
#include "network/networkproxy_p.h"
#include "network/networksession_p.h"

#include <berth/servicecontext.h>

#include <QtCore/QMetaEnum>
#include <QtCore/QRandomGenerator>

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
    queue.remove(call);
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
            if (hostInFlight[size_t(it->host)] < perHostLimit && (slot = pickSlot(it->host)).first) {
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
    cd->queued = false;
    if (!std::exchange(cd->hop, false))   // a redirect hop is not another attempt
        ++cd->attempts;
    cd->sent = true;
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
    if ((cd->cap > 0 || (!qtTimer && options.transferTimeout.count() > 0) || hostProto[size_t(cd->hostId)] != Proto::Http1)
        && !stallTimer->isActive())
        stallTimer->start();
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
    } else if (cd->overDeadline) {
        cd->failDeadline(u"attempt %1 was still in flight"_s.arg(cd->attempts));
    } else if (std::exchange(cd->takenBack, false)) {
        cd->failUnprocessed(u"Qt held this request back unsent on an HTTP/2 connection with nothing else in flight "
                            u"(as Qt 6.4 does after the server ends a connection with GOAWAY)"_s);
    } else if (cd->overCap >= 0 || (cd->cap > 0 && cd->responseBody.size() > cd->cap)) {
        // Caught by the sweep while it came in, or whole before the sweep's next tick.
        const bool swept = cd->overCap >= 0;
        if (!swept)
            cd->overCap = lengthOk && announced > cd->cap ? announced : cd->responseBody.size();
        cd->error = QNetworkReply::UnknownContentError;
        cd->errorString = u"%1: the answer is larger than the call's cap of %2 (maxResponseSize): %3"_s
                              .arg(where, formatByteSize(cd->cap),
                                   lengthOk && announced == cd->overCap ? u"it announced %1 bytes"_s.arg(announced)
                                   : swept ? u"stopped after %1 bytes"_s.arg(cd->overCap)
                                           : u"it sent %1 bytes"_s.arg(cd->overCap));
        cd->responseBody.clear();
        cd->bytes = 0;
    } else if (cd->error == QNetworkReply::NoError && lengthOk && cd->verb != "HEAD" && cd->status != 204
        && cd->status != 304 && cd->responseBody.size() < announced
        && !reply->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool()) {
        // Qt can report success when the peer resets the connection mid-body: never take a
        // truncated body for a whole one.
        cd->error = QNetworkReply::RemoteHostClosedError;
        cd->errorString = u"%1: the connection closed after %2 of %3 body bytes"_s.arg(where)
                              .arg(cd->responseBody.size()).arg(announced);
    } else if (cd->error == QNetworkReply::ProtocolFailure && !cd->status
               && reply->errorString() == QLatin1StringView(QtRefusedStream)) {
        // RST_STREAM REFUSED_STREAM: a loaded server (nginx beyond its stream limit) closed the
        // stream before any processing (RFC 9113, 8.7). Qt 6.4 reports a ProtocolFailure with
        // that text; said as what it is, and like a request refused by GOAWAY, sent again.
        cd->failUnprocessed(u"the server refused the HTTP/2 stream (REFUSED_STREAM) before processing the request"_s);
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
        else if (cd->error == QNetworkReply::ContentReSendError && hostProto[size_t(cd->hostId)] != Proto::Http1)
            // Qt 6.4's answer for an HTTP/2 stream above a GOAWAY's last stream id (RFC 9113, 6.8).
            // (Over HTTP/1.1 the same code means that Qt's own resend failed: maybe processed.)
            cd->failUnprocessed(u"the server ended the HTTP/2 connection (GOAWAY) before taking this request"_s);
        else
            cd->errorString = u"%1: %2"_s.arg(where, name);
        // No answer through a proxy: say which one (Qt reports a proxy that refuses the
        // connection as ConnectionRefusedError), and what a 407 wants.
        if (!cd->status || cd->error == QNetworkReply::ProxyAuthenticationRequiredError) {
            const QNetworkProxy via = proxyPlan->forUrl(reply->url());
            if (via.type() != QNetworkProxy::NoProxy)
                cd->errorString += u" (through proxy %1%2)"_s.arg(
                    ProxyPlan::describeProxy(via),
                    cd->error != QNetworkReply::ProxyAuthenticationRequiredError ? QString()
                    : via.user().isEmpty() ? u": it asks for credentials; put them in the proxy URL, http://user:password@host:port"_s
                                           : u": it refused the credentials of the proxy URL"_s);
        }
    } else {
        cd->errorString.clear();
    }
    if (!aborted && cd->error == QNetworkReply::NoError && cd->status >= 300 && cd->status < 400
        && followRedirect(call, reply)) {
        reply->deleteLater();
        return;
    }
    reply->deleteLater();

    const bool statusRetry = cd->status && options.retry.statuses.contains(cd->status);
    const bool errorRetry = isTransient(cd->error);   // a reset mid-body too
    // A request the server never processed is sent again whatever its method; any other
    // failure only if the method may be repeated. An answer over the size cap (the sweep's or
    // seen here) would only be too large again.
    const bool unprocessed = std::exchange(cd->neverProcessed, false);
    bool retry = !aborted && cd->overCap < 0 && sending() && cd->attempts < cd->maxAttempts
        && (unprocessed || (cd->repeatable && (statusRetry || errorRetry)));
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
        if (retry && cd->deadlineAt >= 0 && clock.elapsed() + wait.count() >= cd->deadlineAt) {
            cd->errorString += u" (not retried: the next attempt would start after the call's deadline of %1 ms)"_s
                                   .arg(cd->deadline.count());
            retry = false;
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
            queue.push_front(call, call->d->hostId);   // its turn came long ago
            pump();
        });
    }
    cd->retryTimer->start(int(wait.count()));
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
        cd->finished = true;
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
    cd->queued = true;
    d->queue.push_back(call, cd->hostId);
    d->pump();
    return call;
}

} // namespace berth
