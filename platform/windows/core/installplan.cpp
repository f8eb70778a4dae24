// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "installplan.h"

#include "scmprogress.h"

#include <algorithm>
#include <cctype>

namespace berth::win {

namespace {
std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return s;
}

std::string seconds(std::uint32_t ms)
{
    std::string s = std::to_string(ms / 1000);
    if (ms % 1000)
        s += '.' + std::to_string(ms % 1000 + 1000).substr(1);
    return s + " s";
}
} // namespace

std::string quoteWindowsArgument(const std::string &arg)
{
    if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string::npos)
        return arg;
    std::string out = "\"";
    std::size_t backslashes = 0;
    for (char c : arg) {
        if (c == '\\') {
            ++backslashes;
            continue;
        }
        // Backslashes are literal unless they precede a quote: then each one is doubled.
        out.append(c == '"' ? 2 * backslashes + 1 : backslashes, '\\');
        backslashes = 0;
        out += c;
    }
    out.append(2 * backslashes, '\\');   // before the closing quote
    out += '"';
    return out;
}

std::uint32_t preshutdownTimeoutFor(std::int64_t deadlineMs)
{
    return std::uint32_t(std::clamp<std::int64_t>(deadlineMs, 0, 3600 * 1000)) + kScmReserveMs;
}

bool makeInstallPlan(const InstallOptions &o, InstallPlan *plan, std::string *error)
{
    // The SCM forbids '/' and '\' in names and allows at most 256 characters.
    if (o.name.empty() || o.name.size() > 256 || o.name.find_first_of("/\\") != std::string::npos) {
        *error = "bad service name \"" + o.name + "\": 1 to 256 characters, no '/' or '\\'";
        return false;
    }
    if (o.executable.empty()) {
        *error = "the path of the executable is unknown";
        return false;
    }
    InstallPlan p;
    p.name = o.name;
    p.displayName = o.name == "berth" ? "Berth service host" : "Berth: " + o.name;
    p.description = "Runs Berth services; stops them in order (intake, drain, cancel, join, close) "
                    "within the configured shutdown deadline.";
    p.commandLine = quoteWindowsArgument(o.executable) + " run --service --name " + quoteWindowsArgument(o.name);
    if (!o.configFile.empty())
        p.commandLine += " --config " + quoteWindowsArgument(o.configFile);

    const std::string account = lower(o.account);
    if (account.empty() || account == "localservice" || account == "nt authority\\localservice") {
        // The exact English name: the SCM rejects localized ones.
        p.account = "NT AUTHORITY\\LocalService";
        p.accountNote = "LocalService: minimal local rights, anonymous on the network";
    } else if (account == "networkservice" || account == "nt authority\\networkservice") {
        p.account = "NT AUTHORITY\\NetworkService";
        p.accountNote = "NetworkService: minimal local rights, the computer account on the network";
    } else if (account == "localsystem") {
        p.account.clear();
        p.accountNote = "LocalSystem: full rights on this computer";
    } else if (account == "virtual") {
        p.account = "NT SERVICE\\" + o.name;
        p.accountNote = "virtual account of this service";
    } else {
        if (o.account.find('\\') == std::string::npos && o.account.find('@') == std::string::npos) {
            *error = "account \"" + o.account + "\": use LocalService, NetworkService, LocalSystem, "
                     "virtual, or DOMAIN\\name (a managed account ending in $; passwords are not supported)";
            return false;
        }
        p.account = o.account;
        p.accountNote = "as given (must need no password: a managed service account)";
    }
    p.delayedAutoStart = o.delayedAutoStart;
    p.preshutdownTimeoutMs = preshutdownTimeoutFor(o.deadlineMs);
    p.failureActions = {{true, 5000}, {true, 10000}, {true, 30000}};
    p.eventSource = o.name;
    *plan = p;
    return true;
}

std::string InstallPlan::render() const
{
    std::string s;
    const auto line = [&s](const char *key, const std::string &value) {
        s += key;
        s += ": ";
        s += value;
        s += '\n';
    };
    line("service name", name);
    line("display name", displayName);
    line("description", description);
    line("command line", commandLine);
    line("account", (account.empty() ? std::string("LocalSystem") : account) + " (" + accountNote + ")");
    line("start type", delayedAutoStart ? "automatic (delayed start)" : "automatic");
    line("controls accepted", "STOP, PRESHUTDOWN, PARAMCHANGE (reload)");
    line("preshutdown timeout", seconds(preshutdownTimeoutMs) + " (shutdown.deadline + " + seconds(kScmReserveMs) + ")");
    std::string actions;
    for (const auto &a : failureActions) {
        if (!actions.empty())
            actions += ", ";
        actions += a.restart ? "restart after " + seconds(a.delayMs) : std::string("none");
    }
    line("recovery", actions + "; failure count reset after " + std::to_string(resetPeriodS / 3600) + " h");
    line("recovery on non-crash failures", failureActionsOnNonCrashFailures
             ? "yes (a stop with exit code 1 or 3 counts as a failure)" : "no");
    line("event log source", eventSource + " (Application log)");
    return s;
}

} // namespace berth::win
