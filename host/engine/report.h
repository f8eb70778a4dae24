// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The status board (what each service and phase is doing, readable from any thread) and the
// human-readable shutdown report rendered from it.
#pragma once

#include <berth/workledger.h>

#include <QtCore/QHash>
#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace berth {

/// Process exit codes, documented in the README and in `berth --help`.
enum ExitCode : int {
    ExitClean = 0,          ///< every service stopped and nothing was left pending
    ExitServiceFailed = 1,  ///< a service failed to start, failed while running, or failed to stop
    ExitUsage = 2,          ///< bad command line or config
    ExitForced = 3,         ///< shutdown forced: something was still pending when its budget ran out
};

struct ServiceStatus
{
    QString name;
    QString state;          ///< "pending", "starting", "running", "stopping", "stopped", ...
    QString note;           ///< failure or abandon reason
    qint64 stopRequestedMs = -1;
    qint64 stoppedMs = -1;
};

struct PhaseTiming
{
    QString name;
    qint64 startMs = -1;
    qint64 endMs = -1;
};

struct BoardSnapshot
{
    QString reason;
    int requests = 0;
    qint64 shutdownStartMs = -1;
    qint64 deadlineMs = 0;
    QList<PhaseTiming> phases;
    QList<ServiceStatus> services;
};

/// Thread-safe: the host writes, the watchdog reads when it has to force the exit.
class StatusBoard
{
public:
    void addService(const QString &name);
    void setState(const QString &name, const QString &state, const QString &note = {});
    void setStopRequested(const QString &name, qint64 ms);
    void setStopped(const QString &name, qint64 ms);
    void beginShutdown(const QString &reason, qint64 atMs, qint64 deadlineMs);
    void setRequests(int requests);
    void phaseStarted(const QString &phase, qint64 atMs);
    BoardSnapshot snapshot() const;

private:
    mutable QMutex m_mutex;
    BoardSnapshot m_data;
    QHash<QString, qsizetype> m_index;
};

QString exitCodeMeaning(int code);

/// The shutdown summary: per phase and per service how long it took and what happened to its
/// work, then every item still pending (with age and origin), then \a notes, then the exit code.
QString renderReport(const BoardSnapshot &board, const WorkLedger &ledger,
                     const QList<WorkEntry> &leaked, qint64 nowMs, int exitCode,
                     const QString &exitWhy, const QStringList &notes = {});

} // namespace berth
