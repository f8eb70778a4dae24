// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host: starts services in dependency order, applies failure policies, routes the Lifetime's
// requests (stop, reload, dump) and turns the end of the shutdown into a report and an exit code.
#pragma once

#include "config/config.h"
#include "engine/report.h"
#include "engine/shutdown.h"
#include "engine/trace.h"

#include <berth/hostprogress.h>
#include <berth/workledger.h>

#include <QtCore/QHash>
#include <QtCore/QMutex>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace berth {

class Lifetime;
class ServiceRegistry;
class ServiceRunner;
class Watchdog;
struct StopReason;

struct HostOptions
{
    QString traceFile;   ///< --trace: Chrome trace-event JSON written at exit
    QString dumpFile;    ///< --dump: the ledger as JSON, written on every dump request (SIGUSR1)
    bool printReport = true; ///< write the shutdown report to stderr when the shutdown completes
    /// The caller ends the process as soon as finished() is emitted, without unwinding (the
    /// berth executable on POSIX): with shutdown.fastExit, close then leaves idle network
    /// managers to the exit (closedForFastExit()).
    bool processExitsAfterClose = false;
};

/// The host is the HostProgress view that supervisors' reporters get (platform/ sees only that
/// and Lifetime); its signals are that view's.
class ServiceHost : public HostProgress
{
    Q_OBJECT
public:
    /// \a config must be valid for \a registry (parseConfig() said ok).
    ServiceHost(const HostConfig &config, const ServiceRegistry &registry, Lifetime &lifetime,
                const HostOptions &options = {}, QObject *parent = nullptr);
    ~ServiceHost() override;

    /// Starts the services (dependencies first, independent ones concurrently). If a stop was
    /// requested already, nothing starts and the shutdown runs at once.
    void start();
    /// Something outside every service failed (an exception no service owns): stop, exit 1.
    void failHost(const QString &reason);

    bool isFinished() const { return m_finished; }
    /// Close left idle resources to the process exit: the caller must end the process now
    /// (platform::exitWithoutTeardown()); destroying the host instead tears them down.
    bool closedForFastExit() const;
    QString report() const { return m_report; }
    WorkLedger &ledger() { return m_ledger; }
    const WorkLedger &ledger() const { return m_ledger; }
    ServiceRunner *runner(const QString &name) const { return m_byName.value(name); }
    QList<ServiceRunner *> runners() const { return m_order; }
    Shutdown::Phase shutdownPhase() const { return m_shutdown->phase(); }

    // HostProgress
    Stage stage() const override;
    int servicesReady() const override;
    int servicesTotal() const override { return int(m_order.size()); }
    std::chrono::milliseconds startBudget() const override;
    Phase phase() const override;
    std::chrono::milliseconds phaseRemaining() const override;
    std::chrono::milliseconds deadlineRemaining() const override;
    Pending pending() const override;
    int exitCode() const override { return m_exitCode; }
    void addForcedExitHook(std::function<void(int exitCode)> hook) override;

    /// How the process ends when the watchdog must end it, after the report went to stderr, the
    /// trace was written and the forced-exit hooks ran: the default calls _Exit(3). Tests
    /// replace it (on the watchdog thread).
    using ForcedExit = std::function<void(int exitCode, const QString &report)>;
    void setForcedExit(ForcedExit handler) { m_forcedExit = std::move(handler); }

private:
    void onStopRequested(const StopReason &reason, int count);
    void onReady(ServiceRunner *r);
    void onStartFailed(ServiceRunner *r, const QString &reason);
    void onRunFailed(ServiceRunner *r, const QString &reason);
    void onReload(const QString &source);
    void onDump(const QString &source);
    void startEligible();
    void finish();
    void forcedExitFromWatchdog(const char *why);
    void onPhaseChanged(Shutdown::Phase p);
    void runForcedExitHooks(int exitCode);

    HostConfig m_config;
    const ServiceRegistry &m_registry;
    Lifetime &m_lifetime;
    HostOptions m_options;
    WorkLedger m_ledger;
    StatusBoard m_board;
    Trace m_trace;
    QList<ServiceRunner *> m_order;
    QHash<QString, ServiceRunner *> m_byName;
    QHash<ServiceRunner *, QList<ServiceRunner *>> m_dependents;
    QHash<ServiceRunner *, QList<ServiceRunner *>> m_dependencies;
    Shutdown *m_shutdown = nullptr;
    std::unique_ptr<Watchdog> m_watchdog;
    ForcedExit m_forcedExit;
    mutable QMutex m_hooksMutex;
    std::vector<std::function<void(int)>> m_forcedExitHooks;
    std::atomic<bool> m_finalizing{false};
    int m_exitCode = 0;
    bool m_started = false;
    bool m_allReadyEmitted = false;
    bool m_finished = false;
    qint64 m_startT0 = 0;
    QString m_report;
};

} // namespace berth
