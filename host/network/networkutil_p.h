// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's pure helpers: Retry-After and HTTP dates, backoff, idempotent methods,
// redirect hops (networkutil.cpp, networkredirect.cpp). Unit-tested in tst_networkhelpers.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QDateTime>
#include <QtCore/QString>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

#include <chrono>
#include <optional>

namespace berth {

namespace net {
/// A Retry-After value (delta-seconds or HTTP-date) as a wait from \a now; nullopt if unusable.
std::optional<std::chrono::milliseconds> parseRetryAfter(const QByteArray &value, const QDateTime &now);
/// Parses an HTTP-date (IMF-fixdate, RFC 850, asctime); invalid QDateTime if unusable.
QDateTime parseHttpDate(const QByteArray &value);
/// Full-jitter backoff for retry number \a retry (1 = first retry): uniform in
/// [0, min(cap, base * 2^(retry-1))], \a unit in [0, 1) chooses where.
std::chrono::milliseconds backoffDelay(int retry, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit);
/// GET, HEAD, OPTIONS, TRACE, PUT, DELETE.
bool isIdempotent(const QByteArray &verb);

/// One redirect hop of a call, decided the way Qt decides it for a manager that follows them.
struct Redirect
{
    QUrl url;                  ///< where to go next; empty: the 3xx answer is the result
    QByteArray verb;
    bool dropBody = false;     ///< 301/302/303: the next request is a GET without a body
    bool crossOrigin = false;  ///< credentials set on the request (Authorization, Cookie) stay behind
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString reason;            ///< why the hop is refused
};
Redirect redirectFor(const QUrl &from, int status, const QByteArray &location, const QByteArray &verb,
                     QNetworkRequest::RedirectPolicy policy);
} // namespace net

} // namespace berth
