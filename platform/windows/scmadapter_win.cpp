// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "scmadapter_win.h"

#include "platform.h"
#include "requestchannel_win.h"
#include "scmservice_win.h"

#include <berth/hostprogress.h>

#include <QtCore/QDir>
#include <QtCore/QStandardPaths>

#include <atomic>

using namespace Qt::StringLiterals;

namespace berth::platform {

extern std::atomic<bool> g_serviceMode;

namespace {

// The message handler owns nothing: the sinks live as long as the process (a log line can come
// from any thread until the very end).
win::RotatingFile *g_logFile = nullptr;
win::EventLog *g_eventLog = nullptr;

void serviceMessageHandler(QtMsgType type, const QMessageLogContext &context, const QString &message)
{
    const QString line = qFormatLogMessage(type, context, message);
    if (g_logFile)
        g_logFile->writeLine(line.toStdString());
    if (g_eventLog && type >= QtWarningMsg) {
        g_eventLog->write(type == QtWarningMsg ? win::EventLog::Level::Warning : win::EventLog::Level::Error,
                          message.toStdString());
    }
}

std::optional<win::StopPhase> stopPhase(HostProgress::Phase p)
{
    switch (p) {
    case HostProgress::Phase::Intake: return win::StopPhase::Intake;
    case HostProgress::Phase::Drain: return win::StopPhase::Drain;
    case HostProgress::Phase::Cancel: return win::StopPhase::Cancel;
    case HostProgress::Phase::Join: return win::StopPhase::Join;
    case HostProgress::Phase::Close: return win::StopPhase::Close;
    case HostProgress::Phase::None: break;
    }
    return std::nullopt;
}

} // namespace

ScmAdapter::ScmAdapter(HostProgress &progress, std::unique_ptr<win::RotatingFile> log,
                       std::unique_ptr<win::EventLog> events)
{
    g_logFile = log.release();
    g_eventLog = events.release();
    qInstallMessageHandler(&serviceMessageHandler);
    auto &scm = win::ScmService::instance();
    connect(&progress, &HostProgress::startProgress, this, [&progress, &scm](int ready, int) {
        scm.startProgress(ready, progress.startBudget().count());
    });
    connect(&progress, &HostProgress::allReady, this, [&scm] { scm.running(); });
    connect(&progress, &HostProgress::phaseEntered, this,
            [&scm](HostProgress::Phase p, std::chrono::milliseconds remaining) {
        if (const auto phase = stopPhase(p))
            scm.phaseEntered(*phase, remaining.count());
    });
    // The report and the trace are written when finished() is emitted; SERVICE_STOPPED is the
    // last thing this process says.
    connect(&progress, &HostProgress::finished, this, [&scm](int exitCode) { scm.finish(exitCode); });
    // The watchdog's forced exit (deadline passed, the host thread maybe blocked) also ends
    // with SERVICE_STOPPED and a non-zero code, so the SCM's recovery actions see a failure
    // rather than a crash.
    progress.addForcedExitHook([&scm](int exitCode) { scm.finish(exitCode, false); });
}

ScmAdapter::~ScmAdapter() = default;

std::unique_ptr<QObject> connectServiceManager(HostProgress &progress, const QString &serviceName, bool eventLog,
                                               QString *error)
{
    g_serviceMode = true;
    auto &scm = win::ScmService::instance();
    if (const DWORD code = scm.connect(serviceName.toStdString(), progress.startBudget().count())) {
        g_serviceMode = false;
        *error = code == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
            ? u"--service: this process was not started by the Service Control Manager "
              "(install it with `berth install windows-service`, start it with `sc start`)"_s
            : u"--service: could not connect to the Service Control Manager: "_s
                + QString::fromStdString(win::win32ErrorText(code));
        return nullptr;
    }
    // A service's working directory is System32 and it has no console: log to
    // %LOCALAPPDATA% of its account (LocalService: C:\Windows\ServiceProfiles\LocalService\...).
    const QString dir = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation)
        + u"/Berth/logs"_s;
    auto log = std::make_unique<win::RotatingFile>(
        QDir::toNativeSeparators(dir + u'/' + serviceName + u".log"_s).toStdWString(), 10 * 1024 * 1024, 5);
    auto events = eventLog ? std::make_unique<win::EventLog>(serviceName.toStdString()) : nullptr;
    return std::make_unique<ScmAdapter>(progress, std::move(log), std::move(events));
}

} // namespace berth::platform
