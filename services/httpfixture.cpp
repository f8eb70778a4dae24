// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "httpfixture.h"

#include <berth/servicecontext.h>

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLocale>
#include <QtCore/QMutex>
#include <QtCore/QSet>
#include <QtCore/QThread>
#include <QtCore/QTimerEvent>
#include <QtCore/QVarLengthArray>
#include <QtNetwork/QTcpServer>
#include <QtNetwork/QTcpSocket>

#include <array>
#include <atomic>
#include <limits>

// Two OS calls the fixture cannot do through Qt: raising the open-file limit, and SO_LINGER 0 so
// that /reset really sends an RST. Feature checks, not OS checks; without the headers the limit
// stays as it is and /reset ends with a FIN (still an error for the client: the body is short).
#if __has_include(<sys/resource.h>) && __has_include(<sys/socket.h>)
#include <sys/resource.h>
#include <sys/socket.h>
#define BERTH_FIXTURE_POSIX 1
#else
#define BERTH_FIXTURE_POSIX 0
#endif

using namespace Qt::StringLiterals;

namespace berth {

namespace {

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

Endpoint endpointOf(QByteArrayView path)
{
    for (int i = 0; i < EndpointCount; ++i) {
        if (kPaths[size_t(i)] == path)
            return Endpoint(i);
    }
    return Endpoint::Other;
}

QByteArrayView reasonPhrase(int code)
{
    switch (code) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

QByteArray httpDate(const QDateTime &utc)
{
    return QLocale::c().toString(utc, u"ddd, dd MMM yyyy hh:mm:ss 'GMT'").toLatin1();
}

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
bool parseHead(QByteArrayView head, Request *req)
{
    qsizetype eol = head.indexOf("\r\n");
    const QByteArrayView line = head.first(eol);
    const qsizetype sp1 = line.indexOf(' ');
    const qsizetype sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 <= sp1 + 1)
        return false;
    req->method = line.first(sp1);
    req->target = line.sliced(sp1 + 1, sp2 - sp1 - 1);
    req->version = line.sliced(sp2 + 1);
    if (!req->version.startsWith("HTTP/1.") || !req->target.startsWith('/'))
        return false;
    const qsizetype q = req->target.indexOf('?');
    req->path = q < 0 ? req->target : req->target.first(q);
    req->query = q < 0 ? QByteArrayView() : req->target.sliced(q + 1);
    for (qsizetype pos = eol + 2; pos < head.size();) {
        eol = head.indexOf("\r\n", pos);
        if (eol <= pos)
            break;   // the empty line
        const QByteArrayView h = head.sliced(pos, eol - pos);
        const qsizetype colon = h.indexOf(':');
        if (colon <= 0)
            return false;
        req->headers.append({h.first(colon).trimmed(), h.sliced(colon + 1).trimmed()});
        pos = eol + 2;
    }
    req->headOnly = req->method == "HEAD";
    const QByteArrayView connection = req->header("connection");
    if (req->version == "HTTP/1.0")
        req->keepAlive = connection.compare("keep-alive", Qt::CaseInsensitive) == 0;
    else
        req->keepAlive = connection.compare("close", Qt::CaseInsensitive) != 0;
    const QByteArrayView te = req->header("transfer-encoding");
    req->chunkedBody = !te.isNull() && te.compare("identity", Qt::CaseInsensitive) != 0;
    if (const QByteArrayView cl = req->header("content-length"); !cl.isNull()) {
        bool ok = false;
        req->contentLength = cl.toLongLong(&ok);
        if (!ok || req->contentLength < 0)
            return false;
    }
    return true;
}

} // namespace

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

// ---- HttpFixtureConnection ---------------------------------------------------------------------

HttpFixtureConnection::HttpFixtureConnection(HttpFixtureServer *server)
    : QTcpSocket(server), m_server(server), m_stats(server->stats())
{
    connect(this, &QIODevice::readyRead, this, &HttpFixtureConnection::onReadyRead);
    connect(this, &QIODevice::bytesWritten, this, &HttpFixtureConnection::onBytesWritten);
    connect(this, &QAbstractSocket::disconnected, this, &HttpFixtureConnection::cleanup);
    connect(this, &QAbstractSocket::errorOccurred, this, [this] {
        if (state() == UnconnectedState)
            cleanup();
    });
}

HttpFixtureConnection::~HttpFixtureConnection()
{
    closeByServer(false);   // no-op if closed; else ~QAbstractSocket must find nothing to abort
    QObject::disconnect(this, nullptr, this, nullptr);
}

void HttpFixtureConnection::onReadyRead()
{
    const qint64 avail = bytesAvailable();
    if (avail <= 0)
        return;
    const qsizetype old = m_in.size();
    m_in.resize(old + avail);
    const qint64 got = read(m_in.data() + old, avail);
    m_in.resize(old + qMax<qint64>(got, 0));
    if (m_in.size() > kMaxHead + kMaxBody) {
        closeByServer(false);   // a client that floods a busy connection
        return;
    }
    processInput();
}

void HttpFixtureConnection::processInput()
{
    bool wrote = false;
    while (!isBusy() && !m_closeAfter && state() == ConnectedState && !m_in.isEmpty()) {
        if (m_headEnd < 0) {
            const qsizetype i = QByteArrayView(m_in).indexOf("\r\n\r\n", m_scan);
            if (i < 0) {
                if (m_in.size() <= kMaxHead) {
                    m_scan = qMax<qsizetype>(0, m_in.size() - 3);
                    break;
                }
                ++m_outstanding;
                m_closeAfter = true;
                m_headOnly = false;
                respond(431, "request head too large\n");
                wrote = true;
                break;
            }
            m_headEnd = i + 4;
        }
        Request req;
        if (!parseHead(QByteArrayView(m_in).first(m_headEnd), &req) || req.chunkedBody
            || req.contentLength > kMaxBody) {
            ++m_outstanding;
            m_closeAfter = true;
            m_headOnly = false;
            if (req.chunkedBody)
                respond(501, "chunked request bodies are not supported\n");
            else if (req.contentLength > kMaxBody)
                respond(413, "request body too large\n");
            else
                respond(400, "malformed request\n");
            wrote = true;
            break;
        }
        const qsizetype total = m_headEnd + qsizetype(req.contentLength);
        if (m_in.size() < total) {
            if (!m_sentContinue && req.header("expect").compare("100-continue", Qt::CaseInsensitive) == 0) {
                m_sentContinue = true;
                queue(QByteArrayLiteral("HTTP/1.1 100 Continue\r\n\r\n"));
                wrote = true;
            }
            break;
        }
        req.body = QByteArrayView(m_in).sliced(m_headEnd, qsizetype(req.contentLength));
        ++m_outstanding;
        m_closeAfter = !req.keepAlive;
        dispatch(req);
        wrote = true;
        // The views in req point into m_in: consume only now.
        if (total == m_in.size())
            m_in.resize(0);   // keeps the capacity for the next request
        else
            m_in.remove(0, total);
        m_headEnd = -1;
        m_scan = 0;
        m_sentContinue = false;
    }
    if (wrote && state() == ConnectedState)
        flush();
}

void HttpFixtureConnection::dispatch(const Request &req)
{
    const Endpoint e = endpointOf(req.path);
    m_stats.arrived(e, req.path);
    if (e == Endpoint::Fast && req.query.isEmpty() && !req.headOnly) {
        // The benchmark path: one shared, preformatted response; no formatting, no allocation.
        queue(shouldClose() ? m_server->fastClose : m_server->fastKeepAlive);
        responseQueued();
        return;
    }
    m_headOnly = req.headOnly;
    const Query q(req.query);
    Params p(q);
    switch (e) {
    case Endpoint::Index:
        respond(200, "berth HttpFixture: /fast /delay?ms= /never /status?code=&retryAfter=&retryAfterDate= "
                     "/flaky?key=&fail=&code= /reset?after=&length= /trickle?bytes=&chunk=&every=&chunked= "
                     "/redirect?n=&to=&code=&ms= /echo /cookie/set?name=value /cookie/get /cache?maxAge=&etag=\n");
        return;
    case Endpoint::Fast: {
        const qint64 size = p.integer("size", kFastBody.size(), 0, kMaxBody);
        if (p.error().isEmpty())
            respond(200, q.has("size") ? QByteArray(size, 'x') : kFastBody.toByteArray());
        break;
    }
    case Endpoint::Delay: serveDelay(req, p); break;
    case Endpoint::Never: defer(Defer::Never, req, 0); break;
    case Endpoint::Status: serveStatus(req, q, p, false); break;
    case Endpoint::Flaky: serveStatus(req, q, p, true); break;
    case Endpoint::Reset: serveReset(req, p); break;
    case Endpoint::Trickle: serveTrickle(req, q, p); break;
    case Endpoint::Redirect: serveRedirect(req, q, p); break;
    case Endpoint::Echo: serveEcho(req); break;
    case Endpoint::CookieSet: serveCookieSet(q); break;
    case Endpoint::CookieGet: serveCookieGet(req); break;
    case Endpoint::Cache: serveCache(req, q, p); break;
    case Endpoint::Other: respond(404, "no such endpoint; GET / lists them\n"); break;
    }
    if (!p.error().isEmpty())
        respond(400, p.error());
}

QByteArray HttpFixtureConnection::head(int code, qint64 length, QByteArrayView contentType,
                                       QByteArrayView extra) const
{
    QByteArray h;
    h.reserve(160 + extra.size());
    h.append("HTTP/1.1 ").append(QByteArray::number(code)).append(' ').append(reasonPhrase(code))
        .append("\r\nDate: ").append(m_server->date()).append("\r\n");
    if (length >= 0)
        h.append("Content-Length: ").append(QByteArray::number(length)).append("\r\n");
    else if (length == -1)
        h.append("Transfer-Encoding: chunked\r\n");
    if (!contentType.isEmpty())
        h.append("Content-Type: ").append(contentType).append("\r\n");
    h.append(extra);
    if (shouldClose())
        h.append("Connection: close\r\n");
    h.append("\r\n");
    return h;
}

void HttpFixtureConnection::respond(int code, const QByteArray &body, QByteArrayView contentType,
                                    const QByteArray &extra)
{
    const bool noBody = code == 204 || code == 304;
    QByteArray out = head(code, noBody ? -2 : body.size(), noBody ? QByteArrayView() : contentType, extra);
    if (!noBody && !m_headOnly)
        out.append(body);
    queue(out);
    responseQueued();
}

void HttpFixtureConnection::responseQueued()
{
    m_ends.append(m_queued);
    if (shouldClose()) {
        m_closeAfter = true;
        disconnectFromHost();   // after the write buffer is flushed
    }
}

void HttpFixtureConnection::onBytesWritten(qint64 n)
{
    m_written += n;
    while (!m_ends.isEmpty() && m_ends.front() <= m_written) {
        m_ends.remove(0);
        --m_outstanding;
        ++m_stats.completed;
    }
}

void HttpFixtureConnection::defer(Defer kind, const Request &req, int timerMs)
{
    m_defer = kind;
    if (timerMs > 0 || kind == Defer::Reset)
        m_timerId = startTimer(timerMs, Qt::PreciseTimer);
    QString what = QString::fromLatin1(req.method) + u' ' + QString::fromLatin1(req.target);
    m_server->pendingBegan(this, what, &m_pendingId);
}

void HttpFixtureConnection::endDeferred()
{
    if (m_timerId)
        killTimer(m_timerId);
    m_timerId = 0;
    m_defer = Defer::None;
    if (const quint64 id = std::exchange(m_pendingId, 0))
        m_server->pendingEnded(id);
}

void HttpFixtureConnection::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_timerId) {
        QTcpSocket::timerEvent(event);
        return;
    }
    // A finished response is handed to the kernel before its pending entry ends, so that an owner
    // who closes everything once nothing is pending cannot cut it off.
    bool done = false;
    switch (m_defer) {
    case Defer::Delay:
        killTimer(std::exchange(m_timerId, 0));
        respond(m_delayedCode, m_value > 0 ? QByteArray(m_value, 'x') : QByteArray(m_delayedCode == 200 ? "delayed\n" : ""),
                "text/plain", std::exchange(m_delayedExtra, {}));
        m_delayedCode = 200;
        done = true;
        break;
    case Defer::Trickle: {
        const qint64 n = qMin(m_chunk, m_value);
        m_value -= n;
        if (m_chunked)
            queue(QByteArray::number(n, 16) + "\r\n" + QByteArray(n, 'x') + "\r\n" + (m_value == 0 ? "0\r\n\r\n" : ""));
        else
            queue(QByteArray(n, 'x'));
        if (m_value == 0) {
            killTimer(std::exchange(m_timerId, 0));
            responseQueued();
            done = true;
        }
        break;
    }
    case Defer::Reset:
        // The body bytes must have left before the RST, which discards what is still unsent.
        if (bytesToWrite() == 0)
            closeByServer(true);
        return;
    case Defer::Never:
    case Defer::None:
        break;
    }
    if (state() == ConnectedState)
        flush();
    if (done) {
        endDeferred();
        if (state() == ConnectedState)
            processInput();   // pipelined requests that waited for this response
    }
}

