// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What happens when an attempt of send() ends: the answer taken in and its failure said in the
// session's words, a redirect followed (networkredirect.cpp), a retry after a backoff, or the
// call's end.
#include "config/config.h"
#include "network/networkproxy_p.h"
#include "network/networksession_p.h"

#include <QtCore/QMetaEnum>
#include <QtCore/QRandomGenerator>

#include <optional>

namespace berth {

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
        else if (cd->error == QNetworkReply::ContentReSendError && host(cd->hostId).proto != Proto::Http1)
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
    cd->state = CallState::Waiting;
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
            waiting.removeOne(call);
            call->d->state = CallState::Queued;
            ledger->update(call->d->ledgerId, KindQueued, call->d->where);
            queue.push_front(call, call->d->hostId);   // its turn came long ago
            pump();
        });
    }
    cd->retryTimer->start(int(wait.count()));
}

} // namespace berth
