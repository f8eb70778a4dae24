// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The controller test: installs berth_testsvc as a service with the core's installer, starts it,
// sends INTERROGATE, PARAMCHANGE and STOP, and asserts the exact sequence of states, the rising
// checkpoints and the wait hints it observes (the service waits at every step until this test
// has seen the status: no timing assumptions), then uninstalls. PRESHUTDOWN cannot be sent by
// a controller (only the system sends it; ControlService refuses it on Windows and in wine), so
// the test checks that refusal, and then runs the service once more with a user-defined control
// that the service handles as PRESHUTDOWN: everything after its origin is the real path.
#include "check.h"
#include "installplan.h"
#include "requestchannel_win.h"
#include "scminstall_win.h"
#include "scmprogress.h"

#include <windows.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

using namespace berth::win;

namespace {

const char kName[] = "BerthWineTest";

std::wstring exeDir()
{
    wchar_t path[MAX_PATH];
    const DWORD n = GetModuleFileNameW(nullptr, path, MAX_PATH);
    std::wstring p(path, n);
    return p.substr(0, p.find_last_of(L"\\/"));
}

std::string describe(const SERVICE_STATUS &s)
{
    return std::string(scmStateName(s.dwCurrentState)) + " cp=" + std::to_string(s.dwCheckPoint)
        + " hint=" + std::to_string(s.dwWaitHint) + " accepted=" + std::to_string(s.dwControlsAccepted)
        + " exit=" + std::to_string(s.dwWin32ExitCode) + "/" + std::to_string(s.dwServiceSpecificExitCode);
}

struct Expect
{
    DWORD state;
    DWORD checkPoint;
    DWORD hintMin, hintMax;   // inclusive
    DWORD accepted;
};

class Controller
{
public:
    Controller(SC_HANDLE service, HANDLE advance) : m_service(service), m_advance(advance) {}

