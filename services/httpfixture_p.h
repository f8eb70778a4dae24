// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Private to HttpFixture's files (httpfixture.cpp: the public API and the server;
// httpfixtureconnection.cpp: one connection, parsing and deferred responses;
// httpfixtureendpoints.cpp: the endpoint handlers; httpfixtureprotocol.cpp: HTTP/1.1 helpers).
#pragma once

#include "httpfixture.h"

#include <QtCore/QByteArray>
#include <QtCore/QByteArrayView>
#include <QtCore/QDateTime>
#include <QtCore/QMutex>
#include <QtCore/QSet>
#include <QtCore/QVarLengthArray>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>

#include <array>
#include <atomic>


namespace berth {

using namespace Qt::StringLiterals;

// Named rather than anonymous: the classes below, defined across several files, use these types.
namespace fixturedetail {

enum class Endpoint { Index, Fast, Delay, Never, Status, Flaky, Reset, Trickle, Redirect, Echo,
                      CookieSet, CookieGet, Cache, Other };
constexpr int EndpointCount = int(Endpoint::Other);
constexpr std::array<QByteArrayView, EndpointCount> kPaths = {
    "/", "/fast", "/delay", "/never", "/status", "/flaky", "/reset", "/trickle", "/redirect",
    "/echo", "/cookie/set", "/cookie/get", "/cache"};

constexpr qsizetype kMaxHead = 64 * 1024;
constexpr qint64 kMaxBody = 16 * 1024 * 1024;
constexpr QByteArrayView kLastModified = "Mon, 01 Jan 2024 00:00:00 GMT";
constexpr QByteArrayView kFastBody = "ok\n";

Endpoint endpointOf(QByteArrayView path);
QByteArrayView reasonPhrase(int code);
QByteArray httpDate(const QDateTime &utc);

/// The query string of one request, read in place (values are decoded only when asked).
class Query
{
public:
    explicit Query(QByteArrayView query) : m_q(query) {}

    /// The raw value of the first \a key ("" for a bare key); a null view when absent.
    QByteArrayView raw(QByteArrayView key) const
    {
        QByteArrayView found;
        forEach([&](QByteArrayView k, QByteArrayView v) {
            if (found.isNull() && k == key)
                found = v.isNull() ? QByteArrayView("", 0) : v;
        });
        return found;
    }
    bool has(QByteArrayView key) const { return !raw(key).isNull(); }
    QByteArray text(QByteArrayView key, QByteArrayView fallback = {}) const
    {
        const QByteArrayView r = raw(key);
        return r.isNull() ? fallback.toByteArray() : decode(r);
    }
    template<typename F> void forEach(F &&f) const
    {
        for (qsizetype pos = 0; pos < m_q.size();) {
            qsizetype amp = m_q.indexOf('&', pos);
            if (amp < 0)
                amp = m_q.size();
            const QByteArrayView item = m_q.sliced(pos, amp - pos);
            const qsizetype eq = item.indexOf('=');
            if (!item.isEmpty())
                f(eq < 0 ? item : item.first(eq), eq < 0 ? QByteArrayView() : item.sliced(eq + 1));
            pos = amp + 1;
        }
    }
    static QByteArray decode(QByteArrayView v)
    {
        return QByteArray::fromPercentEncoding(v.toByteArray().replace('+', ' '));
    }

private:
    QByteArrayView m_q;
};

/// Reads integer and duration parameters, collecting the first error for a 400.
class Params
{
public:
    explicit Params(const Query &q) : m_q(q) {}
    qint64 integer(QByteArrayView key, qint64 fallback, qint64 min, qint64 max)
    {
        const QByteArrayView r = m_q.raw(key);
        if (r.isNull())
            return fallback;
        bool ok = false;
        const qint64 v = r.toLongLong(&ok);
        if (!ok || v < min || v > max)
            fail(key, r, "an integer from %1 to %2"_ba.replace("%1", QByteArray::number(min)).replace("%2", QByteArray::number(max)));
        return ok ? qBound(min, v, max) : fallback;
    }
    /// "200", "200ms" or "2s", in milliseconds.
    qint64 millis(QByteArrayView key, qint64 fallback)
    {
        QByteArrayView r = m_q.raw(key);
        if (r.isNull())
            return fallback;
        qint64 scale = 1;
        if (r.endsWith("ms")) {
            r.chop(2);
        } else if (r.endsWith("s")) {
            r.chop(1);
            scale = 1000;
        }
        bool ok = false;
        const qint64 v = r.toLongLong(&ok);
        if (!ok || v < 0 || v > 3'600'000 / scale) {
            fail(key, m_q.raw(key), "a duration such as 200, 200ms or 2s (at most 1h)");
            return fallback;
        }
        return v * scale;
    }
    void fail(QByteArrayView key, QByteArrayView value, QByteArrayView expected)
    {
        if (m_error.isEmpty())
            m_error = "bad parameter " + key.toByteArray() + "=" + value.toByteArray() + ": expected " + expected.toByteArray() + "\n";
    }
    const QByteArray &error() const { return m_error; }

private:
    const Query &m_q;
    QByteArray m_error;
};

struct Request
{
    QByteArrayView method, target, path, query, version, body;
    QVarLengthArray<std::pair<QByteArrayView, QByteArrayView>, 16> headers;
    qint64 contentLength = 0;
    bool keepAlive = true;
    bool chunkedBody = false;
    bool headOnly = false;

