// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The Windows side of the platform seam (platform.h): the thin Qt adapter over the Win32 core
// (platform/windows/core, tested under wine). Everything Windows calls us on (the console
// control thread, the session window's thread, the SCM dispatcher) only posts to the
// RequestChannel; here a QWinEventNotifier on its event hands the requests to the Lifetime on
// the host thread. Compiled only on Windows.
#include <winsock2.h>   // before <windows.h>, which the Win32 core headers include

#include "consolehandler_win.h"
#include "install_p.h"
#include "platform.h"
#include "requestchannel_win.h"
#include "scminstall_win.h"

#include <berth/lifetime.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QWinEventNotifier>

#include <atomic>
#include <cstdio>
#include <cstdlib>

using namespace Qt::StringLiterals;

namespace berth::platform {

// Set by connectServiceManager() (scmadapter_win.cpp) before installStopSources().
std::atomic<bool> g_serviceMode{false};

namespace {

class WinStopSource : public QObject
{
public:
    explicit WinStopSource(Lifetime &lifetime) : m_lifetime(lifetime)
    {
        auto &channel = win::RequestChannel::instance();
        // Called on the posting thread: the watchdog arms even if the host thread is blocked.
        channel.setStopListener([&lifetime] { lifetime.noteStopFromAnyThread(); });
        m_notifier = new QWinEventNotifier(channel.wakeEvent(), this);
        connect(m_notifier, &QWinEventNotifier::activated, this, &WinStopSource::deliver);
        const bool service = g_serviceMode.load();
        win::ConsoleControl::install(service ? win::ProcessKind::Service : win::ProcessKind::Console);
        // Qt loads user32, so logoff and shutdown reach a console host only through a top-level
        // window. A service gets them from the SCM (PRESHUTDOWN) instead.
        if (!service)
            m_window.start();
        // The report is written by then: handler threads blocked in CLOSE / LOGOFF / SHUTDOWN
        // may return, and Windows may end the process.
        connect(qApp, &QCoreApplication::aboutToQuit, this, [] { win::RequestChannel::instance().markDone(); });
        // Requests that came before (earlyInit() installed the handler) are still queued, and
        // the event is still set: the notifier delivers them once the loop runs.
    }

    ~WinStopSource() override
    {
        auto &channel = win::RequestChannel::instance();
        channel.markDone();
        m_window.stop();
        channel.setStopListener({});
    }

private:
    void deliver()
    {
        for (const win::HostRequest &r : win::RequestChannel::instance().take()) {
            const QString source = QString::fromStdString(r.source);
            if (r.kind == win::HostRequest::Kind::Reload)
                m_lifetime.requestReload(source);
            else
                m_lifetime.requestStop(StopReason{source, std::chrono::milliseconds(r.platformLimitMs)});
        }
    }

    Lifetime &m_lifetime;
    QWinEventNotifier *m_notifier = nullptr;
    win::SessionWindow m_window;
};

} // namespace

void earlyInit()
{
    // Console events from now on are queued, not lost (and Ctrl+C no longer ends the process).
    win::ConsoleControl::install(win::ProcessKind::Console);
}

std::unique_ptr<QObject> installStopSources(Lifetime &lifetime)
{
    return std::make_unique<WinStopSource>(lifetime);
}

std::function<void()> childProcessModifier()
{
    return {};   // nothing to undo: earlyInit() blocks no signals here
}

bool canExitWithoutTeardown()
{
    return false;   // see platform.h: the executable unwinds
}

void exitWithoutTeardown(int code)
{
    std::fflush(nullptr);
    std::_Exit(code);   // not reached: runApplication() asks canExitWithoutTeardown() first
}

qint64 raiseOpenFileLimit()
{
    return -1;   // sockets are handles, not C runtime descriptors: no limit to raise
}

bool setResetOnClose(qintptr socketDescriptor)
{
    LINGER l{};
    l.l_onoff = 1;
    l.l_linger = 0;
    return ::setsockopt(SOCKET(socketDescriptor), SOL_SOCKET, SO_LINGER, reinterpret_cast<const char *>(&l),
                        int(sizeof l)) == 0;
}

const char *name()
{
    return "windows";
}

int applyWindowsInstall_sys(const win::InstallPlan &plan, QString *output, QString *error)
{
    std::string message;
    std::vector<std::string> warnings;
    if (!win::installService(plan, &message, &warnings)) {
        *error = QString::fromStdString(message);
        return 1;
    }
    *output = u"installed the Windows service \"%1\":\n"_s.arg(QString::fromStdString(plan.name))
        + QString::fromStdString(plan.render());
    for (const auto &w : warnings)
        *output += u"warning: "_s + QString::fromStdString(w) + u'\n';
    return 0;
}

int removeWindowsService_sys(const QString &name, QString *output, QString *error)
{
    std::string message;
    if (!win::uninstallService(name.toStdString(), 30000, &message)) {
        *error = QString::fromStdString(message);
        return 1;
    }
    *output = u"removed the Windows service \"%1\""_s.arg(name);
    return 0;
}

} // namespace berth::platform
