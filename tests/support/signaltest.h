// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Helpers of the POSIX signal tests (tst_signalsource, tst_signalchildren): signal masks and
// dispositions of this process's threads (read from /proc where there is one), and the three
// Lifetime signals spied on together.
#pragma once

#include <berth/lifetime.h>

#include <QtCore/QByteArray>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QStringList>
#include <QtTest/QSignalSpy>

#include "tests/support/prerequisite.h"

#include <optional>

#include <csignal>
#include <pthread.h>

/// The tests read signal masks from /proc (\a path, e.g. "/proc/self/status"). On Linux a missing
/// /proc is a gap in the machine (a failure under tests/run.sh); elsewhere (macOS) there is none
/// to read, and the same behaviour is checked end to end by tst_e2e_signals.
#ifdef Q_OS_LINUX
#define BERTH_REQUIRE_PROC(path)                                                                \
    BERTH_REQUIRE(QFileInfo::exists(QStringLiteral(path)),                                      \
                  QStringLiteral(path " is missing: mount /proc (mount -t proc proc /proc)"))
#else
#define BERTH_REQUIRE_PROC(path)                                                                \
    QSKIP("this system has no " path " to read a thread's signal mask from (Linux only); "    \
          "tst_e2e_signals checks the same behaviour end to end")
#endif

namespace berth::signaltest {

using berth::Lifetime;
using berth::StopReason;

inline constexpr int kTimeoutMs = 5000;
inline constexpr int kRouted[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
inline sigset_t g_inheritedMask; // main thread's mask before earlyInit(), whatever our parent left us

inline sigset_t currentThreadMask()
{
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return mask;
}

inline bool blocksAllRouted(const sigset_t &mask)
{
    for (int signal : kRouted) {
        if (!sigismember(&mask, signal))
            return false;
    }
    return true;
}

inline struct sigaction dispositionOf(int signal)
{
    struct sigaction action = {};
    sigaction(signal, nullptr, &action);
    return action;
}

// The same four signals as bits of a /proc "SigBlk:" mask (bit n-1 is signal n).
inline quint64 routedBits()
{
    quint64 bits = 0;
    for (int signal : kRouted)
        bits |= quint64(1) << (signal - 1);
    return bits;
}

inline std::optional<quint64> sigBlkOf(const QByteArray &statusText)
{
    for (const QByteArray &line : statusText.split('\n')) {
        if (!line.startsWith("SigBlk:"))
            continue;
        bool ok = false;
        const quint64 mask = line.mid(7).trimmed().toULongLong(&ok, 16);
        if (ok)
            return mask;
    }
    return std::nullopt;
}

// Thread ids (from /proc/self/task) that have at least one of the four signals unblocked.
inline QStringList threadsWithRoutedUnblocked()
{
    QStringList result;
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile status(tasks.filePath(tid) + QStringLiteral("/status"));
        if (!status.open(QIODevice::ReadOnly))
            continue; // the thread exited meanwhile
        const std::optional<quint64> blocked = sigBlkOf(status.readAll());
        if (!blocked || (*blocked & routedBits()) != routedBits())
            result.append(tid);
    }
    return result;
}

// The three Lifetime signals, spied on together.
struct RequestSpies
{
    explicit RequestSpies(Lifetime *lifetime)
        : stops(lifetime, &Lifetime::stopRequested),
          reloads(lifetime, &Lifetime::reloadRequested),
          dumps(lifetime, &Lifetime::dumpRequested)
    {
    }
    int total() const { return int(stops.size() + reloads.size() + dumps.size()); }
    QString firstSource() const
    {
        if (!stops.isEmpty())
            return stops.first().first().value<StopReason>().source;
        return (reloads.isEmpty() ? dumps : reloads).value(0).value(0).toString();
    }

    QSignalSpy stops;
    QSignalSpy reloads;
    QSignalSpy dumps;
};


} // namespace berth::signaltest
