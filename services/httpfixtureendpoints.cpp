// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixtureConnection's endpoint handlers (/delay, /status, /flaky, /reset, /trickle,
// /redirect, /echo, /cookie/set, /cookie/get, /cache); dispatch() picks one per request.
#include "httpfixture_p.h"

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QUrl>

#include <limits>

namespace berth {

// ---- endpoints ---------------------------------------------------------------------------------

void HttpFixtureConnection::serveDelay(const Request &req, Params &p)
{
    const qint64 ms = p.millis("ms", 200);
    m_value = p.integer("size", 0, 0, kMaxBody);
    if (p.error().isEmpty())
        defer(Defer::Delay, req, int(qMax<qint64>(ms, 1)));
}

bool HttpFixtureConnection::retryAfter(const Query &q, Params &p, QByteArray *extra)
{
    if (q.has("retryAfter"))
        extra->append("Retry-After: " + QByteArray::number(p.integer("retryAfter", 0, 0, 86400 * 365)) + "\r\n");
    if (q.has("retryAfterDate")) {
        const QByteArray text = q.text("retryAfterDate");
        bool isSeconds = false;
        const qint64 secs = text.toLongLong(&isSeconds);
        if (text.contains('\r') || text.contains('\n') || text.isEmpty()) {
            p.fail("retryAfterDate", q.raw("retryAfterDate"), "an HTTP-date or a number of seconds");
            return false;
        }
        const QByteArray date = isSeconds ? httpDate(QDateTime::currentDateTimeUtc().addSecs(secs)) : text;
        extra->append("Retry-After: " + date + "\r\n");
    }
    return p.error().isEmpty();
}

void HttpFixtureConnection::serveStatus(const Request &req, const Query &q, Params &p, bool flaky)
{
    const int code = int(p.integer("code", flaky ? 503 : 200, 200, 599));
    QByteArray extra;
    if (!retryAfter(q, p, &extra))
        return;
    if (!flaky) {
        respond(code, "status " + QByteArray::number(code) + "\n", "text/plain", extra);
        return;
    }
    const qint64 fail = p.integer("fail", 1, 0, std::numeric_limits<int>::max());
    if (!p.error().isEmpty())
        return;
    int attempt = 0;
    {
        QMutexLocker lock(&m_stats.mutex);
        attempt = ++m_stats.flaky[q.text("key")];
    }
    if (attempt <= fail) {
        extra.append("X-Attempt: " + QByteArray::number(attempt) + "\r\n");
        respond(code, "failure " + QByteArray::number(attempt) + " of " + QByteArray::number(fail) + "\n",
                "text/plain", extra);
    } else {
        respond(200, "ok after " + QByteArray::number(fail) + " failures\n", "text/plain",
                "X-Attempt: " + QByteArray::number(attempt) + "\r\n");
    }
}

void HttpFixtureConnection::serveReset(const Request &req, Params &p)
{
    const qint64 after = p.integer("after", 100, 0, kMaxBody);
    const qint64 length = p.integer("length", after + 100'000, 1, std::numeric_limits<qint64>::max() / 2);
    const qint64 wait = p.millis("wait", 50);
    if (p.error().isEmpty() && length <= after)
        p.fail("length", QByteArray::number(length), "more than after");
    if (!p.error().isEmpty())
        return;
    if (m_headOnly) {
        queue(head(200, length, "application/octet-stream", {}));
        responseQueued();
        return;
    }
    queue(head(200, length, "application/octet-stream", {}) + QByteArray(after, 'x'));
    // The RST comes \a wait after the bytes left: a client that reads them first sees the reset
    // mid-body; one that reads them together with the RST may not (see the header).
    defer(Defer::Reset, req, int(qMax<qint64>(wait, 1)));
}

void HttpFixtureConnection::serveTrickle(const Request &req, const Query &q, Params &p)
{
    m_value = p.integer("bytes", 1000, 1, kMaxBody);
    m_chunk = p.integer("chunk", 10, 1, kMaxBody);
    const qint64 every = p.millis("every", 50);
    m_chunked = p.integer("chunked", 0, 0, 1) == 1;
    if (!p.error().isEmpty())
        return;
    queue(head(200, m_chunked ? -1 : m_value, "application/octet-stream", {}));
    if (m_headOnly) {
        responseQueued();
        return;
    }
    defer(Defer::Trickle, req, int(qMax<qint64>(every, 1)));
}

void HttpFixtureConnection::serveRedirect(const Request &req, const Query &q, Params &p)
{
    const qint64 n = p.integer("n", 1, 1, 1000);
    const int code = int(p.integer("code", 302, 301, 308));
    const QByteArray to = q.text("to", "/fast");
    if (p.error().isEmpty() && !(code <= 303 || code >= 307))
        p.fail("code", q.raw("code"), "301, 302, 303, 307 or 308");
    // Never send a client off the machine.
    const bool local = (to.startsWith('/') && !to.startsWith("//"))
        || [&] {
               const QUrl u(QString::fromUtf8(to));
               const QString host = u.host();
               return u.scheme() == u"http"
                   && (host == u"127.0.0.1" || host == u"localhost" || host == u"::1");
           }();
    if (p.error().isEmpty() && !local)
        p.fail("to", q.raw("to"), "a path on this server or an http URL on 127.0.0.1, localhost or [::1]");
    if (!p.error().isEmpty())
        return;
    QByteArray location = to;
    if (n > 1)
        location = "/redirect?n=" + QByteArray::number(n - 1);
    if (n > 1 && q.has("to"))
        location += "&to=" + q.raw("to").toByteArray();
    if (n > 1 && q.has("code"))
        location += "&code=" + QByteArray::number(code);
    if (n > 1 && q.has("ms"))
        location += "&ms=" + q.raw("ms").toByteArray();
    const qint64 ms = p.millis("ms", 0);
    if (!p.error().isEmpty())
        return;
    if (ms > 0) {   // each hop answers after ms: a redirect that arrives while the client stops
        m_value = 0;
        m_delayedCode = code;
        m_delayedExtra = "Location: " + location + "\r\n";
        defer(Defer::Delay, req, int(ms));
        return;
    }
    respond(code, QByteArray(), "text/plain", "Location: " + location + "\r\n");
}

void HttpFixtureConnection::serveEcho(const Request &req)
{
    QJsonObject headers;
    for (const auto &[k, v] : req.headers) {
        const QString key = QString::fromLatin1(k).toLower();
        const QString value = QString::fromLatin1(v);
        const auto it = headers.constFind(key);
        headers.insert(key, it == headers.constEnd() ? value : it->toString() + u", " + value);
    }
    const QJsonObject o{
        {u"method"_s, QString::fromLatin1(req.method)},
        {u"target"_s, QString::fromLatin1(req.target)},
        {u"path"_s, QString::fromLatin1(req.path)},
        {u"query"_s, QString::fromLatin1(req.query)},
        {u"version"_s, QString::fromLatin1(req.version)},
        {u"headers"_s, headers},
        {u"body"_s, QString::fromUtf8(req.body)},
        {u"bodySize"_s, req.body.size()},
    };
    respond(200, QJsonDocument(o).toJson(QJsonDocument::Compact), "application/json");
}

void HttpFixtureConnection::serveCookieSet(const Query &q)
{
    QByteArray extra;
    QJsonObject set;
    q.forEach([&](QByteArrayView k, QByteArrayView v) {
        extra.append("Set-Cookie: " + k.toByteArray() + "=" + v.toByteArray() + "; Path=/\r\n");
        set.insert(QString::fromLatin1(k), QString::fromLatin1(v));
    });
    if (set.isEmpty()) {
        respond(400, "give the cookies as parameters: /cookie/set?name=value\n");
        return;
    }
    respond(200, QJsonDocument(QJsonObject{{u"set"_s, set}}).toJson(QJsonDocument::Compact),
            "application/json", extra);
}

void HttpFixtureConnection::serveCookieGet(const Request &req)
{
    const QByteArrayView raw = req.header("cookie");
    QJsonObject cookies;
    for (QByteArrayView item : QByteArray::fromRawData(raw.data(), raw.size()).split(';')) {
        item = item.trimmed();
        const qsizetype eq = item.indexOf('=');
        if (eq > 0)
            cookies.insert(QString::fromLatin1(item.first(eq)), QString::fromLatin1(item.sliced(eq + 1)));
    }
    const QJsonObject o{{u"cookie"_s, QString::fromLatin1(raw)}, {u"cookies"_s, cookies}};
    respond(200, QJsonDocument(o).toJson(QJsonDocument::Compact), "application/json");
}

void HttpFixtureConnection::serveCache(const Request &req, const Query &q, Params &p)
{
    const qint64 maxAge = p.integer("maxAge", 60, 0, 86400 * 365);
    const bool noCache = p.integer("noCache", 0, 0, 1) == 1;
    const QByteArray tag = q.text("etag", "v1");
    if (tag.contains('"') || tag.contains('\r') || tag.contains('\n'))
        p.fail("etag", q.raw("etag"), "a tag without quotes or line breaks");
    if (!p.error().isEmpty())
        return;
    const QByteArray etag = '"' + tag + '"';
    const QByteArray control = noCache ? QByteArray("no-cache") : "max-age=" + QByteArray::number(maxAge);
    const QByteArray extra = "Cache-Control: " + control + "\r\nETag: " + etag
        + "\r\nLast-Modified: " + kLastModified.toByteArray() + "\r\n";
    const QByteArrayView inm = req.header("if-none-match");
    bool notModified = false;
    if (!inm.isNull()) {
        const QByteArray weak = "W/" + etag;
        for (const QByteArray &t : QByteArray::fromRawData(inm.data(), inm.size()).split(',')) {
            const QByteArray tag = t.trimmed();
            notModified = notModified || tag == etag || tag == weak || tag == "*";
        }
    } else {
        notModified = req.header("if-modified-since") == kLastModified;
    }
    if (notModified)
        respond(304, {}, {}, extra);
    else
        respond(200, "cached body, etag " + tag + "\n", "text/plain", extra);
}

} // namespace berth
