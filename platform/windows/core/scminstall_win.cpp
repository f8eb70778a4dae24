// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "scminstall_win.h"

#include "requestchannel_win.h"

#include <windows.h>

#include <memory>

namespace berth::win {

namespace {
struct ScHandleCloser
{
    void operator()(SC_HANDLE h) const { CloseServiceHandle(h); }
};
using ScHandle = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ScHandleCloser>;

} // namespace

std::string describeScmError(std::uint32_t code, const std::string &name, const char *doing)
{
    switch (code) {
    case ERROR_ACCESS_DENIED:
        return std::string(doing) + " needs administrator rights: run it from an elevated prompt";
    case ERROR_SERVICE_EXISTS:
    case ERROR_DUPLICATE_SERVICE_NAME:
        return "a service named \"" + name + "\" already exists (berth uninstall windows-service --name "
            + name + " removes it)";
    case ERROR_SERVICE_DOES_NOT_EXIST:
        return "no service named \"" + name + "\" is installed";
    case ERROR_SERVICE_MARKED_FOR_DELETE:
        return "the service \"" + name + "\" is marked for deletion; close the Services console "
            "and any handle to it, then try again";
    case ERROR_INVALID_NAME:
        return "\"" + name + "\" is not a valid service name";
    default:
        return std::string(doing) + " failed: " + win32ErrorText(code);
    }
}

namespace {
std::string describe(DWORD code, const std::string &name, const char *doing)
{
    return describeScmError(code, name, doing);
}

ScHandle openManager(DWORD access, std::string *error, const std::string &name, const char *doing)
{
    ScHandle manager(OpenSCManagerW(nullptr, nullptr, access));
    if (!manager)
        *error = describe(GetLastError(), name, doing);
    return manager;
}
} // namespace

bool installService(const InstallPlan &plan, std::string *error, std::vector<std::string> *warnings)
{
    const char *doing = "installing the service";
    ScHandle manager = openManager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE, error, plan.name, doing);
    if (!manager)
        return false;
    const std::wstring name = toWide(plan.name);
    const std::wstring display = toWide(plan.displayName);
    const std::wstring command = toWide(plan.commandLine);
    const std::wstring account = toWide(plan.account);
    ScHandle service(CreateServiceW(manager.get(), name.c_str(), display.c_str(), SERVICE_ALL_ACCESS,
                                    SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                    command.c_str(), nullptr, nullptr, nullptr,
                                    account.empty() ? nullptr : account.c_str(), nullptr));
    if (!service) {
        *error = describe(GetLastError(), plan.name, doing);
        return false;
    }
    const auto set = [&](DWORD level, void *info, const char *what) {
        if (!ChangeServiceConfig2W(service.get(), level, info))
            warnings->push_back(std::string("could not set the ") + what + ": " + win32ErrorText(GetLastError()));
    };
    std::wstring description = toWide(plan.description);
    SERVICE_DESCRIPTIONW desc{description.data()};
    set(SERVICE_CONFIG_DESCRIPTION, &desc, "description");
    if (plan.delayedAutoStart) {
        SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
        set(SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed, "delayed automatic start");
    }
    SERVICE_PRESHUTDOWN_INFO preshutdown{plan.preshutdownTimeoutMs};
    set(SERVICE_CONFIG_PRESHUTDOWN_INFO, &preshutdown, "preshutdown timeout");
    std::vector<SC_ACTION> actions;
    for (const auto &a : plan.failureActions)
        actions.push_back({a.restart ? SC_ACTION_RESTART : SC_ACTION_NONE, a.delayMs});
    SERVICE_FAILURE_ACTIONSW failure{};
    failure.dwResetPeriod = plan.resetPeriodS;
    failure.cActions = DWORD(actions.size());
    failure.lpsaActions = actions.data();
    set(SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "recovery actions");
    SERVICE_FAILURE_ACTIONS_FLAG flag{plan.failureActionsOnNonCrashFailures ? TRUE : FALSE};
    set(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag, "recovery on non-crash failures");
    return true;
}

bool uninstallService(const std::string &name, std::uint32_t stopWaitMs, std::string *error)
{
    const char *doing = "removing the service";
    ScHandle manager = openManager(SC_MANAGER_CONNECT, error, name, doing);
    if (!manager)
        return false;
    const std::wstring wname = toWide(name);
    ScHandle service(OpenServiceW(manager.get(), wname.c_str(), DELETE | SERVICE_STOP | SERVICE_QUERY_STATUS));
    if (!service) {
        *error = describe(GetLastError(), name, doing);
        return false;
    }
    SERVICE_STATUS status{};
    if (QueryServiceStatus(service.get(), &status) && status.dwCurrentState != SERVICE_STOPPED) {
        if (status.dwCurrentState != SERVICE_STOP_PENDING)
            ControlService(service.get(), SERVICE_CONTROL_STOP, &status);
        const ULONGLONG end = GetTickCount64() + stopWaitMs;
        while (QueryServiceStatus(service.get(), &status) && status.dwCurrentState != SERVICE_STOPPED
               && GetTickCount64() < end)
            Sleep(100);
    }
    if (!DeleteService(service.get())) {
        *error = describe(GetLastError(), name, doing);
        return false;
    }
    return true;
}

} // namespace berth::win
