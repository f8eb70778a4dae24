// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Enforces the shutdown deadline from a thread of its own: a service that blocks the event loop
// also blocks every QTimer meant to time it out, so the clock cannot live on that loop.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace berth {

class Watchdog
{
public:
    using Clock = std::chrono::steady_clock;
    /// \a onExpire runs on the watchdog thread with a reason; it must not return (it reports
    /// and ends the process). It is called at most once.
    explicit Watchdog(std::function<void(const char *why)> onExpire);
    ~Watchdog();
    Watchdog(const Watchdog &) = delete;
    Watchdog &operator=(const Watchdog &) = delete;

    /// The deadline to use when a stop is noted from another thread before the host armed it.
    void setDefaultBudget(std::chrono::milliseconds budget);
    /// Arms (or moves earlier) the deadline. Never moves it later.
    void arm(Clock::time_point deadline);
    /// Thread-safe: a stop request seen outside the event loop. The first arms the default
    /// budget; the third forces the exit at once, even if the event loop is blocked.
    void noteStopRequest(int count);
    /// The host finished on its own: the watchdog will not fire any more.
    void disarm();
    bool isArmed() const;

private:
    void run();

    std::function<void(const char *)> m_onExpire;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_armed = false;
    bool m_quit = false;
    bool m_disarmed = false;
    int m_forceCount = 0;
    Clock::time_point m_deadline{};
    std::chrono::milliseconds m_defaultBudget{10000};
    std::thread m_thread;
};

} // namespace berth
