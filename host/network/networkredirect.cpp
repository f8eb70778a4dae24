// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The redirects send() follows itself: each hop by the call's redirect policy (net::redirectFor),
// on a free connection of the hop's host, and none once the host is stopping.
#include "network/networksession_p.h"

namespace berth {

bool NetworkSession::Private::followRedirect(NetworkCall *call, QNetworkReply *reply)
{
    auto *cd = call->d.get();
    const net::Redirect r = net::redirectFor(reply->url(), cd->status, reply->rawHeader("Location"), cd->verb,
                                             cd->redirectPolicy);
    if (r.error != QNetworkReply::NoError) {
        cd->error = r.error;
        cd->errorString = cd->where + u": "_s + r.reason;
        return false;
    }
    if (r.url.isEmpty())
        return false;
    const Named target = named(r.verb, r.url);
    const QString &next = target.name;
    if (cd->redirects >= cd->maxRedirects) {
        cd->error = QNetworkReply::TooManyRedirectsError;
        cd->errorString = u"%1: too many redirects (more than %2; the next was %3)"_s.arg(cd->where)
                              .arg(cd->maxRedirects).arg(next);
        return false;
    }
    if (state >= State::Aborting || cd->cancelled) {
        cd->cancelled = true;
        cd->error = QNetworkReply::OperationCanceledError;
        cd->errorString = u"%1: the redirect to %2 was not followed: the host is stopping"_s.arg(cd->where, next);
        return false;
    }
    ++cd->redirects;
    QNetworkRequest request = cd->request;
    request.setUrl(r.url);
    if (r.crossOrigin) {
        request.setRawHeader("Authorization", QByteArray());
        request.setRawHeader("Cookie", QByteArray());
    }
    if (r.dropBody) {
        cd->body.clear();
        request.setHeader(QNetworkRequest::ContentTypeHeader, QVariant());
    }
    cd->request = request;
    cd->verb = r.verb;
    cd->hostId = request.peerVerifyName().isEmpty() ? target.hostId : hostIdOf(r.url, request.peerVerifyName());
    cd->where = next;
    cd->hop = true;   // dispatch() does not count it as an attempt
    ledger->update(cd->ledgerId, KindQueued, u"%1 (redirect %2)"_s.arg(next).arg(cd->redirects));
    if (sending()) {
        cd->state = CallState::Queued;
        queue.push_front(call, cd->hostId);
        pump();
        return true;
    }
    // Draining: the hop belongs to a request in flight, so it goes now if its host has room;
    // nothing new waits in a queue once the host stops.
    if (inFlight < maxConcurrent && host(cd->hostId).inFlight < perHostLimit) {
        if (const auto slot = pickSlot(cd->hostId); slot.first) {
            dispatch(call, slot.first, slot.second);
            return true;
        }
    }
    cd->hop = false;
    cd->cancelled = true;
    cd->error = QNetworkReply::OperationCanceledError;
    cd->errorString = u"%1: the redirect was not followed: the host is stopping and %2 has no free connection"_s
                          .arg(next, hostKeyOf(r.url, {}));
    return false;
}

} // namespace berth
