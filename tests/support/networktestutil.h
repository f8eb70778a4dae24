// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Shared by the network tests (tst_networksession, tst_networkretry, tst_networkrules, tst_networkhttp2): quick
// retry options, direct GETs, and a call's outcome recorded when it finishes, for one or many.
#pragma once

#include <berth/networksession.h>

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

#include <algorithm>
#include <chrono>
#include <memory>

namespace berth::nettest {
using namespace Qt::StringLiterals;
using namespace std::chrono_literals;

inline const QString Svc = u"svc"_s;

inline NetworkOptions quickOptions()
{
    NetworkOptions o;
    o.retry.base = 10ms;
    o.retry.cap = 2s;
    return o;
}

/// quickOptions() with the session's limits: \a maxConcurrent in flight, \a connectionsPerHost to one host.
inline NetworkOptions quickOptions(int maxConcurrent, int connectionsPerHost)
{
    NetworkOptions o = quickOptions();
    o.maxConcurrent = maxConcurrent;
    o.connectionsPerHost = connectionsPerHost;
    return o;
}

/// Waits for a call's finished() (the call deletes itself afterwards: read it in the handler).
struct Outcome
{
    bool done = false;
    int status = 0;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    QByteArray body;
    int attempts = 0;
    bool sent = false;
    QByteArray retryAfter;
};

inline std::shared_ptr<Outcome> watch(NetworkCall *call)
{
    auto out = std::make_shared<Outcome>();
    QObject::connect(call, &NetworkCall::finished, call, [call, out] {
        out->done = true;
        out->status = call->httpStatus();
        out->error = call->error();
        out->errorString = call->errorString();
        out->body = call->body();
        out->attempts = call->attempts();
        out->sent = call->wasSent();
        out->retryAfter = call->header("Retry-After");
    });
    return out;
}

using Outcomes = QList<std::shared_ptr<Outcome>>;

/// \a n GETs of \a url through \a s, watched.
inline Outcomes getMany(NetworkSession &s, int n, const QUrl &url)
{
    Outcomes outs;
    for (int i = 0; i < n; ++i)
        outs.append(watch(s.get(QNetworkRequest(url))));
    return outs;
}

/// \a n direct GETs of \a url on the session's manager (Qt's own replies, tracked).
inline QList<QNetworkReply *> getDirect(NetworkSession &s, int n, const QUrl &url)
{
    QList<QNetworkReply *> replies;
    for (int i = 0; i < n; ++i)
        replies.append(s.manager()->get(QNetworkRequest(url)));
    return replies;
}

inline bool allFinished(const QList<QNetworkReply *> &replies)
{
    return std::all_of(replies.cbegin(), replies.cend(), [](QNetworkReply *r) { return r->isFinished(); });
}

inline bool allDone(const Outcomes &outs)
{
    return std::all_of(outs.cbegin(), outs.cend(), [](const auto &o) { return o->done; });
}
} // namespace berth::nettest
