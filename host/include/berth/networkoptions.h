// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The settings of one service's NetworkSession: the "network" object of a service (or the
// top-level "network" object, whose values every service inherits). Light header: no QtNetwork.
#pragma once

#include <QtCore/QString>
#include <QtCore/QStringList>

#include <chrono>

namespace berth {

struct RetryOptions
{
    int attempts = 3;                                ///< "attempts": tries in all; 1 = no retry
    std::chrono::milliseconds base{250};             ///< "base": first backoff step
    std::chrono::milliseconds cap{30000};            ///< "cap": largest wait, Retry-After included
    bool nonIdempotent = false;                      ///< "nonIdempotent": also retry POST/PATCH
    QList<int> statuses{429, 502, 503, 504};         ///< "statuses": HTTP statuses worth a retry
};

struct NetworkOptions
{
    enum class Redirects { NoLessSafe, SameOrigin, None };

    /// "transferTimeout": a transfer with no data for this long fails (0 = none).
    std::chrono::milliseconds transferTimeout{30000};
    /// "callTimeout": the most one send() call may take from send() to its end, time in the
    /// session's queue, every attempt, the waits between them and redirects included (0 = none).
    std::chrono::milliseconds callTimeout{0};
    /// "maxConcurrent": requests of this session in flight at once; the rest wait in the
    /// session's own queue (as ledger entries). 0 = automatic (64, or what the service asks for).
    int maxConcurrent = 0;
    /// "maxResponseSize": the largest body one send() call takes in (0 = no cap). Checked while
    /// the answer comes in (every 100 ms) and at its end; a larger one fails the call.
    qint64 maxResponseBytes = DefaultMaxResponseBytes;
    /// "connectionsPerHost": connections to one host:port. Qt 6.4 fixes 6 per manager, so the
    /// session spreads requests over several managers. 0 = automatic (6, or what the service asks for).
    int connectionsPerHost = 0;
    Redirects redirects = Redirects::NoLessSafe;     ///< "redirects"
    int maxRedirects = 50;                           ///< "maxRedirects" (Qt's default)
    bool http2 = true;                               ///< "http2": use HTTP/2 where the server offers it (TLS)
    RetryOptions retry;                              ///< "retry"
    double ratePerSecond = 0;                        ///< "rateLimit.perSecond"; 0 = no limit
    int rateBurst = 1;                               ///< "rateLimit.burst"
    QString cookieJar;                               ///< "cookieJar": file kept across runs; empty = in memory
    QString cacheDir;                                ///< "cache.dir": disk cache; empty = none
    qint64 cacheMaxBytes = 50ll * 1024 * 1024;       ///< "cache.maxMiB"
    QString caBundle;                                ///< "caBundle": extra trusted CAs (PEM file)
    QStringList redactQuery;                         ///< "redactQuery": more query parameters to hide
    /// "proxy": empty or "environment" (https_proxy, http_proxy, all_proxy, no_proxy, either
    /// case), "none", or a proxy URL (http://[user:password@]host:port, socks5://, socks5h://).
    QString proxy;
    QStringList noProxy;                             ///< "noProxy": hosts reached directly

    static constexpr qint64 DefaultMaxResponseBytes = 64ll * 1024 * 1024;
    static constexpr int DefaultMaxConcurrent = 64;
    static constexpr int DefaultConnectionsPerHost = 6;
};

} // namespace berth