void HttpFixtureConnection::closeByServer(bool rst)
{
    if (m_closed)
        return;
    m_serverClosing = true;
    m_stats.aborted += m_outstanding;
    m_outstanding = 0;
    m_ends.clear();
    endDeferred();
#if BERTH_FIXTURE_POSIX
    if (rst && socketDescriptor() != -1) {
        linger l{};
        l.l_onoff = 1;
        l.l_linger = 0;
        ::setsockopt(int(socketDescriptor()), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
#endif
    abort();
    cleanup();
}

void HttpFixtureConnection::cleanup()
{
    if (m_closed)
        return;
    m_closed = true;
    if (!m_serverClosing)
        m_stats.abandoned += m_outstanding;
    m_outstanding = 0;
    endDeferred();
    --m_stats.open;
    m_server->forget(this);
    deleteLater();
}

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

// ---- HttpFixtureServer -------------------------------------------------------------------------

HttpFixtureServer::HttpFixtureServer(std::shared_ptr<HttpFixtureStats> stats,
                                     std::function<void(quint64, const QString &)> started,
                                     std::function<void(quint64)> ended)
    : m_stats(std::move(stats)), m_started(std::move(started)), m_ended(std::move(ended))
{
    const QByteArray fast = "HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(kFastBody.size())
        + "\r\nContent-Type: text/plain\r\n";
    fastKeepAlive = fast + "\r\n" + kFastBody.toByteArray();
    fastClose = fast + "Connection: close\r\n\r\n" + kFastBody.toByteArray();
    // 1 000 clients connecting at once must not overflow the accept queue (Qt's default is 50).
    setListenBacklogSize(4096);
}

HttpFixtureServer::~HttpFixtureServer()
{
    shutdown();
}

void HttpFixtureServer::incomingConnection(qintptr fd)
{
    m_stats->opened();
    auto *c = new HttpFixtureConnection(this);
    if (!c->setSocketDescriptor(fd)) {
        delete c;   // counted as accepted, and closed at once
        return;
    }
    c->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_connections.insert(c);
}

const QByteArray &HttpFixtureServer::date()
{
    const qint64 secs = QDateTime::currentSecsSinceEpoch();
    if (secs != m_dateSecs) {
        m_dateSecs = secs;
        m_date = httpDate(QDateTime::currentDateTimeUtc());
    }
    return m_date;
}

void HttpFixtureServer::pendingBegan(HttpFixtureConnection *c, const QString &description, quint64 *id)
{
    *id = ++m_nextPending;
    m_pending.insert(*id, c);
    ++m_stats->pending;
    if (m_started)
        m_started(*id, description);
}

void HttpFixtureServer::pendingEnded(quint64 id)
{
    if (!m_pending.remove(id))
        return;
    --m_stats->pending;
    if (m_ended)
        m_ended(id);
}

bool HttpFixtureServer::cancelPending(quint64 id)
{
    HttpFixtureConnection *c = m_pending.value(id);
    if (!c)
        return false;
    c->closeByServer(false);
    return true;
}

void HttpFixtureServer::drain()
{
    m_draining = true;
    close();
    for (HttpFixtureConnection *c : QSet<HttpFixtureConnection *>(m_connections)) {
        if (!c->isBusy())
            c->disconnectFromHost();   // idle, or its response is already queued: flush, close
    }
}

void HttpFixtureServer::shutdown()
{
    m_draining = true;
    close();
    const auto connections = std::exchange(m_connections, {});
    for (HttpFixtureConnection *c : connections) {
        c->closeByServer(false);
        delete c;
    }
}

// ---- HttpFixture -------------------------------------------------------------------------------

HttpFixture::HttpFixture(QObject *parent)
    : QObject(parent), m_stats(std::make_shared<HttpFixtureStats>())
{
}

HttpFixture::~HttpFixture()
{
    stop();
}

bool HttpFixture::start(const QHostAddress &address, quint16 port)
{
    return startOn(address, port, false);
}

bool HttpFixture::startInThread(const QHostAddress &address, quint16 port)
{
    return startOn(address, port, true);
}

bool HttpFixture::startOn(const QHostAddress &address, quint16 port, bool ownThread)
{
    if (m_server) {
        m_error = u"HttpFixture is already listening on port %1"_s.arg(m_port);
        return false;
    }
    if (address != QHostAddress(QHostAddress::LocalHost) && address != QHostAddress(QHostAddress::LocalHostIPv6)) {
        m_error = u"HttpFixture listens on 127.0.0.1 or ::1 only, not on %1"_s.arg(address.toString());
        return false;
    }
    raiseOpenFileLimit();
    m_server = new HttpFixtureServer(m_stats, m_started, m_ended);
    if (ownThread) {
        m_thread = new QThread;
        m_thread->setObjectName(u"HttpFixture"_s);
        m_server->moveToThread(m_thread);
        m_thread->start();
    }
    bool ok = false;
    QString error;
    runOnServer([&] {
        ok = m_server->listen(address, port);
        error = m_server->errorString();
        m_port = m_server->serverPort();
    });
    m_address = address;
    if (!ok) {
        stop();
        m_port = 0;
        m_error = u"cannot listen on %1:%2: %3"_s.arg(address.toString()).arg(port).arg(error);
        return false;
    }
    m_error.clear();
    return true;
}

void HttpFixture::runOnServer(const std::function<void()> &fn) const
{
    if (!m_server)
        return;
    if (QThread::currentThread() == m_server->thread())
        fn();
    else
        QMetaObject::invokeMethod(m_server, [&fn] { fn(); }, Qt::BlockingQueuedConnection);
}

void HttpFixture::drain()
{
    runOnServer([this] { m_server->drain(); });
}

void HttpFixture::stop()
{
    if (!m_server)
        return;
    QThread *home = thread();
    runOnServer([this, home] {
        m_server->shutdown();
        if (m_thread)
            m_server->moveToThread(home);   // deleted below, on this thread
    });
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
        delete std::exchange(m_thread, nullptr);
    }
    delete std::exchange(m_server, nullptr);
}

bool HttpFixture::isListening() const
{
    bool listening = false;
    runOnServer([&] { listening = m_server->isListening(); });
    return listening;
}

QHostAddress HttpFixture::address() const { return m_address; }
quint16 HttpFixture::port() const { return m_port; }
QString HttpFixture::errorString() const { return m_error; }

QUrl HttpFixture::url(const QString &pathAndQuery) const
{
    const QString host = m_address.protocol() == QAbstractSocket::IPv6Protocol ? u"[::1]"_s : u"127.0.0.1"_s;
    return QUrl(u"http://"_s + host + u':' + QString::number(m_port) + pathAndQuery);
}

qint64 HttpFixture::connectionsAccepted() const { return m_stats->accepted; }
int HttpFixture::connectionsOpen() const { return m_stats->open; }
int HttpFixture::peakConnectionsOpen() const { return m_stats->peak; }
qint64 HttpFixture::requestsReceived() const { return m_stats->received; }
qint64 HttpFixture::requestsCompleted() const { return m_stats->completed; }
qint64 HttpFixture::requestsAbandoned() const { return m_stats->abandoned; }
qint64 HttpFixture::requestsAborted() const { return m_stats->aborted; }
int HttpFixture::pendingResponses() const { return m_stats->pending; }

qint64 HttpFixture::requestsReceived(const QString &path) const
{
    const Endpoint e = endpointOf(path.toLatin1());
    if (e != Endpoint::Other)
        return m_stats->perEndpoint[size_t(e)];
    QMutexLocker lock(&m_stats->mutex);
    return m_stats->otherPaths.value(path);
}

QHash<QString, qint64> HttpFixture::requestsPerPath() const
{
    QMutexLocker lock(&m_stats->mutex);
    QHash<QString, qint64> all = m_stats->otherPaths;
    for (int i = 0; i < EndpointCount; ++i) {
        if (const qint64 n = m_stats->perEndpoint[size_t(i)])
            all.insert(QString::fromLatin1(kPaths[size_t(i)]), n);
    }
    return all;
}

QList<qint64> HttpFixture::arrivalTimesMs() const
{
    QMutexLocker lock(&m_stats->mutex);
    return m_stats->arrivals;
}

void HttpFixture::reset()
{
    QMutexLocker lock(&m_stats->mutex);
    HttpFixtureStats &s = *m_stats;
    s.accepted = 0;
    s.received = 0;
    s.completed = 0;
    s.abandoned = 0;
    s.aborted = 0;
    s.peak = s.open.load();
    for (auto &n : s.perEndpoint)
        n = 0;
    s.otherPaths.clear();
    s.arrivals.clear();
    s.flaky.clear();
}

void HttpFixture::setPendingHooks(std::function<void(quint64, const QString &)> started,
                                  std::function<void(quint64)> ended)
{
    m_started = std::move(started);
    m_ended = std::move(ended);
}

bool HttpFixture::cancelPending(quint64 id)
{
    bool cancelled = false;
    runOnServer([&] { cancelled = m_server->cancelPending(id); });
    return cancelled;
}

qint64 HttpFixture::raiseOpenFileLimit()
{
#if BERTH_FIXTURE_POSIX
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur < rl.rlim_max) {
        // Where the hard limit is "unlimited" (macOS), the kernel still caps the soft one.
        for (rlim_t want : {rl.rlim_max, rlim_t(65536), rlim_t(10240)}) {
            rlimit r = rl;
            r.rlim_cur = want;
            if (want > rl.rlim_cur && want <= rl.rlim_max && ::setrlimit(RLIMIT_NOFILE, &r) == 0) {
                rl.rlim_cur = want;
                break;
            }
        }
    }
    return rl.rlim_cur == RLIM_INFINITY ? std::numeric_limits<qint64>::max() : qint64(rl.rlim_cur);
#else
    return -1;
#endif
}

