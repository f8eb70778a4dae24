// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The process as a Windows service. The control dispatcher (StartServiceCtrlDispatcher) runs on a
// thread of its own, so the host's event loop keeps the main thread; ServiceMain registers the
// control handler and reports START_PENDING. The handler only forwards (RequestChannel) and
// returns at once. Status reports come from the host thread as the host really progresses
// (ScmProgress decides what they say); SERVICE_STOPPED is reported once, by finish().
#pragma once

#include "scmprogress.h"

#include <windows.h>

#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace berth::win {

class ScmService
{
public:
    static ScmService &instance();

    /// Connects to the SCM as service \a name: starts the dispatcher thread and waits until
    /// ServiceMain has reported START_PENDING with \a startBudgetMs. Returns 0, or the Win32
    /// error (ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: this process was not started by the SCM).
    DWORD connect(const std::string &name, std::int64_t startBudgetMs);

    /// Progress, from the host thread (serialised with the handler's reports).
    void startProgress(int ready, std::int64_t remainingMs);
    void running();
    void phaseEntered(StopPhase phase, std::int64_t remainingMs);
    /// Reports SERVICE_STOPPED with \a hostExitCode (once) and lets the dispatcher return.
    /// Flush every log before: the process may be ended at any moment after it. With
    /// \a waitForDispatcher false (the watchdog's forced exit, any thread) it does not wait.
    void finish(int hostExitCode, bool waitForDispatcher = true);

    /// For tests: the user-defined control \a from (128-255) is handled as \a to. Only the
    /// system sends PRESHUTDOWN (ControlService refuses it), so a controller test sends \a from.
    /// Set before connect().
    void setControlAlias(DWORD from, DWORD to) { m_aliasFrom = from; m_aliasTo = to; }

    /// The preshutdown timeout registered for this service (0 if it could not be read).
    std::uint32_t preshutdownTimeoutMs() const { return m_preshutdownMs; }
    /// Called (under the report lock) for every status sent to the SCM; \a why names the cause.
    /// For logs and tests. Set before connect().
    void setReportObserver(std::function<void(const ScmStatus &, const char *why)> observer);

private:
    ScmService() = default;
    static DWORD WINAPI handler(DWORD control, DWORD eventType, LPVOID eventData, LPVOID context);
    static void WINAPI serviceMain(DWORD argc, LPWSTR *argv);
    void report(const std::optional<ScmStatus> &status, const char *why);
    void readPreshutdownTimeout();

    std::mutex m_mutex;            // ScmProgress and SetServiceStatus, from any thread
    ScmProgress m_progress;
    std::function<void(const ScmStatus &, const char *)> m_observer;
    std::wstring m_name;
    std::int64_t m_startBudgetMs = 0;
    SERVICE_STATUS_HANDLE m_handle = nullptr;
    std::uint32_t m_preshutdownMs = 0;
    HANDLE m_connected = nullptr;  // ServiceMain reported START_PENDING
    HANDLE m_returned = nullptr;   // StartServiceCtrlDispatcher returned
    HANDLE m_stopped = nullptr;    // SERVICE_STOPPED reported: ServiceMain may return
    DWORD m_dispatchError = 0;
    DWORD m_aliasFrom = 0, m_aliasTo = 0;
    std::thread m_dispatcher;
};

} // namespace berth::win
