// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What a Windows service tells the Service Control Manager, decided without any Win32 call so that
// it is unit-tested on every platform. The Win32 side (scmservice_win.cpp) only passes the result
// to SetServiceStatus().
//
// The rules it keeps (SetServiceStatus / SERVICE_STATUS docs, notes/platform-contracts.md G9-G11):
// - START_PENDING while services start, STOP_PENDING while the shutdown runs; the checkpoint rises
//   only when something really completed (a service became ready, a shutdown phase ended), and
//   is 0 outside pending states;
// - the wait hint is the remaining budget of what is running now, plus a slack for the event
//   loop; never a keep-alive: nothing here reports on a timer;
// - no controls are accepted while START_PENDING; PRESHUTDOWN rather than SHUTDOWN (never both);
// - SERVICE_STOPPED exactly once, with a service-specific exit code when the stop was not clean,
//   so that recovery actions with the non-crash-failure flag fire.
#pragma once

#include <cstdint>
#include <optional>

namespace berth::win {

// The Win32 values (winsvc.h / winerror.h); scmservice_win.cpp static_asserts that they match.
namespace scm {
inline constexpr std::uint32_t Stopped = 1, StartPending = 2, StopPending = 3, Running = 4;
inline constexpr std::uint32_t AcceptStop = 0x1, AcceptShutdown = 0x4, AcceptParamChange = 0x8,
                               AcceptPreshutdown = 0x100;
inline constexpr std::uint32_t ControlStop = 1, ControlInterrogate = 4, ControlShutdown = 5,
                               ControlParamChange = 6, ControlPreshutdown = 0xF;
inline constexpr std::uint32_t NoError = 0, ErrorServiceSpecific = 1066;
} // namespace scm

struct ScmStatus
{
    std::uint32_t state = scm::Stopped;
    std::uint32_t controlsAccepted = 0;
    std::uint32_t win32ExitCode = scm::NoError;
    std::uint32_t serviceSpecificExitCode = 0;
    std::uint32_t checkPoint = 0;
    std::uint32_t waitHintMs = 0;
    friend bool operator==(const ScmStatus &, const ScmStatus &) = default;
};

/// The shutdown phases as the host runs them (host/shutdown.h), in order.
enum class StopPhase { Intake = 1, Drain, Cancel, Join, Close };
const char *stopPhaseName(StopPhase p);
const char *scmStateName(std::uint32_t state);

class ScmProgress
{
public:
    /// Added to every remaining budget: the host reports the next phase from its event loop,
    /// a little after the budget ends.
    static constexpr std::uint32_t kSlackMs = 1000;
    /// The smallest hint ever reported (a phase whose budget has already run out: the next
    /// report, or the watchdog's exit, is imminent).
    static constexpr std::uint32_t kMinWaitHintMs = 1000;
    /// Between the control handler's STOP_PENDING and the host thread's first phase report.
    static constexpr std::uint32_t kHandoffMs = 2000;

    explicit ScmProgress(bool acceptPreshutdown = true) : m_preshutdown(acceptPreshutdown) {}

    /// START_PENDING, checkpoint 1: the process is up, \a budgetMs is how long the start may take.
    std::optional<ScmStatus> starting(std::int64_t budgetMs);
    /// Another service became ready (\a ready of them): the checkpoint rises if \a ready did.
    std::optional<ScmStatus> startProgress(int ready, std::int64_t remainingMs);
    /// RUNNING, accepting STOP, PRESHUTDOWN (or SHUTDOWN) and PARAMCHANGE.
    std::optional<ScmStatus> running();
    /// The control handler accepted a stop: STOP_PENDING, checkpoint 1, until the host thread
    /// reports its first phase. Nothing if a stop is already pending or reported.
    std::optional<ScmStatus> stopRequested();
    /// The host entered \a phase (the one before it completed): STOP_PENDING with the next
    /// checkpoint and \a remainingMs (that phase's budget left) as the hint. Nothing if \a phase
    /// is not past the last one reported.
    std::optional<ScmStatus> phaseEntered(StopPhase phase, std::int64_t remainingMs);
    /// SERVICE_STOPPED with the host's exit code (0 clean, 1 failed, 2 config, 3 forced), once.
    std::optional<ScmStatus> stopped(int hostExitCode);

    /// The last status reported (for INTERROGATE).
    ScmStatus current() const { return m_status; }
    bool hasStopped() const { return m_reportedStopped; }

    static std::uint32_t waitHint(std::int64_t remainingMs);
    /// What RUNNING accepts.
    std::uint32_t runningControls() const;

private:
    ScmStatus m_status;
    bool m_preshutdown;
    bool m_reportedStopped = false;
    int m_ready = 0;
    int m_lastPhase = 0;   // 0: no phase reported yet
};

/// What the control handler does with a control code (it only forwards, then returns).
enum class ControlAction { Stop, Reload, Interrogate, NotImplemented };
struct ControlDecision
{
    ControlAction action = ControlAction::NotImplemented;
    const char *source = "";           ///< the StopReason / reload source
    std::uint32_t platformLimitMs = 0; ///< 0: no platform limit (the configured deadline holds)
};

/// Kept back from the SCM's own limit for the last report and SERVICE_STOPPED.
inline constexpr std::uint32_t kScmReserveMs = 1000;
/// SERVICE_CONTROL_SHUTDOWN (only when PRESHUTDOWN is not accepted): ~20 s, plan for 15 s.
inline constexpr std::uint32_t kScmShutdownLimitMs = 15000;

/// \a preshutdownTimeoutMs: the service's configured SERVICE_PRESHUTDOWN_INFO (0 if unknown;
/// Windows 10 1703+ then uses 10 s).
ControlDecision decideScmControl(std::uint32_t control, std::uint32_t preshutdownTimeoutMs);

} // namespace berth::win
