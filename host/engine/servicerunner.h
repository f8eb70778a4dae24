// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// One configured service as the host sees it: its instance, context, state machine and timers.
// Every call into service code goes through here and is guarded against exceptions.
#pragma once

#include "config/config.h"

#include <berth/workledger.h>

#include <QtCore/QObject>
#include <QtCore/QPointer>

#include <atomic>
#include <functional>
#include <memory>

class QTimer;

namespace berth {

class Service;
class ServiceContext;
class StatusBoard;
class Trace;
struct ServiceType;

class ServiceRunner : public QObject
{
    Q_OBJECT
public:
    enum class State {
        Pending,      ///< not started yet (waiting for dependencies)
        Starting,
        Running,
        Restarting,   ///< failed, waiting for its backoff before a new instance starts
        Stopping,     ///< stop() called (or stop token fired), not done yet
        Stopped,      ///< reported stopped and no work pending
        Failed,       ///< failed to start or while running; not restarted
        Abandoned,    ///< gave up waiting for it (stopTimeout or the shutdown budget)
        NeverStarted, ///< the host stopped before this service's turn to start
    };

    struct Env
    {
        WorkLedger *ledger = nullptr;
        StatusBoard *board = nullptr;
        Trace *trace = nullptr;
        int lane = 0;
        /// Non-zero once a stop was noted on any thread: network sessions stop sending at once,
        /// before the host thread (maybe busy) has seen the request. Null with an intakeDelay.
        const std::atomic<int> *earlyStop = nullptr;
    };

    ServiceRunner(const ServiceConfig &config, const ServiceType *type, const Env &env,
                  QObject *parent = nullptr);
    ~ServiceRunner() override;

    QString name() const { return m_config.name; }
    const ServiceConfig &config() const { return m_config; }
    State state() const { return m_state; }
    static QString stateName(State s);
    /// Done for shutdown ordering: nothing of this service runs any more.
    bool isDone() const;
    bool isActive() const { return m_state == State::Starting || m_state == State::Running || m_state == State::Stopping; }
    bool stopRequested() const { return m_stopCalled; }
    QString failure() const { return m_failure; }
    /// The service failed at some point (start, run, stop, close): the exit code must say so.
    bool hasFailed() const { return m_hasFailed; }
    int restarts() const { return m_restarts; }

    void start();
    void fireStopToken();
    /// Calls Service::stop() once; arms the stopTimeout.
    void requestStop();
    /// Cancels the service's ledger entries, fires the token's cancel, calls Service::cancel().
    void cancelWork();
    void abandon(const QString &why);
    void markNeverStarted();
    /// Runs close callbacks, closes the ledger for this service (what is left is leaked) and
    /// destroys the instance. Returns the leaked entries. \a processExits: the process ends
    /// right after the shutdown, so idle network managers are left to the exit (fastExit).
    QList<WorkEntry> close(bool processExits = false);
    /// Passes a new "config" object (already in config() via setConfig()) to the running service.
    void reload(const QJsonObject &config);
    /// The ledger says this service has no pending work left.
    void onIdle();
    void setConfig(const ServiceConfig &config) { m_config = config; }

    // Called by Service's report* functions (through its private link).
    void onReportReady(Service *from);
    void onReportStopped(Service *from);
    void onReportFailed(Service *from, const QString &reason);

    void attach(Service *service, ServiceContext *context);
    static void detach(Service *service);
    /// An exception escaped an event handler of \a receiver (caught in QCoreApplication::notify).
    /// If \a receiver is, or is owned by, a running service, that service fails with \a what and
    /// true is returned; false when no service owns it.
    static bool failOwningService(QObject *receiver, const QString &what);
    /// The runner of the service that owns \a receiver (it or an ancestor is the Service), or null.
    static ServiceRunner *owning(QObject *receiver);

    /// Marks the host thread as running this service's code for its lifetime, so that the
    /// watchdog can name the service when that code blocks the event loop. Nests.
    class BusyScope
    {
    public:
        explicit BusyScope(const ServiceRunner *runner);
        ~BusyScope();
        BusyScope(const BusyScope &) = delete;
        BusyScope &operator=(const BusyScope &) = delete;

    private:
        const QString *m_previous;
        qint64 m_previousSince;
        bool m_active;
    };
    /// Any thread: "blocker, for 1000ms" while service code runs on the host thread, else empty.
    static QString busyService();

Q_SIGNALS:
    void ready(berth::ServiceRunner *runner);
    void startFailed(berth::ServiceRunner *runner, const QString &reason);
    void runFailed(berth::ServiceRunner *runner, const QString &reason);
    /// isDone() became true.
    void done(berth::ServiceRunner *runner);

private:
    bool guard(const char *what, const std::function<void()> &call);
    void setState(State s, const QString &note = {});
    void checkDone();
    void scheduleRestart(const QString &reason);
    /// onClose callbacks, then the ledger closes for this service; returns what was still pending.
    QList<WorkEntry> closeResources();
    void destroyInstance();
    QTimer *makeTimer(std::function<void()> onTimeout);
    qint64 now() const;

    ServiceConfig m_config;
    const QString m_fixedName;   ///< never reassigned, so other threads may read it (BusyScope)
    const ServiceType *m_type;
    Env m_env;
    State m_state = State::Pending;
    std::unique_ptr<ServiceContext> m_context;
    std::unique_ptr<Service> m_service;
    QTimer *m_startTimer = nullptr;
    QTimer *m_stopTimer = nullptr;
    QTimer *m_restartTimer = nullptr;
    WorkTicket m_backoffTicket;
    bool m_stopCalled = false;
    bool m_stoppedReported = false;
    bool m_hasFailed = false;
    bool m_doneEmitted = false;
    QString m_failure;
    int m_restarts = 0;
    qint64 m_startedAt = -1;
    qint64 m_stopRequestedAt = -1;
};

} // namespace berth
