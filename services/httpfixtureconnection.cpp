// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixtureConnection: one accepted connection; parses requests, answers them in order,
// defers the slow responses and counts how each request ended.
#include "httpfixture_p.h"

#include "platform.h"

#include <QtCore/QTimerEvent>

namespace berth {

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
    if (rst && socketDescriptor() != -1)
        platform::setResetOnClose(socketDescriptor());   // where it cannot, /reset ends with a FIN
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

} // namespace berth
