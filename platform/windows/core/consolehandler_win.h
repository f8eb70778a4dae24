// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The console control handler (SetConsoleCtrlHandler) and the hidden top-level window that gets
// WM_QUERYENDSESSION / WM_ENDSESSION (a process that loads user32, as every Qt process does, gets
// no CTRL_LOGOFF_EVENT / CTRL_SHUTDOWN_EVENT; Qt's own window is message-only and gets neither).
// Both only post to the RequestChannel; for the events after which Windows ends the process they
// wait, bounded, until the host has finished (consoleevents.h has the decisions).
#pragma once

#include "consoleevents.h"

#include <windows.h>

#include <thread>

namespace berth::win {

class ConsoleControl
{
public:
    /// Registers the handler (again: AllocConsole/AttachConsole/FreeConsole reset the list).
    static bool install(ProcessKind kind);
    static void uninstall();
    /// The handler itself: what Windows calls on its injected thread. Tests call it directly
    /// with each event code, since wine cannot generate CLOSE, LOGOFF or SHUTDOWN.
    static BOOL WINAPI handle(DWORD event);
};

class SessionWindow
{
public:
    SessionWindow() = default;
    ~SessionWindow() { stop(); }
    SessionWindow(const SessionWindow &) = delete;
    SessionWindow &operator=(const SessionWindow &) = delete;

    /// Creates the window on its own thread (with its own message loop, so the session messages
    /// are answered even while the host thread is busy). False if the window could not be made.
    bool start();
    void stop();
    HWND window() const { return m_hwnd; }
    /// Why start() failed (GetLastError() of the window thread).
    DWORD error() const { return m_error; }

private:
    static LRESULT CALLBACK windowProc(HWND hwnd, UINT msg, WPARAM wParam, LPARAM lParam);
    void run(HANDLE created);

    std::thread m_thread;
    HWND m_hwnd = nullptr;
    DWORD m_error = 0;
};

} // namespace berth::win
