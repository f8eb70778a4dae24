// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// How requests cross from the threads Windows calls us on (the injected console-control thread,
// the SCM dispatcher thread, the session window's thread) to the thread that owns the host.
// Those threads only post() and return (or wait for done, see consoleevents.h); the owner is
// woken through a Win32 event (the Qt adapter watches it with a QWinEventNotifier) and take()s
// the requests. Plain Win32 + standard C++: the wine tests drive it without Qt.
//
// It lives for the whole process (instance() is never destroyed): a console handler thread may
// still be running while main() returns, and must never touch a destroyed object.
#pragma once

#include <windows.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace berth::win {

struct HostRequest
{
    enum class Kind { Stop, Reload };
    Kind kind = Kind::Stop;
    std::string source;                ///< "CTRL_C_EVENT", "SCM STOP", ... (ASCII)
    std::uint32_t platformLimitMs = 0; ///< 0: the configured deadline holds
};

class RequestChannel
{
public:
    static RequestChannel &instance();

    /// Any thread. Queues \a request, calls the stop listener (for stops), wakes the owner.
    void post(HostRequest request);
    /// The owner, when wakeEvent() is signalled: everything posted so far, in order.
    std::vector<HostRequest> take();
    /// Auto-reset: signalled by post().
    HANDLE wakeEvent() const { return m_wake; }

    /// Called on the posting thread for every stop, before the owner can see it (the host's
    /// watchdog arms even if the owner thread is blocked). Set and cleared by the owner.
    void setStopListener(std::function<void()> listener);

    /// The owner: the host has finished (report written); handler threads waiting in
    /// waitDone() may return, and Windows may end the process.
    void markDone();
    /// A handler thread: waits until markDone() or \a timeoutMs. True if done.
    bool waitDone(std::uint32_t timeoutMs);
    /// Tests only: forget queued requests and the done state.
    void resetForTest();

private:
    RequestChannel();
    std::mutex m_mutex;
    std::vector<HostRequest> m_queue;
    std::function<void()> m_stopListener;
    HANDLE m_wake = nullptr;
    HANDLE m_done = nullptr;
};

/// UTF-8 <-> UTF-16 for Win32 calls.
std::wstring toWide(const std::string &utf8);
std::string toUtf8(const std::wstring &wide);
/// "text of the Win32 error (code N)".
std::string win32ErrorText(DWORD code);

} // namespace berth::win
