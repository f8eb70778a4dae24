// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// ServiceHost as the HostProgress view: what supervisors' reporters read.
#include "engine/servicehost.h"

#include "engine/servicerunner.h"

#include <QtCore/QMutexLocker>

#include <algorithm>

namespace berth {

namespace {
HostProgress::Phase viewPhase(Shutdown::Phase p)
{
    switch (p) {
    case Shutdown::Phase::Intake: return HostProgress::Phase::Intake;
    case Shutdown::Phase::Drain: return HostProgress::Phase::Drain;
    case Shutdown::Phase::Cancel: return HostProgress::Phase::Cancel;
    case Shutdown::Phase::Join: return HostProgress::Phase::Join;
    case Shutdown::Phase::Close: return HostProgress::Phase::Close;
    case Shutdown::Phase::Idle:
    case Shutdown::Phase::Done: break;
    }
    return HostProgress::Phase::None;
}

std::chrono::milliseconds until(qint64 endMs, qint64 nowMs)
{
    return std::chrono::milliseconds(endMs < 0 ? -1 : endMs - nowMs);
}
} // namespace

const char *HostProgress::stageName(Stage s)
{
    switch (s) {
    case Stage::Starting: return "starting";
    case Stage::Running: return "running";
    case Stage::Stopping: return "stopping";
    case Stage::Finished: return "finished";
    }
    return "?";
}

const char *HostProgress::phaseName(Phase p)
{
    switch (p) {
    case Phase::None: return "none";
    case Phase::Intake: return "intake";
    case Phase::Drain: return "drain";
    case Phase::Cancel: return "cancel";
    case Phase::Join: return "join";
    case Phase::Close: return "close";
    }
    return "?";
}

HostProgress::Stage ServiceHost::stage() const
{
    if (m_finished)
        return Stage::Finished;
    if (m_shutdown->isActive())
        return Stage::Stopping;
    return m_allReadyEmitted ? Stage::Running : Stage::Starting;
}

int ServiceHost::servicesReady() const
{
    return int(std::count_if(m_order.cbegin(), m_order.cend(), [](const ServiceRunner *r) {
        return r->state() == ServiceRunner::State::Running;
    }));
}

std::chrono::milliseconds ServiceHost::startBudget() const
{
    // Services start in dependency waves, each within its own startTimeout: the longest one
    // bounds the next step.
    std::chrono::milliseconds budget{0};
    for (const ServiceRunner *r : m_order) {
        if (r->state() != ServiceRunner::State::Running)
            budget = std::max(budget, std::chrono::milliseconds(r->config().startTimeout));
    }
    return budget;
}

HostProgress::Phase ServiceHost::phase() const
{
    return viewPhase(m_shutdown->phase());
}

std::chrono::milliseconds ServiceHost::phaseRemaining() const
{
    return until(m_shutdown->phaseEndMs(), m_ledger.nowMs());
}

std::chrono::milliseconds ServiceHost::deadlineRemaining() const
{
    return until(m_shutdown->deadlineEndMs(), m_ledger.nowMs());
}

HostProgress::Pending ServiceHost::pending() const
{
    Pending p;
    for (const ServiceRunner *r : m_order) {
        if (const int n = m_ledger.activeCount(r->name())) {
            p.items += n;
            p.services << r->name();
        }
    }
    return p;
}

void ServiceHost::addForcedExitHook(std::function<void(int exitCode)> hook)
{
    const QMutexLocker lock(&m_hooksMutex);
    m_forcedExitHooks.push_back(std::move(hook));
}

void ServiceHost::runForcedExitHooks(int exitCode)
{
    const QMutexLocker lock(&m_hooksMutex);
    for (const auto &hook : m_forcedExitHooks)
        hook(exitCode);
}

void ServiceHost::onPhaseChanged(Shutdown::Phase p)
{
    if (const Phase phase = viewPhase(p); phase != Phase::None)
        Q_EMIT phaseEntered(phase, phaseRemaining());
}

} // namespace berth
