// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include <berth/lifetime.h>

namespace berth {

Lifetime::Lifetime(QObject *parent) : QObject(parent)
{
    qRegisterMetaType<berth::StopReason>();
}

Lifetime::~Lifetime() = default;

void Lifetime::requestStop(const StopReason &reason)
{
    ++m_stopRequests;
    if (m_stopRequests == 1)
        m_firstReason = reason;
    Q_EMIT stopRequested(reason, m_stopRequests);
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
    const int count = ++m_externalNotes;
    if (m_listener)
        m_listener(count);
}

void Lifetime::setExternalStopListener(std::function<void(int)> listener)
{
    m_listener = std::move(listener);
}

} // namespace berth
