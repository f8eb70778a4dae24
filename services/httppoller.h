// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// "http-poller": polls one or more URLs at an interval with a given concurrency and writes each
// result (time, URL, status, latency, bytes) as a JSON line to a file or the log. The canonical
// worker a new user starts from: everything it sends is tracked work of its NetworkSession, so a
// stop drains the polls in flight and cancels the rest, and nothing new leaves after the signal.
#pragma once

#include <berth/service.h>
#include <berth/serviceregistry.h>

#include <QtCore/QByteArray>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QList>
#include <QtCore/QUrl>
#include <QtNetwork/QNetworkRequest>

#include <memory>

class QTimer;

namespace berth {

class NetworkCall;
class NetworkSession;

/// One poll result as a compact JSON object (no newline): time (UTC, ISO 8601 with
/// milliseconds), url, status, latencyMs, bytes, and attempts (when more than 1) and error (when
/// not empty). Built directly rather than through QJsonDocument: a burst of 1 000 answers at the
/// end of a drain is formatted on the host thread, which is the shutdown's critical path.
QByteArray pollResultLine(qint64 msecsSinceEpoch, QStringView url, int status, double latencyMs,
                          qint64 bytes, int attempts, QStringView error);

class HttpPollerService : public Service
{
    Q_OBJECT
public:
    static ServiceType type();
    ~HttpPollerService() override;

protected:
    void start() override;
    void stop() override;

private:
    struct Worker
    {
        int index = 0;
        qint64 polls = 0;
        NetworkCall *call = nullptr;
        QTimer *pause = nullptr;
        QElapsedTimer started;
    };
    void poll(Worker *w);
    void onFinished(Worker *w, NetworkCall *call);
    void write(const QByteArray &line);
    void beginStop();
    void maybeStopped();

    NetworkSession *m_session = nullptr;
    QList<QUrl> m_urls;
    QByteArray m_method = "GET";
    QByteArray m_body;
    QList<QNetworkRequest> m_requests;   ///< by URL, with the configured headers
    int m_interval = 1000;
    std::unique_ptr<QFile> m_output;
    QList<std::shared_ptr<Worker>> m_workers;
    int m_inFlight = 0;
    bool m_stopping = false;
    bool m_stopCalled = false;
    bool m_stoppedReported = false;
    bool m_flushQueued = false;
};

} // namespace berth
