// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/lifetime_p.h"

namespace berth {

Lifetime::Lifetime(QObject *parent) : QObject(parent)
{
    qRegisterMetaType<berth::StopReason>();
}

Lifetime::~Lifetime() = default;

void Lifetime::requestStop(const StopReason &reason)
{
    ++m_stopRequests;
    StopReason r = reason;
    using Clock = std::chrono::steady_clock;
    if (const auto noted = m_firstNote.load(); noted != 0 && r.notedAt == Clock::time_point{})
        r.notedAt = Clock::time_point(Clock::duration(noted));
    if (m_stopRequests == 1)
        m_firstReason = r;
    Q_EMIT stopRequested(r, m_stopRequests);
}

void Lifetime::requestReload(const QString &source)
{
    Q_EMIT reloadRequested(source);
}

void Lifetime::requestDump(const QString &source)
{
    Q_EMIT dumpRequested(source);
}

void Lifetime::noteStopFromAnyThread()
{
    auto none = std::chrono::steady_clock::rep(0);
    m_firstNote.compare_exchange_strong(none, std::chrono::steady_clock::now().time_since_epoch().count());
    const int count = ++m_externalNotes;
    if (m_listener)
        m_listener(count);
}

void Lifetime::Control::setExternalStopListener(Lifetime &lifetime, std::function<void(int)> listener)
{
    lifetime.m_listener = std::move(listener);
}

} // namespace berth
