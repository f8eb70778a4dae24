// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// One service's HTTP session: QNetworkAccessManager(s) whose every reply is registered in the
// work ledger, drained and aborted in the host's shutdown phases, and never outlives the session.
#pragma once

#include <berth/networkoptions.h>

#include <QtCore/QDateTime>
#include <QtCore/QObject>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <source_location>

namespace berth {

class NetworkSession;
class StopToken;
class WorkLedger;

/// One logical request sent through NetworkSession::send(): queued while the session is at its
/// limits, retried with backoff, aborted by the shutdown. Emits finished() exactly once, never
/// from inside send(). Deleted automatically after finished() has been delivered: copy what you
/// need in your handler.
class NetworkCall : public QObject
{
    Q_OBJECT
public:
    ~NetworkCall() override;

    QUrl url() const;
    /// The URL as logs may show it (the session's redaction applied).
    QString redactedUrl() const;
    QByteArray verb() const;
    bool isFinished() const;
    /// The request reached the network at least once (false: refused, or cancelled while queued).
    bool wasSent() const;
    int attempts() const;
    /// NoError on a 2xx/3xx answer; a 4xx/5xx answer has its Qt error (ContentNotFoundError...).
    QNetworkReply::NetworkError error() const;
    /// For people: what went wrong, with the URL redacted.
    QString errorString() const;
    int httpStatus() const;           ///< 0 when no HTTP answer came
    QByteArray body() const;          ///< the body of the last attempt
    QByteArray header(const QByteArray &name) const;
    qint64 bytesReceived() const;
    /// The reply of the attempt in flight, for streaming readers (readyRead); null otherwise.
    QNetworkReply *reply() const;
    /// Cancels the call: a queued call never leaves, a running one is aborted, a wait ends.
    void abort();

Q_SIGNALS:
    void finished();

private:
    friend class NetworkSession;
    explicit NetworkCall(NetworkSession *session);
    struct Private;
    std::unique_ptr<Private> d;
};

struct CallOptions
{
    /// Retry even though the method is not idempotent (POST, PATCH): the caller knows the
    /// server deduplicates. (A request the server provably never processed, refused by an
    /// HTTP/2 GOAWAY or REFUSED_STREAM, is sent again whatever the method.)
    bool retryNonIdempotent = false;
    /// Override the session's attempts for this call (0: the session's setting).
    int attempts = 0;
    /// The most this call may take, all included (0: the session's callTimeout). When it
    /// passes, the call ends with QNetworkReply::TimeoutError, whatever state it is in.
    std::chrono::milliseconds deadline{0};
    /// The largest body this call takes in, in bytes (-1: the session's maxResponseSize; 0: no
    /// cap). A larger answer ends the call with QNetworkReply::UnknownContentError.
    qint64 maxResponseBytes = -1;
};

class NetworkSession : public QObject
{
    Q_OBJECT
public:
    enum class State { Open, Draining, Aborting, Closed };
    Q_ENUM(State)
    /// What close() does with the managers once nothing of theirs is in flight.
    enum class Teardown {
        Now,           ///< delete them: each joins its HTTP thread, which closes its connections
        AtProcessExit  ///< keep them, idle and refusing, until the session is destroyed: the
                       ///< process is about to end without unwinding, and the kernel closes the
                       ///< connections (shutdown.fastExit)
    };

    NetworkSession(const QString &service, WorkLedger *ledger, const NetworkOptions &options,
                   QObject *parent = nullptr);
    ~NetworkSession() override;

    /// The manager for direct use. Every request made on it is tracked like send()'s: it is a
    /// ledger entry, it drains, it is aborted in cancel, and it is refused once the host stops.
    /// Requests made on it are named in dumps and leak reports by where manager() was called.
    /// Beyond its connections per host, Qt queues requests inside the manager; those are
    /// cancelled unsent when the host stops. send() spreads over several managers instead.
    QNetworkAccessManager *manager(const std::source_location &where = std::source_location::current());

    /// Sends one request with the session's queue, limits, rate limit and retry policy.
    NetworkCall *send(const QNetworkRequest &request, const QByteArray &verb = "GET",
                      const QByteArray &body = {}, const CallOptions &options = {},
                      const std::source_location &where = std::source_location::current());
    NetworkCall *get(const QNetworkRequest &request,
                     const std::source_location &where = std::source_location::current())
    {
        return send(request, "GET", {}, {}, where);
    }

    /// A service type may raise the automatic limits (maxConcurrent, connectionsPerHost) to what
    /// its own config asks for; values set explicitly in the config win.
    void raiseAutomaticLimits(int concurrent);

    State state() const;
    /// Takes new requests: open, and no stop seen yet on any thread (setEarlyStop()). A worker
    /// that loops may ask before it sends the next request, which would only be refused.
    bool isSending() const;
    static QString stateName(State s);
    const NetworkOptions &options() const;
    int maxConcurrent() const;
    int connectionsPerHost() const;
    int managerCount() const;
    int inFlight() const;   ///< replies handed to Qt (sent or being sent)
    int queued() const;     ///< calls waiting in the session's queue (limits, rate, retry waits)

    /// Host use, driven by the shutdown phases.
    void connectToken(StopToken *token);
    /// A counter another thread raises when a stop is requested (the signal delivery thread):
    /// from then on nothing new is sent, even before the (maybe busy) event loop has run intake.
    void setEarlyStop(const std::atomic<int> *counter);
    /// intake: refuse new requests, cancel what has not reached the network, end retry waits.
    void beginDrain();
    /// cancel: abort everything in flight.
    void abortAll();
    /// close: abort what is left, flush the cookie jar, report replies never deleted as leaks,
    /// and tear the managers down as \a teardown says. Closed either way: nothing is sent after.
    void close(Teardown teardown = Teardown::Now);
    /// Updates the ledger's "bytes so far" of the calls in flight (WorkLedger::refresh()).
    void refreshProgress();

    /// "https://u:***@h/p?token=REDACTED": no password, no fragment, listed query values hidden.
    QString redact(const QUrl &url) const;
    static QString redact(const QUrl &url, const QStringList &queryKeys);
    /// Query parameters hidden in every session, whatever the config says.
    static const QStringList &builtinRedactedQuery();

Q_SIGNALS:
    void stateChanged(berth::NetworkSession::State state);

private:
    friend class NetworkCall;
    friend class TrackedManager;
    void onReplyFinished(QNetworkReply *reply);
    void onReplyGone(QObject *object);
    void onRequestSent();
    struct Private;
    std::unique_ptr<Private> d;
};

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
