// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A read-only view of the host's progress, for whatever reports it to a supervisor.
#pragma once

#include <QtCore/QObject>
#include <QtCore/QStringList>

#include <chrono>
#include <functional>

namespace berth {

/// What a supervisor is told about the host: how far start-up is, when every service is ready,
/// which shutdown phase runs and how much of its budget is left, how it ended, and the last word
/// before the watchdog ends the process. The Windows SCM adapter reports from it; so can
/// systemd's notify socket, a launchd agent's log, a tray icon or an embedding program's status
/// page (see runApplication() and ServiceHost::progress()).
///
/// It only reports: nothing here starts, stops or changes the host (a stop goes through
/// Lifetime). Signals are emitted, and getters are called, on the host's thread.
class HostProgress : public QObject
{
    Q_OBJECT
public:
    enum class Stage {
        Starting,   ///< services are being started (also before start())
        Running,    ///< every service is ready
        Stopping,   ///< the ordered shutdown runs
        Finished    ///< the shutdown completed: exitCode() is final
    };
    Q_ENUM(Stage)
    /// The shutdown's phases, in order (None: no shutdown runs).
    enum class Phase { None, Intake, Drain, Cancel, Join, Close };
    Q_ENUM(Phase)

    /// Work still in flight: ledger entries, and the services that hold them (in start order).
    struct Pending
    {
        int items = 0;
        QStringList services;
    };

    virtual Stage stage() const = 0;
    virtual int servicesReady() const = 0;
    virtual int servicesTotal() const = 0;
    /// How long the next start-up step may take: the longest startTimeout among the services
    /// not running yet (a service manager's wait hint). Zero once all are running.
    virtual std::chrono::milliseconds startBudget() const = 0;

    virtual Phase phase() const = 0;
    /// What is left of the current phase's budget; negative once it ran out; -1 ms when no
    /// phase runs. Close ends at the shutdown's deadline.
    virtual std::chrono::milliseconds phaseRemaining() const = 0;
    /// What is left until the shutdown's deadline (the platform's limit included); -1 ms when
    /// no shutdown runs.
    virtual std::chrono::milliseconds deadlineRemaining() const = 0;
    virtual Pending pending() const = 0;
    /// The process's exit code once finished(); until then the code it would have so far.
    virtual int exitCode() const = 0;

    /// \a hook runs when the watchdog must end the process (the deadline passed and the host's
    /// thread may be blocked): on the watchdog's thread, after the report and the trace were
    /// written, just before the process ends with \a exitCode. A supervisor's last status
    /// (SERVICE_STOPPED, WATCHDOG=trigger). Thread-safe code only; add hooks before start().
    virtual void addForcedExitHook(std::function<void(int exitCode)> hook) = 0;

    static const char *stageName(Stage s);
    static const char *phaseName(Phase p);

Q_SIGNALS:
    /// During start-up: another service became ready (\a ready of \a total are running).
    void startProgress(int ready, int total);
    /// Every service is ready (also with no service at all).
    void allReady();
    /// A shutdown phase began, with \a remaining of its budget.
    void phaseEntered(berth::HostProgress::Phase phase, std::chrono::milliseconds remaining);
    /// The shutdown completed and the report was written; the process exits with \a exitCode.
    void finished(int exitCode);

protected:
    explicit HostProgress(QObject *parent = nullptr) : QObject(parent) {}
};

} // namespace berth
