// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// One service's HTTP session: QNetworkAccessManager(s) whose every reply is registered in the
// work ledger, drained and aborted in the host's shutdown phases, and never outlives the session.
#pragma once

#include <berth/networkoptions.h>

#include <QtCore/QObject>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QNetworkRequest>

#include <chrono>
#include <memory>
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
    /// Takes new requests: open, and no stop noted yet on any thread. A worker
    /// that loops may ask before it sends the next request, which would only be refused.
    bool isSending() const;
    static QString stateName(State s);
    const NetworkOptions &options() const;
    int maxConcurrent() const;
    int connectionsPerHost() const;
    int managerCount() const;
    int inFlight() const;   ///< replies handed to Qt (sent or being sent)
    int queued() const;     ///< calls waiting in the session's queue (limits, rate, retry waits)

    /// "https://u:***@h/p?token=REDACTED": no password, no fragment, listed query values hidden.
    QString redact(const QUrl &url) const;
    static QString redact(const QUrl &url, const QStringList &queryKeys);
    /// Query parameters hidden in every session, whatever the config says.
    static const QStringList &builtinRedactedQuery();

    /// The host's own controls (the shutdown phases drive it), in a private header of the host.
    struct Control;

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

} // namespace berth