// ---- HttpFixtureService ------------------------------------------------------------------------

HttpFixtureService::HttpFixtureService() = default;

HttpFixtureService::~HttpFixtureService()
{
    if (m_fixture)
        m_fixture->stop();   // ends what is left through the hooks, while m_tickets still exists
}

ServiceType HttpFixtureService::type()
{
    using K = ConfigKey::Kind;
    return ServiceType{
        u"http-fixture"_s,
        u"a local HTTP test server (fast, delayed, never-replying, failing, resetting, trickling endpoints)"_s,
        {
            {u"port"_s, K::Integer, u"port to listen on (default 0: any free port, logged at start)"_s, false, {}},
            {u"address"_s, K::Enum, u"address to listen on (default 127.0.0.1); never outside the machine"_s, false,
             {u"127.0.0.1"_s, u"::1"_s}},
        },
        [] { return std::make_unique<HttpFixtureService>(); },
    };
}

void HttpFixtureService::start()
{
    const QJsonObject cfg = context().config();
    const qint64 port = cfg.value(u"port"_s).toInteger(0);
    const QHostAddress address(cfg.value(u"address"_s).toString(u"127.0.0.1"_s));
    if (port < 0 || port > 65535) {
        reportFailed(u"port %1 is out of range (0 to 65535)"_s.arg(port));
        return;
    }
    m_fixture = std::make_unique<HttpFixture>();
    m_fixture->setPendingHooks(
        [this](quint64 id, const QString &what) {
            // The ledger may cancel on arrival (after the cancel phase): that closes the connection.
            m_tickets.emplace(id, context().track(u"response"_s, what, [this, id] { m_fixture->cancelPending(id); }));
        },
        [this](quint64 id) {
            if (auto it = m_tickets.find(id); it != m_tickets.end()) {
                it->second.finish();
                m_tickets.erase(it);
            }
        });
    if (!m_fixture->start(address, quint16(port))) {
        const QString error = m_fixture->errorString();
        m_fixture.reset();
        reportFailed(error);
        return;
    }
    m_listenConfig = cfg;
    qCInfo(context().log()).noquote() << u"listening on %1"_s.arg(m_fixture->url(QString()).toString());
    reportReady();
}

void HttpFixtureService::stop()
{
    // Not at intake: the services that depend on this one stop first and may still drain into it.
    if (m_fixture) {
        m_fixture->drain();
        if (const int n = m_fixture->pendingResponses())
            qCInfo(context().log()).noquote() << u"stopped listening; %1 response(s) in progress"_s.arg(n);
    }
    reportStopped();
}

void HttpFixtureService::cancel()
{
    // The host has cancelled our ledger entries (their connections are closed); close the rest.
    if (m_fixture)
        m_fixture->stop();
}

void HttpFixtureService::reload(const QJsonObject &config)
{
    const QJsonObject &old = m_listenConfig;
    if (config.value(u"port"_s) != old.value(u"port"_s) || config.value(u"address"_s) != old.value(u"address"_s))
        qCWarning(context().log()) << "port and address changes take effect when the service restarts";
}

} // namespace berth
