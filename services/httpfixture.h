// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixture: a small HTTP/1.1 server on the loopback interface for unit, end-to-end and
// benchmark runs, and the "http-fixture" service type that puts it in the demo.
#pragma once

#include <berth/service.h>
#include <berth/serviceregistry.h>
#include <berth/workledger.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QObject>
#include <QtCore/QString>
#include <QtCore/QUrl>
#include <QtNetwork/QHostAddress>

#include <functional>
#include <map>
#include <memory>

class QThread;

namespace berth {

class HttpFixtureServer;
struct HttpFixtureStats;

/// An HTTP/1.1 server for tests, on 127.0.0.1 (or ::1) only, port 0 (any free port) by default.
/// It is written on QTcpServer so that it can misbehave on purpose (never answer, reset
/// mid-body, trickle) and count what really reached the network.
///
/// \b Endpoints. Every method is accepted everywhere (HEAD gets the head only). Durations are
/// milliseconds, written "200" or "200ms" (also "2s"). A bad parameter gets 400 with the reason,
/// an unknown path 404. Request bodies need a Content-Length (a chunked request body gets 501).
/// | path | parameters (defaults) | reply |
/// |---|---|---|
/// | `/` | | 200, text: this list |
/// | `/fast` | `size` (3) | 200 at once, a body of `size` bytes ("ok\n" by default); the cheap path |
/// | `/delay` | `ms` (200), `size` (0) | 200 after `ms`: `size` bytes, or "delayed\n" |
/// | `/never` | | reads the request, never replies, keeps the connection open |
/// | `/status` | `code` (200, 200..599), `retryAfter` (seconds), `retryAfterDate` | `code` with an optional `Retry-After` |
/// | `/flaky` | `key` (""), `fail` (1), `code` (503), `retryAfter`, `retryAfterDate` | the first `fail` requests for `key` get `code` (with `Retry-After`), later ones 200 with `X-Attempt: n` |
/// | `/reset` | `after` (100), `length` (after + 100 000), `wait` (50ms) | headers with Content-Length `length`, `after` body bytes, then, `wait` after they left, an RST |
/// | `/trickle` | `bytes` (1000), `chunk` (10), `every` (50ms), `chunked` (0) | `bytes` body bytes, `chunk` at a time every `every`; Content-Length, or chunked with `chunked=1` |
/// | `/redirect` | `n` (1), `to` ("/fast"), `code` (302) | `n` redirects (empty bodies): to `/redirect?n=n-1&...`, the last one to `to` |
/// | `/echo` | | 200, JSON: `method`, `target`, `path`, `query`, `version`, `headers` (lower-case name to value; repeated headers joined with ", "), `body` (UTF-8), `bodySize` |
/// | `/cookie/set` | any `name=value` | one `Set-Cookie: name=value; Path=/` per parameter; JSON of what was set |
/// | `/cookie/get` | | 200, JSON: `cookie` (the raw Cookie header), `cookies` (name to value) |
/// | `/cache` | `maxAge` (60), `etag` ("v1"), `noCache` (0) | 200 with `Cache-Control: max-age` (`no-cache` with `noCache=1`: store, but revalidate every time), `ETag`, `Last-Modified` (a fixed date); 304 when `If-None-Match` matches (or, without it, `If-Modified-Since` equals that date) |
/// - `retryAfterDate` is either an HTTP-date (percent-encoded) sent as is, or a number of
///   seconds from now that the server renders as an HTTP-date.
/// - `to` must be a path on this server ("/...") or an http URL on 127.0.0.1, localhost or
///   [::1]; anything else gets 400, so no test can be redirected off the machine.
/// - /reset: QNetworkAccessManager (6.4) fails the reply (RemoteHostClosedError) when it has read
///   the body bytes before the RST arrives. When it reads both at once (a loaded machine) it can
///   finish the reply with NoError and a body shorter than its Content-Length; raise `wait`.
/// - A client may send an idempotent request again when the server closes its connection before
///   answering (QNAM does, up to twice): cancelPending() on /never can bring the same request back.
/// - Connections are kept alive (HTTP/1.1) unless the client sends "Connection: close" or the
///   server drains. Pipelined requests are answered in order.
///
/// \b Counting. Every accessor is thread-safe and cheap. A request is \e received when its head
/// and body have arrived; it then ends exactly one way: \e completed (the whole response was
/// handed to the kernel), \e abandoned (the client closed the connection first), or \e aborted
/// (the server closed it: /reset, cancelPending(), stop()).
///
/// \b Threads. start() serves on the calling thread's event loop. startInThread() serves from a
/// thread of its own, so a test blocked in a wait, or a benchmark client on the main thread, does
/// not slow the server. Call start/stop and destroy the fixture on one thread.
///
/// \b Open files. start() raises the process's soft RLIMIT_NOFILE to its hard limit (see
/// platform::raiseOpenFileLimit()): 1 000 connections need ~1 000 descriptors at the server, ~2 300 with
/// the clients in the same process. A test that opens more than the limit allows must skip.
class HttpFixture : public QObject
{
    Q_OBJECT
public:
    explicit HttpFixture(QObject *parent = nullptr);
    /// Stops (see stop()).
    ~HttpFixture() override;

