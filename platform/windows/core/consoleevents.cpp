// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "consoleevents.h"

namespace berth::win {

namespace {
ConsoleDecision sessionEnds(const char *source)
{
    return {true, true, source, kSessionStopLimitMs, kSessionBlockMs};
}
} // namespace

ConsoleDecision decideConsoleEvent(std::uint32_t event, ProcessKind kind)
{
    switch (event) {
    case console::CtrlC:
        return {true, true, "CTRL_C_EVENT", 0, 0};
    case console::CtrlBreak:
        return {true, true, "CTRL_BREAK_EVENT", 0, 0};
    case console::Close:
        return sessionEnds("CTRL_CLOSE_EVENT");
    case console::Logoff:
        // TRUE, not FALSE: a later handler (the CRT's, a library's) must not end the service.
        if (kind == ProcessKind::Service)
            return {true, false, "CTRL_LOGOFF_EVENT", 0, 0};
        return sessionEnds("CTRL_LOGOFF_EVENT");
    case console::Shutdown:
        if (kind == ProcessKind::Service)
            return {true, false, "CTRL_SHUTDOWN_EVENT", 0, 0};
        return sessionEnds("CTRL_SHUTDOWN_EVENT");
    default:
        return {};
    }
}

ConsoleDecision decideEndSession(bool ending, std::uint32_t flags)
{
    if (!ending)
        return {true, false, "WM_ENDSESSION (cancelled)", 0, 0};
    if (flags & console::EndSessionLogoff)
        return sessionEnds("WM_ENDSESSION (logoff)");
    if (flags & console::EndSessionCloseApp)
        return sessionEnds("WM_ENDSESSION (close app)");
    return sessionEnds("WM_ENDSESSION (shutdown)");
}

} // namespace berth::win
