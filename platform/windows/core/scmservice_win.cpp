// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "scmservice_win.h"

#include "requestchannel_win.h"

#include <vector>

namespace berth::win {

static_assert(scm::Stopped == SERVICE_STOPPED && scm::StartPending == SERVICE_START_PENDING
              && scm::StopPending == SERVICE_STOP_PENDING && scm::Running == SERVICE_RUNNING);
static_assert(scm::AcceptStop == SERVICE_ACCEPT_STOP && scm::AcceptShutdown == SERVICE_ACCEPT_SHUTDOWN
              && scm::AcceptParamChange == SERVICE_ACCEPT_PARAMCHANGE
              && scm::AcceptPreshutdown == SERVICE_ACCEPT_PRESHUTDOWN);
static_assert(scm::ControlStop == SERVICE_CONTROL_STOP && scm::ControlInterrogate == SERVICE_CONTROL_INTERROGATE
              && scm::ControlShutdown == SERVICE_CONTROL_SHUTDOWN
              && scm::ControlParamChange == SERVICE_CONTROL_PARAMCHANGE
              && scm::ControlPreshutdown == SERVICE_CONTROL_PRESHUTDOWN);
static_assert(scm::ErrorServiceSpecific == ERROR_SERVICE_SPECIFIC_ERROR);

ScmService &ScmService::instance()
{
    // Never destroyed: the dispatcher and handler threads may outlive main()'s objects.
    static ScmService *service = new ScmService;
    return *service;
}

void ScmService::setReportObserver(std::function<void(const ScmStatus &, const char *)> observer)
{
    const std::lock_guard lock(m_mutex);
    m_observer = std::move(observer);
}

DWORD ScmService::connect(const std::string &name, std::int64_t startBudgetMs)
{
    if (m_dispatcher.joinable())
        return ERROR_SERVICE_ALREADY_RUNNING;
    m_name = toWide(name);
    m_startBudgetMs = startBudgetMs;
    m_connected = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    m_returned = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    m_stopped = CreateEventW(nullptr, TRUE, FALSE, nullptr);
    m_dispatcher = std::thread([this] {
        // SERVICE_WIN32_OWN_PROCESS: the name in the table is not used, but must not be null.
        std::vector<wchar_t> name(m_name.begin(), m_name.end());
        name.push_back(L'\0');
        SERVICE_TABLE_ENTRYW table[] = {{name.data(), &ScmService::serviceMain}, {nullptr, nullptr}};
        if (!StartServiceCtrlDispatcherW(table))
            m_dispatchError = GetLastError();
        SetEvent(m_returned);
    });
    const HANDLE either[] = {m_connected, m_returned};
    if (WaitForMultipleObjects(2, either, FALSE, INFINITE) == WAIT_OBJECT_0)
        return 0;
    m_dispatcher.join();
    return m_dispatchError ? m_dispatchError : ERROR_SERVICE_NOT_ACTIVE;
}

void WINAPI ScmService::serviceMain(DWORD, LPWSTR *)
{
    ScmService &self = instance();
    self.m_handle = RegisterServiceCtrlHandlerExW(self.m_name.c_str(), &ScmService::handler, &self);
    if (!self.m_handle) {
        // Nothing can be reported without the handle; the dispatcher returns and connect() fails.
        self.m_dispatchError = GetLastError();
        return;
    }
    self.readPreshutdownTimeout();
    {
        const std::lock_guard lock(self.m_mutex);
        self.report(self.m_progress.starting(self.m_startBudgetMs), "starting");
    }
    SetEvent(self.m_connected);
    // The service counts as running until SERVICE_STOPPED; this thread has nothing else to do.
    WaitForSingleObject(self.m_stopped, INFINITE);
}

void ScmService::readPreshutdownTimeout()
{
    SC_HANDLE manager = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    if (!manager)
        return;
    if (SC_HANDLE service = OpenServiceW(manager, m_name.c_str(), SERVICE_QUERY_CONFIG)) {
        SERVICE_PRESHUTDOWN_INFO info{};
        DWORD needed = 0;
        if (QueryServiceConfig2W(service, SERVICE_CONFIG_PRESHUTDOWN_INFO, reinterpret_cast<BYTE *>(&info),
                                 sizeof info, &needed))
            m_preshutdownMs = info.dwPreshutdownTimeout;
        CloseServiceHandle(service);
    }
    CloseServiceHandle(manager);
}

DWORD WINAPI ScmService::handler(DWORD control, DWORD, LPVOID, LPVOID context)
{
    // Runs on the dispatcher's thread: forward and return, never wait for the host.
    auto *self = static_cast<ScmService *>(context);
    if (self->m_aliasFrom && control == self->m_aliasFrom)
        control = self->m_aliasTo;
    const ControlDecision d = decideScmControl(control, self->m_preshutdownMs);
    switch (d.action) {
    case ControlAction::Stop: {
        {
            const std::lock_guard lock(self->m_mutex);
            self->report(self->m_progress.stopRequested(), d.source);
        }
        RequestChannel::instance().post({HostRequest::Kind::Stop, d.source, d.platformLimitMs});
        return NO_ERROR;
    }
    case ControlAction::Reload:
        RequestChannel::instance().post({HostRequest::Kind::Reload, d.source, 0});
        return NO_ERROR;
    case ControlAction::Interrogate: {
        const std::lock_guard lock(self->m_mutex);
        if (!self->m_progress.hasStopped())
            self->report(self->m_progress.current(), d.source);
        return NO_ERROR;
    }
    case ControlAction::NotImplemented:
        break;
    }
    return ERROR_CALL_NOT_IMPLEMENTED;
}

void ScmService::report(const std::optional<ScmStatus> &status, const char *why)
{
    if (!status || !m_handle)
        return;
    SERVICE_STATUS s{};
    s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.dwCurrentState = status->state;
    s.dwControlsAccepted = status->controlsAccepted;
    s.dwWin32ExitCode = status->win32ExitCode;
    s.dwServiceSpecificExitCode = status->serviceSpecificExitCode;
    s.dwCheckPoint = status->checkPoint;
    s.dwWaitHint = status->waitHintMs;
    if (m_observer)
        m_observer(*status, why);
    SetServiceStatus(m_handle, &s);
}

void ScmService::startProgress(int ready, std::int64_t remainingMs)
{
    const std::lock_guard lock(m_mutex);
    report(m_progress.startProgress(ready, remainingMs), "a service is ready");
}

void ScmService::running()
{
    const std::lock_guard lock(m_mutex);
    report(m_progress.running(), "all services ready");
}

void ScmService::phaseEntered(StopPhase phase, std::int64_t remainingMs)
{
    const std::lock_guard lock(m_mutex);
    report(m_progress.phaseEntered(phase, remainingMs), stopPhaseName(phase));
}

void ScmService::finish(int hostExitCode, bool waitForDispatcher)
{
    {
        const std::lock_guard lock(m_mutex);
        report(m_progress.stopped(hostExitCode), "stopped");
    }
    if (!waitForDispatcher || !m_dispatcher.joinable())
        return;
    SetEvent(m_stopped);
    // The dispatcher returns once ServiceMain has returned; bounded, as the SCM may end the
    // process first.
    if (WaitForSingleObject(m_returned, 5000) == WAIT_OBJECT_0)
        m_dispatcher.join();
    else
        m_dispatcher.detach();
}

} // namespace berth::win