    /// Listens on \a address (127.0.0.1 or ::1 only; anything else fails) and \a port
    /// (0: any free port), serving from the calling thread. False on failure, see errorString().
    bool start(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    /// The same, served from a QThread of the fixture's own.
    bool startInThread(const QHostAddress &address = QHostAddress(QHostAddress::LocalHost), quint16 port = 0);
    /// Graceful end: stops listening, closes idle connections, lets the responses in progress
    /// finish (delayed and trickling ones too), and closes each connection after its response.
    /// /never requests stay until cancelPending() or stop().
    void drain();
    /// Stops at once: closes the listener and every connection (responses in progress count as
    /// aborted), ends the thread of startInThread(). Idempotent; the counters stay readable.
    void stop();

    bool isListening() const;
    QHostAddress address() const;
    quint16 port() const;
    /// "http://127.0.0.1:<port>" + \a pathAndQuery, e.g. url(u"/delay?ms=200"_s).
    QUrl url(const QString &pathAndQuery = QStringLiteral("/")) const;
    /// Why the last start() failed.
    QString errorString() const;

    // Counters (thread-safe).
    qint64 connectionsAccepted() const;
    int connectionsOpen() const;
    int peakConnectionsOpen() const;
    qint64 requestsReceived() const;
    /// Requests received for one path ("/delay"; no query).
    qint64 requestsReceived(const QString &path) const;
    /// Every path with at least one request.
    QHash<QString, qint64> requestsPerPath() const;
    /// Wall-clock arrival time (QDateTime::currentMSecsSinceEpoch()) of every request received,
    /// in arrival order.
    QList<qint64> arrivalTimesMs() const;
    qint64 requestsCompleted() const;
    qint64 requestsAbandoned() const;
    qint64 requestsAborted() const;
    /// Responses not written at once (/delay, /never, /trickle, /reset) still in progress.
    int pendingResponses() const;
    /// Zeroes the counters, arrival times and /flaky state. The open connections stay open and
    /// counted: peakConnectionsOpen() restarts from connectionsOpen().
    void reset();

    /// Lets an owner track each response that is not written at once (/delay, /never,
    /// /trickle, /reset) as a piece of work: \a started runs when one begins, with an id and a
    /// description ("GET /delay?ms=200"), \a ended when it is over however it ended. Both run on
    /// the server's thread, \a ended also from stop() and the destructor. Set before start().
    void setPendingHooks(std::function<void(quint64 id, const QString &description)> started,
                         std::function<void(quint64 id)> ended);
    /// Ends one pending response by closing its connection (\a ended runs before this returns).
    /// False if it is unknown or already over. Any thread.
    bool cancelPending(quint64 id);


private:
    bool startOn(const QHostAddress &address, quint16 port, bool ownThread);
    void runOnServer(const std::function<void()> &fn) const;

    std::shared_ptr<HttpFixtureStats> m_stats;
    HttpFixtureServer *m_server = nullptr;
    QThread *m_thread = nullptr;
    QHostAddress m_address;
    quint16 m_port = 0;
    QString m_error;
    std::function<void(quint64, const QString &)> m_started;
    std::function<void(quint64)> m_ended;
};

/// The "http-fixture" service type: HttpFixture on the host's event loop, for the demo and for
/// drills. Config: `port` (default 0), `address` ("127.0.0.1", the default, or "::1").
/// - start: listens, logs "listening on http://127.0.0.1:PORT", reports ready; a taken port
///   fails the start with a message that names it.
/// - Intake does not close the listener: services that depend on this one still drain into it.
/// - stop(): HttpFixture::drain(); each delayed or trickling response is a ledger entry, so the
///   host waits for them. cancel: the host cancels the entries (closing their connections, which
///   is how /never requests end), then the fixture stops.
class HttpFixtureService : public Service
{
    Q_OBJECT
public:
    HttpFixtureService();
    ~HttpFixtureService() override;
    static ServiceType type();

protected:
    void start() override;
    void stop() override;
    void cancel() override;
    void reload(const QJsonObject &config) override;

private:
    std::map<quint64, WorkTicket> m_tickets;   // one per response in progress
    std::unique_ptr<HttpFixture> m_fixture;
    QJsonObject m_listenConfig;                // the config it listens with (reload compares)
};

} // namespace berth