    QByteArrayView header(QByteArrayView name) const
    {
        for (const auto &[k, v] : headers) {
            if (k.compare(name, Qt::CaseInsensitive) == 0)
                return v;
        }
        return {};
    }
};

/// Parses the head in \a head (up to and including the empty line). False if malformed.
bool parseHead(QByteArrayView head, Request *req);

} // namespace fixturedetail

using namespace fixturedetail;

struct HttpFixtureStats
{
    std::atomic<qint64> accepted{0}, received{0}, completed{0}, abandoned{0}, aborted{0};
    std::atomic<int> open{0}, peak{0}, pending{0};
    std::array<std::atomic<qint64>, EndpointCount> perEndpoint{};
    QMutex mutex;                      // guards the members below
    QHash<QString, qint64> otherPaths;
    QList<qint64> arrivals;
    QHash<QByteArray, int> flaky;

    void opened()
    {
        ++accepted;
        const int now = ++open;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) { }
    }
    void arrived(Endpoint e, QByteArrayView path)
    {
        ++received;
        const qint64 t = QDateTime::currentMSecsSinceEpoch();
        if (e != Endpoint::Other)
            ++perEndpoint[size_t(e)];
        QMutexLocker lock(&mutex);
        arrivals.append(t);
        if (e == Endpoint::Other)
            ++otherPaths[QString::fromLatin1(path)];
    }
};

class HttpFixtureConnection;

/// The listener and the connections; lives on the server's thread.
class HttpFixtureServer : public QTcpServer
{
public:
    HttpFixtureServer(std::shared_ptr<HttpFixtureStats> stats,
                      std::function<void(quint64, const QString &)> started,
                      std::function<void(quint64)> ended);
    ~HttpFixtureServer() override;

    HttpFixtureStats &stats() { return *m_stats; }
    bool isDraining() const { return m_draining; }
    void drain();
    void shutdown();
    bool cancelPending(quint64 id);
    /// Registers \a c's response as pending, sets \a id, then runs the started hook (which may
    /// cancel it at once).
    void pendingBegan(HttpFixtureConnection *c, const QString &description, quint64 *id);
    void pendingEnded(quint64 id);
    void forget(HttpFixtureConnection *c) { m_connections.remove(c); }
    /// The Date header value, formatted once per second.
    const QByteArray &date();

    QByteArray fastKeepAlive, fastClose;

protected:
    void incomingConnection(qintptr fd) override;

private:
    std::shared_ptr<HttpFixtureStats> m_stats;
    std::function<void(quint64, const QString &)> m_started;
    std::function<void(quint64)> m_ended;
    QSet<HttpFixtureConnection *> m_connections;
    QHash<quint64, HttpFixtureConnection *> m_pending;
    quint64 m_nextPending = 0;
    qint64 m_dateSecs = -1;
    QByteArray m_date;
    bool m_draining = false;
};

/// One accepted connection: parses requests in place, answers them in order.
class HttpFixtureConnection : public QTcpSocket
{
public:
    explicit HttpFixtureConnection(HttpFixtureServer *server);
    ~HttpFixtureConnection() override;

    bool isBusy() const { return m_defer != Defer::None; }
    /// The server ends the connection (cancel, stop, /reset): what is unanswered is aborted.
    void closeByServer(bool rst);

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    enum class Defer { None, Delay, Never, Trickle, Reset };

    void onReadyRead();
    void processInput();
    void dispatch(const Request &req);
    void onBytesWritten(qint64 n);
    void cleanup();
    bool shouldClose() const { return m_closeAfter || m_server->isDraining(); }

    void queue(const QByteArray &data) { write(data); m_queued += data.size(); }
    void responseQueued();
    void respond(int code, const QByteArray &body, QByteArrayView contentType = "text/plain",
                 const QByteArray &extra = {});
    QByteArray head(int code, qint64 length, QByteArrayView contentType, QByteArrayView extra) const;
    void defer(Defer kind, const Request &req, int timerMs);
    void endDeferred();
    bool retryAfter(const Query &q, Params &p, QByteArray *extra);

    void serveDelay(const Request &req, Params &p);
    void serveStatus(const Request &req, const Query &q, Params &p, bool flaky);
    void serveReset(const Request &req, Params &p);
    void serveTrickle(const Request &req, const Query &q, Params &p);
    void serveRedirect(const Request &req, const Query &q, Params &p);
    void serveEcho(const Request &req);
    void serveCookieSet(const Query &q);
    void serveCookieGet(const Request &req);
    void serveCache(const Request &req, const Query &q, Params &p);

    HttpFixtureServer *m_server;
    HttpFixtureStats &m_stats;
    QByteArray m_in;
    qsizetype m_headEnd = -1;   // end of the current request's head in m_in, once seen
    qsizetype m_scan = 0;
    qint64 m_queued = 0;        // bytes handed to write()
    qint64 m_written = 0;       // bytes the socket reports written
    QVarLengthArray<qint64, 4> m_ends;  // m_queued at the end of each response not yet written
    int m_outstanding = 0;      // requests received and not yet ended
    bool m_closeAfter = false;
    bool m_sentContinue = false;
    bool m_serverClosing = false;
    bool m_closed = false;
    bool m_headOnly = false;
    Defer m_defer = Defer::None;
    int m_timerId = 0;
    quint64 m_pendingId = 0;
    qint64 m_value = 0;         // Delay: body size; Trickle: bytes left
    int m_delayedCode = 200;    // Delay: the status of the delayed answer (a redirect's 3xx)
    QByteArray m_delayedExtra;  // Delay: its extra header lines (a redirect's Location)
    qint64 m_chunk = 0;
    bool m_chunked = false;
};

} // namespace berth
