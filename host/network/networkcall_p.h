// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A call of send(): where it is in its life (CallState) and what it carries from attempt to
// attempt (networkcall.cpp, networkattempt.cpp, networkredirect.cpp, networktimeouts.cpp).
// Private, not installed.
#pragma once

#include <berth/networksession.h>

#include <QtCore/QTimer>

#include <chrono>

namespace berth {

using namespace Qt::StringLiterals;

namespace netdetail {

/// Where a call of send() is in its life: one state at a time. A call goes New -> Queued ->
/// InFlight, then Finished, or Waiting -> Queued for another attempt, or Queued (or straight
/// InFlight, while the host drains) again for a redirect hop. Why it ended is told apart by the
/// call's flags (cancelled, byHost, overDeadline) and its error.
enum class CallState : quint8 {
    New,        ///< made by send(), not in the session's queue yet (its ledger entry is being made)
    Queued,     ///< in the session's queue (CallQueue), waiting for a free connection
    InFlight,   ///< handed to Qt by dispatch(): reply is set until the attempt's end is handled
    Waiting,    ///< between attempts: in the session's waiting list, its retry timer running
    Finished,   ///< over (finishCall(), or refused by send()): finished() is emitted or on its way
};

} // namespace netdetail

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
    /// Attempts dispatched so far (a redirect hop is not one): it has been sent once this is above 0.
    int attempts = 0;
    int maxAttempts = 1;
    int redirects = 0;          ///< hops followed so far
    bool hop = false;           ///< the next dispatch is a redirect hop, not another attempt
    int maxRedirects = 0;
    QNetworkRequest::RedirectPolicy redirectPolicy = QNetworkRequest::NoLessSafeRedirectPolicy;
    netdetail::CallState state = netdetail::CallState::New;
    bool cancelled = false;     ///< abort() or the shutdown ended it
    bool byHost = false;        ///< the host's cancel phase (through the ledger) ended it
    QNetworkReply *reply = nullptr;
    /// Its attempts keep Qt's transfer timer (on the request) rather than the session's stall
    /// sweep: it uploads a body, and only Qt sees upload progress.
    bool keepsQtTimer() const { return !body.isEmpty(); }
    qint64 progress = -1;       ///< what the stall sweep last saw of the reply (bytes, +1 once answered)
    qint64 progressAt = 0;      ///< session clock (ms) when that changed, or the attempt started
    QTimer *retryTimer = nullptr;
    std::chrono::milliseconds deadline{0};   ///< the call's own budget (CallOptions, callTimeout)
    qint64 deadlineAt = -1;     ///< session clock (ms) when it passes; -1: no deadline
    bool overDeadline = false;  ///< the deadline ended it
    bool takenBack = false;     ///< taken back from Qt, which held it unsent on an idle HTTP/2 pool (sweepStalls)
    /// The attempt just ended provably unprocessed (GOAWAY, REFUSED_STREAM, taken back): it
    /// may be sent again whatever the method.
    bool neverProcessed = false;
    /// Ends the attempt as one the server provably never processed (\a what happened, said
    /// after "ContentReSendError: "): it is sent again whatever the method.
    void failUnprocessed(const QString &what)
    {
        neverProcessed = true;
        error = QNetworkReply::ContentReSendError;
        errorString = where + u": ContentReSendError: "_s + what
            + u"; it was never processed (the retry policy sends it again while attempts remain)"_s;
    }
    bool repeatable = false;    ///< idempotent, or retryNonIdempotent: any transient failure is retried
    qint64 cap = 0;             ///< the largest body it takes in (maxResponseSize); 0: none
    qint64 overCap = -1;        ///< the size cap ended it: what the answer announced or had sent
    /// The attempt's head has come (the sweep looks once), and the Content-Length it announced
    /// (-1: none, or a HEAD).
    bool headSeen = false;
    qint64 announced = -1;
    /// Ends the call as over its deadline: \a stage says where it was.
    void failDeadline(const QString &stage)
    {
        error = QNetworkReply::TimeoutError;
        errorString = u"%1: not done within its deadline of %2 ms (%3)"_s.arg(where).arg(deadline.count()).arg(stage);
    }
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    int status = 0;
    QByteArray responseBody;
    QList<QNetworkReply::RawHeaderPair> headers;
    qint64 bytes = 0;
};

} // namespace berth
