// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "consolehandler_win.h"

#include "requestchannel_win.h"

#include <atomic>

namespace berth::win {

static_assert(console::CtrlC == CTRL_C_EVENT && console::CtrlBreak == CTRL_BREAK_EVENT
              && console::Close == CTRL_CLOSE_EVENT && console::Logoff == CTRL_LOGOFF_EVENT
              && console::Shutdown == CTRL_SHUTDOWN_EVENT);
static_assert(console::EndSessionLogoff == ENDSESSION_LOGOFF
              && console::EndSessionCloseApp == ENDSESSION_CLOSEAPP
              && console::EndSessionCritical == ENDSESSION_CRITICAL);

namespace {
std::atomic<ProcessKind> g_kind{ProcessKind::Console};

// Shared by the console handler and the window: forward, then wait if Windows would otherwise
// end the process the moment we return.
void apply(const ConsoleDecision &d)
{
    if (d.requestStop)
        RequestChannel::instance().post({HostRequest::Kind::Stop, d.source, d.platformLimitMs});
    if (d.blockMs > 0)
        RequestChannel::instance().waitDone(d.blockMs);
}

const wchar_t kWindowClass[] = L"BerthSessionWindow";
constexpr UINT kQuitWindow = WM_APP + 1;   // stop(): WM_CLOSE means something else here
} // namespace

bool ConsoleControl::install(ProcessKind kind)
{
    g_kind = kind;
    return SetConsoleCtrlHandler(&ConsoleControl::handle, TRUE) != FALSE;
}

void ConsoleControl::uninstall()
{
    SetConsoleCtrlHandler(&ConsoleControl::handle, FALSE);
}

BOOL WINAPI ConsoleControl::handle(DWORD event)
{
    const ConsoleDecision d = decideConsoleEvent(event, g_kind.load());
    if (!d.handled)
        return FALSE;
    apply(d);
    return TRUE;
}

bool SessionWindow::start()
{
    if (m_thread.joinable())
        return m_hwnd != nullptr;
    HANDLE created = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    m_thread = std::thread([this, created] { run(created); });
    WaitForSingleObject(created, INFINITE);
    CloseHandle(created);
    return m_hwnd != nullptr;
}

void SessionWindow::run(HANDLE created)
{
    HINSTANCE instance = GetModuleHandleW(nullptr);
    WNDCLASSW wc{};
    wc.lpfnWndProc = &SessionWindow::windowProc;
    wc.hInstance = instance;
    wc.lpszClassName = kWindowClass;
    RegisterClassW(&wc);   // fails harmlessly if registered already
    // A top-level window (no parent, not HWND_MESSAGE: message-only windows get no broadcasts),
    // never shown.
    m_hwnd = CreateWindowExW(0, kWindowClass, L"Berth session", WS_OVERLAPPED, 0, 0, 0, 0,
                             nullptr, nullptr, instance, nullptr);
    if (!m_hwnd)
        m_error = GetLastError();
    SetEvent(created);
    if (!m_hwnd)
        return;
    MSG msg;
    while (GetMessageW(&msg, nullptr, 0, 0) > 0) {
        TranslateMessage(&msg);
        DispatchMessageW(&msg);
    }
}

void SessionWindow::stop()
{
    if (!m_thread.joinable())
        return;
    if (m_hwnd)
        PostMessageW(m_hwnd, kQuitWindow, 0, 0);
    m_thread.join();
    m_hwnd = nullptr;
}

LRESULT CALLBACK SessionWindow::windowProc(HWND hwnd, UINT msg, WPARAM wParam, LPARAM lParam)
{
    switch (msg) {
    case WM_QUERYENDSESSION:
        // Answer at once: the work belongs in WM_ENDSESSION, and an invisible window may not
        // veto anyway.
        return TRUE;
    case WM_ENDSESSION:
        apply(decideEndSession(wParam != FALSE, std::uint32_t(lParam)));
        return 0;
    case WM_CLOSE:
        // taskkill without /F (and the Restart Manager) ask top-level windows to close: a stop.
        RequestChannel::instance().post({HostRequest::Kind::Stop, "WM_CLOSE", 0});
        return 0;
    case kQuitWindow:
        DestroyWindow(hwnd);
        return 0;
    case WM_DESTROY:
        PostQuitMessage(0);
        return 0;
    default:
        return DefWindowProcW(hwnd, msg, wParam, lParam);
    }
}

} // namespace berth::win