    // Polls until the service shows \a e.state with \a e.checkPoint (or 30 s pass), then checks
    // every field and lets the service take its next step.
    bool expect(const Expect &e, bool advance = true)
    {
        SERVICE_STATUS s{};
        const ULONGLONG end = GetTickCount64() + 30000;
        while (QueryServiceStatus(m_service, &s) && GetTickCount64() < end) {
            if ((s.dwCurrentState == e.state && s.dwCheckPoint == e.checkPoint) || s.dwCurrentState == SERVICE_STOPPED)
                break;
            Sleep(20);
        }
        berth::test::note("  observed " + describe(s));
        m_seen.push_back(std::string(scmStateName(s.dwCurrentState)) + " cp=" + std::to_string(s.dwCheckPoint));
        bool ok = CHECK_MSG(s.dwCurrentState == e.state && s.dwCheckPoint == e.checkPoint, describe(s));
        ok &= CHECK_MSG(s.dwWaitHint >= e.hintMin && s.dwWaitHint <= e.hintMax,
                        describe(s) + ", hint expected in [" + std::to_string(e.hintMin) + ", "
                            + std::to_string(e.hintMax) + "]");
        ok &= CHECK_MSG(s.dwControlsAccepted == e.accepted, describe(s));
        m_last = s;
        if (advance)
            SetEvent(m_advance);
        return ok;
    }
    const SERVICE_STATUS &last() const { return m_last; }
    const std::vector<std::string> &seen() const { return m_seen; }

private:
    SC_HANDLE m_service;
    HANDLE m_advance;
    SERVICE_STATUS m_last{};
    std::vector<std::string> m_seen;
};

std::vector<std::string> readLines(const std::wstring &path)
{
    std::vector<std::string> lines;
    std::ifstream in{std::filesystem::path(path)};
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

// The plan for berth_testsvc as service kName, logging to \a logPath, with \a extraArgs.
InstallPlan testServicePlan(const std::wstring &dir, const std::wstring &logPath, const std::string &extraArgs)
{
    InstallOptions options;
    options.name = kName;
    options.executable = toUtf8(dir + L"\\berth_testsvc.exe");
    options.deadlineMs = 60000;
    InstallPlan plan;
    std::string error;
    CHECK_MSG(makeInstallPlan(options, &plan, &error), error);
    plan.commandLine += " --log " + quoteWindowsArgument(toUtf8(logPath)) + " --gate 1 " + extraArgs;
    return plan;
}

void expectStartup(Controller &c)
{
    constexpr DWORD slack = ScmProgress::kSlackMs;
    constexpr DWORD running = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE;
    c.expect({SERVICE_START_PENDING, 1, 30000 + slack, 30000 + slack, 0});
    c.expect({SERVICE_START_PENDING, 2, 20000 + slack, 20000 + slack, 0});
    c.expect({SERVICE_RUNNING, 0, 0, 0, running}, false);
}

// The host's phase budgets (berth_testsvc: deadline 60 s, intake 10, drain 20, cancel 10,
// reserve 5): each hint is what is left of the phase, plus the slack.
void expectStopSequence(Controller &c)
{
    constexpr DWORD slack = ScmProgress::kSlackMs, margin = 10000;   // margin: time spent in the test
    c.expect({SERVICE_STOP_PENDING, 1, ScmProgress::kHandoffMs + slack, ScmProgress::kHandoffMs + slack, 0});
    c.expect({SERVICE_STOP_PENDING, 2, 10000 + slack - margin, 10000 + slack, 0});
    c.expect({SERVICE_STOP_PENDING, 3, 30000 + slack - margin, 30000 + slack, 0});
    c.expect({SERVICE_STOP_PENDING, 4, 40000 + slack - margin, 40000 + slack, 0});
    c.expect({SERVICE_STOP_PENDING, 5, 55000 + slack - margin, 55000 + slack, 0});
    c.expect({SERVICE_STOP_PENDING, 6, 60000 + slack - margin, 60000 + slack, 0});
    c.expect({SERVICE_STOPPED, 0, 0, 0, 0}, false);
}

// PRESHUTDOWN end to end, but for its origin: the service treats user-defined control 200 as
// PRESHUTDOWN (ScmService::setControlAlias), and everything after the handler is the real path:
// the stop with the preshutdown limit (61 s registered - 1 s), STOP_PENDING with rising
// checkpoints and wait hints, a single SERVICE_STOPPED.
void preshutdownScenario(const std::wstring &dir)
{
    berth::test::note("preshutdown (control 200 handled as PRESHUTDOWN):");
    const std::wstring logPath = dir + L"\\testsvc-preshutdown.log";
    DeleteFileW(logPath.c_str());
    std::string error;
    const InstallPlan plan = testServicePlan(dir, logPath, "--exit 0 --preshutdown-alias 200");
    std::vector<std::string> warnings;
    if (!CHECK_MSG(installService(plan, &error, &warnings), error))
        return;
    SC_HANDLE manager = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    SC_HANDLE service = OpenServiceW(manager, toWide(kName).c_str(), SERVICE_ALL_ACCESS);
    HANDLE advance = CreateEventW(nullptr, FALSE, FALSE, L"Global\\berth-wine-advance");
    if (CHECK(service && advance) && CHECK_WIN32(StartServiceW(service, 0, nullptr))) {
        Controller c(service, advance);
        expectStartup(c);
        SERVICE_STATUS s{};
        CHECK_WIN32(ControlService(service, 200, &s));
        // The preshutdown limit (60 s) equals the simulated deadline: the same budgets as STOP.
        expectStopSequence(c);
        CHECK_MSG(c.last().dwWin32ExitCode == NO_ERROR, describe(c.last()));   // a clean stop
        bool sawPreshutdown = false;
        int stoppedReports = 0;
        for (const auto &line : readLines(logPath)) {
            berth::test::note("  service log: " + line);
            sawPreshutdown |= line == "stop SCM PRESHUTDOWN limit=60000";
            stoppedReports += line.rfind("report STOPPED", 0) == 0;
        }
        CHECK(sawPreshutdown);
        CHECK(stoppedReports == 1);
    }
    if (advance)
        CloseHandle(advance);
    if (service)
        CloseServiceHandle(service);
    CloseServiceHandle(manager);
    CHECK_MSG(uninstallService(kName, 10000, &error), error);
}

} // namespace

int wmain()
{
    const std::wstring dir = exeDir();
    const std::wstring logPath = dir + L"\\testsvc.log";
    DeleteFileW(logPath.c_str());
    std::string error;
    uninstallService(kName, 10000, &error);   // a leftover of an aborted run
    // Missing rights cannot be produced here (wine's user is an administrator): the sentence.
    const std::string denied = describeScmError(ERROR_ACCESS_DENIED, kName, "install");
    CHECK_MSG(denied.find("needs administrator rights") != std::string::npos, denied);

    const InstallPlan plan = testServicePlan(dir, logPath, "--exit 3");
    std::vector<std::string> warnings;
    if (!CHECK_MSG(installService(plan, &error, &warnings), error))
        return berth::test::finish("tst_wincore_scm");
    for (const auto &w : warnings)
        berth::test::note("  install warning: " + w);
    std::string again;
    std::vector<std::string> ignored;
    CHECK(!installService(plan, &again, &ignored));
    CHECK_MSG(again.find("already exists") != std::string::npos, again);

    SC_HANDLE manager = OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
    SC_HANDLE service = OpenServiceW(manager, toWide(kName).c_str(), SERVICE_ALL_ACCESS);
    CHECK(service != nullptr);
    {
        SERVICE_PRESHUTDOWN_INFO info{};
        DWORD needed = 0;
        if (QueryServiceConfig2W(service, SERVICE_CONFIG_PRESHUTDOWN_INFO, reinterpret_cast<BYTE *>(&info), sizeof info, &needed))
            CHECK_MSG(info.dwPreshutdownTimeout == 61000, std::to_string(info.dwPreshutdownTimeout));
        else
            berth::test::note("  QueryServiceConfig2(PRESHUTDOWN_INFO) failed: " + win32ErrorText(GetLastError()));
    }

    HANDLE advance = CreateEventW(nullptr, FALSE, FALSE, L"Global\\berth-wine-advance");
    HANDLE reloaded = CreateEventW(nullptr, FALSE, FALSE, L"Global\\berth-wine-reloaded");
    CHECK(advance && reloaded);
    const BOOL started = StartServiceW(service, 0, nullptr);
    const DWORD startError = started ? 0 : GetLastError();
    if (!CHECK_MSG(started, win32ErrorText(startError))) {
        uninstallService(kName, 10000, &error);
        return berth::test::finish("tst_wincore_scm");
    }

    Controller c(service, advance);
    berth::test::note("start:");
    expectStartup(c);

    berth::test::note("controls while running:");
    SERVICE_STATUS s{};
    CHECK_WIN32(ControlService(service, SERVICE_CONTROL_INTERROGATE, &s));
    CHECK_MSG(s.dwCurrentState == SERVICE_RUNNING, describe(s));
    const BOOL preshutdown = ControlService(service, SERVICE_CONTROL_PRESHUTDOWN, &s);
    const DWORD preshutdownError = preshutdown ? 0 : GetLastError();
    berth::test::note("  ControlService(PRESHUTDOWN) from a controller: "
                      + (preshutdown ? std::string("accepted") : win32ErrorText(preshutdownError)));
    CHECK(!preshutdown);
    CHECK_WIN32(ControlService(service, SERVICE_CONTROL_PARAMCHANGE, &s));
    CHECK_MSG(WaitForSingleObject(reloaded, 20000) == WAIT_OBJECT_0, "the service did not see PARAMCHANGE");

    berth::test::note("stop:");
    CHECK_WIN32(ControlService(service, SERVICE_CONTROL_STOP, &s));
    expectStopSequence(c);
    CHECK_MSG(c.last().dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR && c.last().dwServiceSpecificExitCode == 3,
              describe(c.last()));

    // What the service reported, in order, must be exactly what was observed (plus the
    // handler's answer to INTERROGATE), and SERVICE_STOPPED exactly once.
    const std::vector<std::string> log = readLines(logPath);
    std::vector<std::string> reported;
    int stoppedReports = 0, interrogations = 0;
    for (const auto &line : log) {
        berth::test::note("  service log: " + line);
        if (line.rfind("report ", 0) != 0)
            continue;
        if (line.find("why=SCM INTERROGATE") != std::string::npos) {
            ++interrogations;
            continue;
        }
        std::istringstream words(line.substr(7));
        std::string state, cp;
        words >> state >> cp;
        reported.push_back(state + " " + cp);
        stoppedReports += state == "STOPPED";
    }
    CHECK_MSG(reported == c.seen(), "the service reported a status the controller did not observe");
    CHECK(stoppedReports == 1);
    CHECK(interrogations == 1);
    bool sawReload = false, sawStop = false;
    for (const auto &line : log) {
        sawReload |= line == "reload SCM PARAMCHANGE";
        sawStop |= line == "stop SCM STOP limit=0";
    }
    CHECK(sawReload);
    CHECK(sawStop);

    CloseServiceHandle(service);
    CloseServiceHandle(manager);
    CHECK_MSG(uninstallService(kName, 10000, &error), error);
    std::string missing;
    CHECK(!uninstallService(kName, 10000, &missing));
    CHECK_MSG(missing.find("no service named") != std::string::npos, missing);

    preshutdownScenario(exeDir());
    return berth::test::finish("tst_wincore_scm");
}
