// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What `berth install windows-service` registers, decided without any Win32 call: the same plan
// is printed by --print (on any platform) and applied by scminstall_win.cpp (on Windows).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::win {

struct InstallOptions
{
    std::string name = "berth";     ///< --name: the service (key) name
    std::string executable;         ///< absolute path of the executable to register
    std::string configFile;         ///< --config, absolute; empty: the built-in demo
    std::string account;            ///< --account; empty: LocalService
    bool delayedAutoStart = false;  ///< --delayed-auto-start
    std::int64_t deadlineMs = 10000; ///< shutdown.deadline of that config
};

struct FailureAction
{
    bool restart = true;       ///< else: none
    std::uint32_t delayMs = 0;
};

struct InstallPlan
{
    std::string name;
    std::string displayName;
    std::string description;
    std::string commandLine;       ///< the binary path with arguments, quoted for CreateProcess
    std::string account;           ///< as the SCM wants it; empty means LocalSystem
    std::string accountNote;       ///< why / what that account is
    bool delayedAutoStart = false; ///< start type: automatic (delayed) or automatic
    std::uint32_t preshutdownTimeoutMs = 0;
    std::uint32_t resetPeriodS = 86400;    ///< failure count resets after a day without failures
    std::vector<FailureAction> failureActions;
    bool failureActionsOnNonCrashFailures = true;
    std::string eventSource;       ///< Application log source (the service name)

    /// The --print text: one "key: value" line per setting.
    std::string render() const;
};

/// Builds the plan; false and \a error (one sentence) for a bad name or account.
bool makeInstallPlan(const InstallOptions &options, InstallPlan *plan, std::string *error);

/// One argument quoted so that CommandLineToArgvW / the MSVC runtime read it back unchanged.
std::string quoteWindowsArgument(const std::string &arg);

/// The preshutdown timeout registered for \a deadlineMs: the deadline plus the reserve the
/// PRESHUTDOWN handler keeps back (decideScmControl), so the configured deadline holds in full.
std::uint32_t preshutdownTimeoutFor(std::int64_t deadlineMs);

} // namespace berth::win
