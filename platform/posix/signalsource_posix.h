// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QObject>

#include <thread>

QT_BEGIN_NAMESPACE
class QSocketNotifier;
QT_END_NAMESPACE

namespace berth {
class Lifetime;
}

namespace berth::platform {

/// Turns SIGINT and SIGTERM into Lifetime::requestStop(), SIGHUP into requestReload() and SIGUSR1
/// into requestDump(), on the thread that constructs it (which must run an event loop).
///
/// earlyInit() blocks the four signals in every thread; the source then runs one delivery thread
/// that takes them while it waits (in ppoll() where the platform has it, else in poll() with the
/// signals unblocked for that thread alone), so the (async-signal-safe) handler always runs there. The handler writes the signal number to a self-pipe that a QSocketNotifier
/// drains on the owning thread; the delivery thread also calls Lifetime::noteStopFromAnyThread()
/// for every stop signal, so the watchdog sees a stop even when the owning thread is stuck.
/// SIGQUIT is left alone. Only one instance may exist at a time.
class PosixSignalSource : public QObject
{
    Q_OBJECT
public:
    explicit PosixSignalSource(Lifetime &lifetime, QObject *parent = nullptr);
    ~PosixSignalSource() override;

    /// Blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in the calling thread and registers a
    /// pthread_atfork() child handler that undoes it. Call in main() before any thread exists.
    /// Idempotent.
    static void earlyInit();

    /// For a child process between fork and exec: puts the four signals back to their default
    /// disposition if they carry our handler, then unblocks them. Only system calls and no
    /// writes to memory, as it may run in a child that shares the parent's address space.
    static void resetSignalsInChild();

protected:
    bool event(QEvent *e) override;

private:
    void readSignals();
    void deliveryLoop();

    Lifetime &m_lifetime;
    int m_signalFds[2] = {-1, -1}; ///< [1] written by the handler, [0] drained by m_notifier
    int m_quitFds[2] = {-1, -1}; ///< wakes the delivery thread for shutdown
    int m_wakeFds[2] = {-1, -1}; ///< [1] written by the handler, [0] wakes the delivery thread
    int m_notedStops = 0; ///< stop signals passed to noteStopFromAnyThread(); delivery thread only
    bool m_handlersInstalled = false;
    QSocketNotifier *m_notifier = nullptr;
    std::thread m_deliveryThread;
};

} // namespace berth::platform
