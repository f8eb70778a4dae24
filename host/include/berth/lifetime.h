// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QObject>
#include <QtCore/QString>

#include <atomic>
#include <chrono>
#include <functional>

namespace berth {

/// Why the process is asked to stop, in platform-free terms.
struct StopReason
{
    QString source;  ///< "SIGTERM", "SIGINT", "CTRL_CLOSE_EVENT", "SCM STOP", "tray", "startup failure", ...
    /// The supervisor's own limit for this request (console close ~5 s, SCM preshutdown, ...).
    /// Zero: no platform limit, use the configured shutdown.deadline. A non-zero value only ever
    /// shortens the configured deadline.
    std::chrono::milliseconds platformLimit{0};
    /// When a thread other than the host's first noted the stop (a signal's delivery thread, a
    /// console control handler): the shutdown's budgets count from there, not from the moment
    /// the host thread, perhaps busy, got to it. Unset: that moment. Filled in by Lifetime.
    std::chrono::steady_clock::time_point notedAt{};
};

/// The single entry point for every way a process is told to stop, reload or dump.
/// Platform stop sources (platform/) only *request*; the host decides what happens.
/// requestStop()/requestReload()/requestDump() are for the thread that owns the Lifetime.
class Lifetime : public QObject
{
    Q_OBJECT
public:
    explicit Lifetime(QObject *parent = nullptr);
    ~Lifetime() override;

    /// Every call counts: the 1st starts the ordered shutdown, the 2nd jumps to *cancel*,
    /// the 3rd finishes at once. A request made before anything listens is latched.
    void requestStop(const StopReason &reason);
    void requestReload(const QString &source);
    void requestDump(const QString &source);

    int stopRequests() const { return m_stopRequests; }
    StopReason firstReason() const { return m_firstReason; }

    /// Thread-safe (but not async-signal-safe): tells the host's watchdog that a stop was asked
    /// for, even while the owning thread is blocked and cannot see the request yet.
    void noteStopFromAnyThread();
    /// How many stop requests noteStopFromAnyThread() has seen.
    int externalStopNotes() const { return m_externalNotes.load(); }

    /// The host's own hooks (its watchdog, the early stop of network sessions), in a private
    /// header of the host.
    struct Control;

Q_SIGNALS:
    void stopRequested(const berth::StopReason &reason, int count);
    void reloadRequested(const QString &source);
    void dumpRequested(const QString &source);

private:
    int m_stopRequests = 0;
    StopReason m_firstReason;
    std::atomic<int> m_externalNotes{0};
    std::atomic<std::chrono::steady_clock::rep> m_firstNote{0};   ///< steady clock, 0: none yet
    std::function<void(int)> m_listener;
};

} // namespace berth

Q_DECLARE_METATYPE(berth::StopReason)
