// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The platform seam: the only functions the host and the executable call to reach the operating
// system. Each is defined once per platform (posix/platform_posix.cpp, windows/platform_win.cpp); CMake
// picks the file.
#pragma once

#include <QtCore/QString>

#include <chrono>
#include <functional>
#include <memory>

class QObject;

namespace berth {
class HostProgress;
class Lifetime;
}

namespace berth::platform {

/// First thing in main(), before QCoreApplication and before any thread exists: prepares the
/// process so that stop signals are delivered only where the platform layer wants them
/// (POSIX: blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in this thread, so every thread created
/// later inherits the block). Idempotent.
void earlyInit();

/// Installs the platform's stop sources and connects them to \a lifetime. Call on the thread
/// that runs the event loop, after QCoreApplication exists. The returned object owns them;
/// destroying it restores the default behaviour. Requests that arrived between earlyInit() and
/// this call are not lost (they are pending, and delivered when the event loop runs).
std::unique_ptr<QObject> installStopSources(Lifetime &lifetime);

/// A function for QProcess::setChildProcessModifier(): resets in a child process what
/// earlyInit() changed (POSIX: unblocks the stop signals), so children stop normally.
std::function<void()> childProcessModifier();

/// Raises the process's soft open-file limit as far as the hard limit lets it (earlyInit() does
/// this for the executable; a program serving 1 000+ connections, such as the HTTP fixture, in
/// a process that did not call it). Children started later get the original limit back.
/// Returns the soft limit now in force, or -1 where the platform has no such limit. Thread-safe.
qint64 raiseOpenFileLimit();
/// Makes closing the TCP socket \a socketDescriptor send a reset (RST) rather than an orderly
/// FIN (SO_LINGER with a zero timeout). False where the platform cannot.
bool setResetOnClose(qintptr socketDescriptor);

/// Short name of the platform for logs and `berth --version`: "posix", "windows".
const char *name();
/// Whether exitWithoutTeardown() can end this process safely. POSIX: yes (_exit() runs no code
/// of ours or of Qt's). Windows: no, the executable unwinds as usual (ExitProcess() still runs
/// every DLL's detach code, Qt's static destructors among them, beside threads it cut short).
bool canExitWithoutTeardown();
/// Ends the process with \a code at once, running no destructor and no atexit handler: C stdio
/// is flushed first (and in a LeakSanitizer build, the leak check runs), then the kernel closes
/// the sockets and files and frees the memory. For the executable, once the host has finished
/// and everything that needs flushing was flushed in close. Only where canExitWithoutTeardown().
[[noreturn]] void exitWithoutTeardown(int code);

/// `berth run --service`: connects this process to the platform's service manager as service
/// \a serviceName (Windows: the SCM; its control dispatcher gets a thread of its own) and
/// reports \a progress (the host's start-up and shutdown) to it until the host finishes; stop
/// requests from it go to the Lifetime that installStopSources() connects. Logging
/// goes to a rotating file from then on (a service has no console), and also to the Windows
/// event log if \a eventLog. Call after the host exists and *before* installStopSources().
/// Returns nullptr and sets \a error if the process was not started by a service manager, or
/// the platform has none that works this way (POSIX: run under systemd or launchd as is).
std::unique_ptr<QObject> connectServiceManager(HostProgress &progress, const QString &serviceName,
                                               bool eventLog, QString *error);

/// `berth install <target>` and `berth uninstall <target>`; the only target so far is
/// "windows-service".
struct ServiceInstall
{
    QString target;                 ///< "windows-service"
    QString name;                   ///< --name (default "berth")
    QString executable;             ///< this executable, absolute
    QString configFile;             ///< --config, absolute; empty for the built-in demo
    QString account;                ///< --account; empty for the default (LocalService)
    bool delayedAutoStart = false;  ///< --delayed-auto-start
    std::chrono::milliseconds deadline{10000}; ///< shutdown.deadline of that config
    bool printOnly = false;         ///< --print: say what would be registered, change nothing
};
/// Registers (or with printOnly, describes) the service. Returns an exit code: 0 done, 1 the
/// system refused (\a error says why: rights, an existing service, ...), 2 bad request or a
/// target this platform cannot install. \a output gets what to print on success.
int installService(const ServiceInstall &request, QString *output, QString *error);
/// Stops (if running) and removes the service; same exit codes.
int uninstallService(const ServiceInstall &request, QString *output, QString *error);

} // namespace berth::platform
