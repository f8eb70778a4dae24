// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The one ordered shutdown: intake -> drain -> cancel -> join -> close, each phase with a budget
// cut from one overall deadline. Services stop dependents-first; independent branches stop
// concurrently. The clock here runs on the event loop; the Watchdog backs it from its own thread.
#pragma once

#include "config/config.h"

#include <berth/lifetime.h>
#include <berth/workledger.h>

#include <QtCore/QHash>
#include <QtCore/QObject>
#include <QtCore/QSet>

class QTimer;

namespace berth {

class ServiceRunner;
class StatusBoard;
class Trace;
class Watchdog;

class Shutdown : public QObject
{
    Q_OBJECT
public:
    enum class Phase { Idle, Intake, Drain, Cancel, Join, Close, Done };
    Q_ENUM(Phase)

    struct Parts
    {
        QList<ServiceRunner *> order;   ///< start order (dependencies first)
        QHash<ServiceRunner *, QList<ServiceRunner *>> dependents;    ///< who lists the key in "after"
        QHash<ServiceRunner *, QList<ServiceRunner *>> dependencies;  ///< the key's "after", resolved
        WorkLedger *ledger = nullptr;
        StatusBoard *board = nullptr;
        Trace *trace = nullptr;
        Watchdog *watchdog = nullptr;
    };

    Shutdown(const Parts &parts, QObject *parent = nullptr);
    ~Shutdown() override;

    void setConfig(const ShutdownConfig &config) { m_config = config; }
    /// The process ends as soon as the shutdown completes (the berth executable): with
    /// shutdown.fastExit, close leaves what is idle (network sessions' managers) to the exit.
    void setProcessExitsAfterClose(bool exits) { m_processExits = exits; }
    /// Close ran for an exit without teardown (see setProcessExitsAfterClose()).
    bool closedForFastExit() const { return m_closedForFastExit; }
    /// The deadline for \a reason: the configured one, shortened by the platform's own limit.
    Millis effectiveDeadline(const StopReason &reason) const;

    void begin(const StopReason &reason);
    /// A repeated stop request: the 2nd jumps to cancel, the 3rd finishes at once.
    void escalate(int count);

    bool isActive() const { return m_phase != Phase::Idle; }
    Phase phase() const { return m_phase; }
    static QString phaseName(Phase p);
    /// Entries that were still pending when their service closed.
    const QList<WorkEntry> &leaked() const { return m_leaked; }
    bool wasForced() const { return m_forced; }
    QString forcedWhy() const { return m_forcedWhy; }
    /// Read-only progress for service managers (the Windows SCM's wait hint): when the budget of
    /// the current phase ends, on the ledger's clock (WorkLedger::nowMs()); close ends at the
    /// overall deadline. -1 when idle or done.
    qint64 phaseEndMs() const;
    /// When the deadline of the running shutdown ends, on the same clock; -1 when idle or done.
    qint64 deadlineEndMs() const { return m_phase == Phase::Idle || m_phase == Phase::Done ? -1 : m_deadlineEnd; }

Q_SIGNALS:
    void phaseChanged(berth::Shutdown::Phase phase);
    void completed();

private:
    void enter(Phase p);
    void scheduleStops();
    void stopIfDependentsDone(ServiceRunner *r);
    void onRunnerDone(ServiceRunner *r);
    bool allDone();
    void close();
    qint64 now() const;

    Parts m_parts;
    ShutdownConfig m_config;
    Phase m_phase = Phase::Idle;
    qint64 m_t0 = 0;
    qint64 m_phaseStart = 0;
    qint64 m_drainEnd = 0, m_cancelEnd = 0, m_joinEnd = 0;
    qint64 m_intakeEnd = 0, m_deadlineEnd = 0;
    QTimer *m_timer = nullptr;
    QSet<ServiceRunner *> m_done;
    QList<WorkEntry> m_leaked;
    bool m_forced = false;
    bool m_processExits = false;
    bool m_closedForFastExit = false;
    QString m_forcedWhy;
};

} // namespace berth
