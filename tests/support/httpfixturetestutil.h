// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Shared by the HttpFixture tests (tst_httpfixture: endpoints and protocol;
// tst_httpfixturelifecycle: start and stop, counters, threads, the http-fixture service):
// one request through a real QNetworkAccessManager, waited for, and its result.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QByteArrayView>
#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>
#include <QtTest/QSignalSpy>

#include <memory>

namespace berth::fixturetest {

struct Result
{
    int status = 0;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QByteArray body;
    qint64 elapsedMs = 0;
    int redirects = 0;
    bool fromCache = false;
    QList<QNetworkReply::RawHeaderPair> headers;

    QByteArray header(QByteArrayView name) const
    {
        for (const auto &[k, v] : headers) {
            if (QByteArrayView(k).compare(name, Qt::CaseInsensitive) == 0)
                return v;
        }
        return {};
    }
    QJsonObject json() const { return QJsonDocument::fromJson(body).object(); }
};

/// One request, waited for (20 s at most: the machine may be loaded; status -1 if it timed out).
/// GET and HEAD go through get() and head(): QNAM neither caches a custom request nor knows that
/// a custom "HEAD" has no body.
inline Result fetch(QNetworkAccessManager &nam, QNetworkRequest request, const QByteArray &method = "GET",
                    const QByteArray &body = {})
{
    Result r;
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QNetworkReply> reply(method == "GET" && body.isEmpty() ? nam.get(request)
                                         : method == "HEAD"                ? nam.head(request)
                                                                           : nam.sendCustomRequest(request, method, body));
    QSignalSpy redirected(reply.get(), &QNetworkReply::redirected);
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    if (!finished.wait(20000)) {
        r.status = -1;
        return r;
    }
    r.elapsedMs = t.elapsed();
    r.status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
    r.error = reply->error();
    r.body = reply->readAll();
    r.redirects = int(redirected.size());
    r.fromCache = reply->attribute(QNetworkRequest::SourceIsFromCacheAttribute).toBool();
    r.headers = reply->rawHeaderPairs();
    return r;
}

inline Result get(QNetworkAccessManager &nam, const QUrl &url) { return fetch(nam, QNetworkRequest(url)); }

} // namespace berth::fixturetest
