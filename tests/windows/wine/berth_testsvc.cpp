// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A Windows service built on the Win32 core, standing in for `berth run --service`: where the
// real host reports its progress from the Qt thread (platform_win.cpp), this one simulates the
// host's start and its shutdown timeline on the main thread. With --gate, every step waits for
// the controller test (tst_wincore_scm) to have seen the previous status, so that the controller
// observes every status exactly, without depending on timing. Every report goes to --log.
//
// berth_testsvc run --service --name N --log FILE [--gate 1] [--exit CODE] [--preshutdown-alias C]
#include "requestchannel_win.h"
#include "scmservice_win.h"

#include <windows.h>

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <string>

using namespace berth::win;

namespace {

// The simulated shutdown config: long budgets, so that no phase ever runs out in the test.
constexpr std::int64_t kDeadline = 60000, kIntake = 10000, kDrain = 20000, kCancel = 10000, kReserve = 5000;
constexpr std::int64_t kStartBudget = 30000, kStartRemaining = 20000;

std::mutex g_logMutex;
std::FILE *g_log = nullptr;

void logLine(const std::string &line)
{
    const std::lock_guard lock(g_logMutex);
    if (!g_log)
        return;
    std::fprintf(g_log, "%s\n", line.c_str());
    std::fflush(g_log);
}

HANDLE g_advance = nullptr;
void gate()
{
    if (g_advance)
        WaitForSingleObject(g_advance, 60000);
}

std::string arg(int argc, wchar_t **argv, const wchar_t *name, const std::string &fallback = {})
{
    for (int i = 1; i + 1 < argc; ++i) {
        if (std::wstring(argv[i]) == name)
            return toUtf8(argv[i + 1]);
    }
    return fallback;
}

} // namespace

int wmain(int argc, wchar_t **argv)
{
    const std::string name = arg(argc, argv, L"--name", "BerthTestService");
    const std::string logPath = arg(argc, argv, L"--log");
    const bool gated = arg(argc, argv, L"--gate") == "1";
    const int exitCode = std::stoi(arg(argc, argv, L"--exit", "0"));
    if (!logPath.empty())
        g_log = _wfopen(toWide(logPath).c_str(), L"a");
    if (gated)
        g_advance = OpenEventW(SYNCHRONIZE | EVENT_MODIFY_STATE, FALSE, L"Global\\berth-wine-advance");

    ScmService &scm = ScmService::instance();
    if (const std::string alias = arg(argc, argv, L"--preshutdown-alias"); !alias.empty())
        scm.setControlAlias(DWORD(std::stoul(alias)), SERVICE_CONTROL_PRESHUTDOWN);
    scm.setReportObserver([](const ScmStatus &s, const char *why) {
        logLine("report " + std::string(scmStateName(s.state)) + " cp=" + std::to_string(s.checkPoint)
                + " hint=" + std::to_string(s.waitHintMs) + " accepted=" + std::to_string(s.controlsAccepted)
                + " exit=" + std::to_string(s.win32ExitCode) + "/" + std::to_string(s.serviceSpecificExitCode)
                + " why=" + why);
    });
    if (const DWORD error = scm.connect(name, kStartBudget)) {
        logLine("connect failed: " + win32ErrorText(error));
        return 2;
    }
    logLine("connected, preshutdown timeout " + std::to_string(scm.preshutdownTimeoutMs()));
    gate();
    scm.startProgress(1, kStartRemaining);
    gate();
    scm.running();

    RequestChannel &channel = RequestChannel::instance();
    for (;;) {
        WaitForSingleObject(channel.wakeEvent(), INFINITE);
        for (const HostRequest &r : channel.take()) {
            if (r.kind == HostRequest::Kind::Reload) {
                logLine("reload " + r.source);
                if (HANDLE reloaded = OpenEventW(EVENT_MODIFY_STATE, FALSE, L"Global\\berth-wine-reloaded")) {
                    SetEvent(reloaded);
                    CloseHandle(reloaded);
                }
                continue;
            }
            logLine("stop " + r.source + " limit=" + std::to_string(r.platformLimitMs));
            // The host's timeline (host/shutdown.cpp), from the moment its thread takes the request.
            const std::int64_t deadline = r.platformLimitMs && r.platformLimitMs < kDeadline ? r.platformLimitMs : kDeadline;
            const ULONGLONG t0 = GetTickCount64();
            const std::int64_t joinEnd = deadline - kReserve;
            const std::int64_t intakeEnd = std::min(kIntake, joinEnd);
            const std::int64_t drainEnd = std::min(intakeEnd + kDrain, joinEnd);
            const std::int64_t cancelEnd = std::min(drainEnd + kCancel, joinEnd);
            const std::int64_t ends[] = {intakeEnd, drainEnd, cancelEnd, joinEnd, deadline};
            const StopPhase phases[] = {StopPhase::Intake, StopPhase::Drain, StopPhase::Cancel,
                                        StopPhase::Join, StopPhase::Close};
            for (int i = 0; i < 5; ++i) {
                gate();
                scm.phaseEntered(phases[i], ends[i] - std::int64_t(GetTickCount64() - t0));
            }
            gate();
            logLine("finishing with exit code " + std::to_string(exitCode));
            scm.finish(exitCode);
            logLine("dispatcher returned");
            if (g_log)
                std::fclose(g_log);
            return 0;
        }
    }
}
