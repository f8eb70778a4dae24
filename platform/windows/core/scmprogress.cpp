// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "scmprogress.h"

#include <algorithm>

namespace berth::win {

namespace {
constexpr std::uint32_t kDefaultPreshutdownMs = 10000;   // Windows 10 1703+
constexpr std::int64_t kMaxHintMs = 24LL * 3600 * 1000;
} // namespace

const char *stopPhaseName(StopPhase p)
{
    switch (p) {
    case StopPhase::Intake: return "intake";
    case StopPhase::Drain: return "drain";
    case StopPhase::Cancel: return "cancel";
    case StopPhase::Join: return "join";
    case StopPhase::Close: return "close";
    }
    return "?";
}

const char *scmStateName(std::uint32_t state)
{
    switch (state) {
    case scm::Stopped: return "STOPPED";
    case scm::StartPending: return "START_PENDING";
    case scm::StopPending: return "STOP_PENDING";
    case scm::Running: return "RUNNING";
    }
    return "OTHER";
}

std::uint32_t ScmProgress::waitHint(std::int64_t remainingMs)
{
    if (remainingMs <= 0)
        return kMinWaitHintMs;
    return std::uint32_t(std::clamp<std::int64_t>(remainingMs + kSlackMs, kMinWaitHintMs, kMaxHintMs));
}

std::uint32_t ScmProgress::runningControls() const
{
    return scm::AcceptStop | scm::AcceptParamChange
        | (m_preshutdown ? scm::AcceptPreshutdown : scm::AcceptShutdown);
}

std::optional<ScmStatus> ScmProgress::starting(std::int64_t budgetMs)
{
    if (m_status.state != scm::Stopped || m_reportedStopped)
        return std::nullopt;
    // No controls while START_PENDING: "the service can crash" (SetServiceStatus docs).
    m_status = ScmStatus{scm::StartPending, 0, scm::NoError, 0, 1, waitHint(budgetMs)};
    return m_status;
}

std::optional<ScmStatus> ScmProgress::startProgress(int ready, std::int64_t remainingMs)
{
    if (m_status.state != scm::StartPending || ready <= m_ready)
        return std::nullopt;
    m_ready = ready;
    ++m_status.checkPoint;
    m_status.waitHintMs = waitHint(remainingMs);
    return m_status;
}

std::optional<ScmStatus> ScmProgress::running()
{
    if (m_status.state != scm::StartPending)
        return std::nullopt;
    m_status = ScmStatus{scm::Running, runningControls(), scm::NoError, 0, 0, 0};
    return m_status;
}

std::optional<ScmStatus> ScmProgress::stopRequested()
{
    if (m_status.state == scm::StopPending || m_reportedStopped)
        return std::nullopt;
    m_status = ScmStatus{scm::StopPending, 0, scm::NoError, 0, 1, waitHint(kHandoffMs)};
    return m_status;
}

std::optional<ScmStatus> ScmProgress::phaseEntered(StopPhase phase, std::int64_t remainingMs)
{
    if (m_reportedStopped || int(phase) <= m_lastPhase)
        return std::nullopt;
    m_lastPhase = int(phase);
    if (m_status.state != scm::StopPending) {
        // The stop came from inside (a failed start, a console event): no handler report yet.
        m_status = ScmStatus{scm::StopPending, 0, scm::NoError, 0, 0, 0};
    }
    ++m_status.checkPoint;
    m_status.waitHintMs = waitHint(remainingMs);
    return m_status;
}

std::optional<ScmStatus> ScmProgress::stopped(int hostExitCode)
{
    if (m_reportedStopped)
        return std::nullopt;
    m_reportedStopped = true;
    m_status = ScmStatus{scm::Stopped, 0, scm::NoError, 0, 0, 0};
    if (hostExitCode != 0) {
        m_status.win32ExitCode = scm::ErrorServiceSpecific;
        m_status.serviceSpecificExitCode = std::uint32_t(hostExitCode);
    }
    return m_status;
}

ControlDecision decideScmControl(std::uint32_t control, std::uint32_t preshutdownTimeoutMs)
{
    switch (control) {
    case scm::ControlStop:
        return {ControlAction::Stop, "SCM STOP", 0};
    case scm::ControlPreshutdown: {
        const std::uint32_t timeout = preshutdownTimeoutMs ? preshutdownTimeoutMs : kDefaultPreshutdownMs;
        const std::uint32_t limit = timeout > 2 * kScmReserveMs ? timeout - kScmReserveMs : timeout / 2;
        return {ControlAction::Stop, "SCM PRESHUTDOWN", limit};
    }
    case scm::ControlShutdown:
        return {ControlAction::Stop, "SCM SHUTDOWN", kScmShutdownLimitMs};
    case scm::ControlParamChange:
        return {ControlAction::Reload, "SCM PARAMCHANGE", 0};
    case scm::ControlInterrogate:
        return {ControlAction::Interrogate, "SCM INTERROGATE", 0};
    default:
        return {};
    }
}

} // namespace berth::win
