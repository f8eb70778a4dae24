// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/watchdog.h"

namespace berth {

Watchdog::Watchdog(std::function<void(const char *)> onExpire) : m_onExpire(std::move(onExpire))
{
    m_thread = std::thread([this] { run(); });
}

Watchdog::~Watchdog()
{
    {
        std::lock_guard lock(m_mutex);
        m_quit = true;
    }
    m_cv.notify_all();
    m_thread.join();
}

void Watchdog::setDefaultBudget(std::chrono::milliseconds budget)
{
    std::lock_guard lock(m_mutex);
    m_defaultBudget = budget;
}

void Watchdog::arm(Clock::time_point deadline)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_disarmed)
            return;
        if (!m_armed || deadline < m_deadline)
            m_deadline = deadline;
        m_armed = true;
    }
    m_cv.notify_all();
}

void Watchdog::noteStopRequest(int count)
{
    {
        std::lock_guard lock(m_mutex);
        if (m_disarmed)
            return;
        if (!m_armed) {
            m_deadline = Clock::now() + m_defaultBudget;
            m_armed = true;
        }
        m_forceCount = count;
    }
    m_cv.notify_all();
}

void Watchdog::disarm()
{
    {
        std::lock_guard lock(m_mutex);
        m_disarmed = true;
        m_armed = false;
    }
    m_cv.notify_all();
}

bool Watchdog::isArmed() const
{
    std::lock_guard lock(m_mutex);
    return m_armed;
}

void Watchdog::run()
{
    std::unique_lock lock(m_mutex);
    for (;;) {
        if (m_quit)
            return;
        if (m_armed && m_forceCount >= 3) {
            lock.unlock();
            m_onExpire("third stop request");
            return;
        }
        if (m_armed && Clock::now() >= m_deadline) {
            lock.unlock();
            m_onExpire("shutdown deadline reached");
            return;
        }
        if (m_armed)
            m_cv.wait_until(lock, m_deadline);
        else
            m_cv.wait(lock);
    }
}

} // namespace berth
