// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What the console control handler and the hidden session window do with each event, decided
// without any Win32 call (unit-tested everywhere; wine cannot generate CLOSE, LOGOFF or SHUTDOWN).
//
// The contract (HandlerRoutine docs, notes/platform-contracts.md 2.1, G1-G4): the handler runs on
// a thread the system injects. For Ctrl+C and Ctrl+Break there is no timeout: request a stop and
// return at once (a repeat escalates in the host). For CLOSE, LOGOFF and SHUTDOWN, Windows ends
// the process about 5 s after the event or as soon as the handler returns, whatever it returns:
// request a stop with a deadline inside those 5 s and keep the handler waiting until the host
// has finished or the 5 s are nearly over. A service gets LOGOFF whenever any user logs off: that
// is not a stop, and its SHUTDOWN is handled through the SCM (PRESHUTDOWN), so both are swallowed.
#pragma once

#include <cstdint>

namespace berth::win {

// The Win32 values (wincon.h / winuser.h); consolehandler_win.cpp static_asserts that they match.
namespace console {
inline constexpr std::uint32_t CtrlC = 0, CtrlBreak = 1, Close = 2, Logoff = 5, Shutdown = 6;
inline constexpr std::uint32_t EndSessionCloseApp = 0x1, EndSessionCritical = 0x40000000,
                               EndSessionLogoff = 0x80000000;
} // namespace console

enum class ProcessKind { Console, Service };

/// Windows' limit for CLOSE / LOGOFF / SHUTDOWN and WM_ENDSESSION (SPI_GETHUNGAPPTIMEOUT,
/// SPI_GETWAITTOKILLTIMEOUT: 5000 ms by default).
inline constexpr std::uint32_t kSessionKillMs = 5000;
/// The host's deadline for those events: the 5 s minus a reserve for the report and log flush.
inline constexpr std::uint32_t kSessionStopLimitMs = kSessionKillMs - 1000;
/// How long the handler thread waits for the host: until just before Windows' own kill.
inline constexpr std::uint32_t kSessionBlockMs = kSessionKillMs - 250;

struct ConsoleDecision
{
    bool handled = false;              ///< the handler returns TRUE (else FALSE: next handler)
    bool requestStop = false;          ///< forward a stop request to the host
    const char *source = "";           ///< the StopReason source
    std::uint32_t platformLimitMs = 0; ///< 0: no platform limit
    std::uint32_t blockMs = 0;         ///< 0: return at once; else wait this long for the host
};

/// For SetConsoleCtrlHandler's routine, with the event code it got.
ConsoleDecision decideConsoleEvent(std::uint32_t event, ProcessKind kind);

/// For the hidden top-level window's WM_ENDSESSION (\a ending is its wParam, \a flags its lParam).
/// WM_QUERYENDSESSION needs no decision: answer TRUE at once, the work belongs in WM_ENDSESSION.
ConsoleDecision decideEndSession(bool ending, std::uint32_t flags);

} // namespace berth::win
