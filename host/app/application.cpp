// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The `berth` command line: run, check, services. Shared by the berth executable and by
// users' own executables that add service types (berth/application.h).
#include "builtin.h"
#include "config/config.h"
#include "engine/logging.h"
#include "platform.h"
#include "engine/report.h"
#include "engine/servicehost.h"
#include "engine/servicerunner.h"

#include <berth/application.h>
#include <berth/lifetime.h>
#include <berth/serviceregistry.h>

#include <QtCore/QCommandLineParser>
#include <QtCore/QCoreApplication>
#include <QtCore/QFileInfo>
#include <QtCore/QTextStream>

#include <cstdio>
#include <exception>

using namespace Qt::StringLiterals;
using namespace berth;

namespace {

const char kDescription[] =
    "Berth runs services on one Qt event loop and turns every way the process is told to stop\n"
    "into one ordered shutdown: intake -> drain -> cancel -> join -> close, each phase with a\n"
    "budget cut from one deadline.\n"
    "\n"
    "Commands:\n"
    "  run        run the services of --config (without it: a built-in demo)\n"
    "  check      validate --config and exit\n"
    "  services   list the service types and their config keys\n"
    "  install windows-service [--name N] [--config F] [--account A] [--delayed-auto-start] [--print]\n"
    "             register berth as a Windows service (--print: only show what would be registered)\n"
    "  uninstall windows-service [--name N]\n"
    "             stop and remove that service\n"
    "\n"
    "Signals (run): SIGINT/SIGTERM stop (a 2nd cancels what is left, a 3rd finishes at once),\n"
    "  SIGHUP reloads the config file, SIGUSR1 dumps pending work to the log.\n"
    "\n"
    "Exit codes:\n"
    "  0  clean stop\n"
    "  1  a service failed (to start, while running, or to stop)\n"
    "  2  bad command line or config\n"
    "  3  shutdown forced: work was still pending when its budget ran out";

// Qt does not let exceptions travel through its event loop; notify() is where Qt says to catch
// them. One thrown by a service's slot, timer or event handler fails that service (its
// onFailure policy applies); anything else fails the host. Either way the shutdown stays ordered.
class BerthApplication : public QCoreApplication
{
public:
    using QCoreApplication::QCoreApplication;
    std::function<void(const QString &)> onUnownedException;

    bool notify(QObject *receiver, QEvent *event) override
    {
        QString what;
        try {
            // Only the host thread's dispatch says which service blocks the host thread.
            const bool hostThread = receiver->thread() == thread();
            const ServiceRunner::BusyScope busy(hostThread ? ServiceRunner::owning(receiver) : nullptr);
            return QCoreApplication::notify(receiver, event);
        } catch (const std::exception &e) {
            what = QString::fromUtf8(e.what());
        } catch (...) {
            what = u"unknown exception"_s;
        }
        if (!ServiceRunner::failOwningService(receiver, what) && onUnownedException)
            onUnownedException(what);
        return false;
    }
};

void printErr(const QString &text)
{
    const QByteArray b = text.toUtf8() + '\n';
    std::fwrite(b.constData(), 1, size_t(b.size()), stderr);
}

void printOut(const QString &text)
{
    const QByteArray b = text.toUtf8() + '\n';
    std::fwrite(b.constData(), 1, size_t(b.size()), stdout);
    std::fflush(stdout);
}

bool loadConfig(const QCommandLineParser &parser, const ServiceRegistry &registry, HostConfig *out)
{
    ConfigResult result = parser.isSet(u"config"_s)
        ? loadConfigFile(parser.value(u"config"_s), registry)
        : parseConfig(demoConfigJson(), u"<built-in demo config>"_s, registry);
    for (const auto &e : std::as_const(result.errors))
        printErr(e.toString());
    if (!result.ok()) {
        printErr(u"berth: %1 config error(s); nothing was started"_s.arg(result.errors.size()));
        return false;
    }
    *out = result.config;
    return true;
}

QString kindName(ConfigKey::Kind k)
{
    switch (k) {
    case ConfigKey::Kind::String: return u"string"_s;
    case ConfigKey::Kind::Bool: return u"bool"_s;
    case ConfigKey::Kind::Integer: return u"integer"_s;
    case ConfigKey::Kind::Number: return u"number"_s;
    case ConfigKey::Kind::Duration: return u"duration"_s;
    case ConfigKey::Kind::StringOrList: return u"string or list"_s;
    case ConfigKey::Kind::StringList: return u"list of strings"_s;
    case ConfigKey::Kind::Object: return u"object"_s;
    case ConfigKey::Kind::Enum: return u"one of"_s;
    }
    return {};
}

int listServices(const ServiceRegistry &registry)
{
    for (const auto &t : registry.types()) {
        printOut(t.name + u"  " + t.description);
        for (const auto &k : t.schema) {
            QString kind = kindName(k.kind);
            if (k.kind == ConfigKey::Kind::Enum)
                kind += u' ' + k.choices.join(u'|');
            printOut(u"    %1 (%2%3)  %4"_s.arg(k.name, kind, k.required ? u", required"_s : QString(), k.help));
        }
    }
    return ExitClean;
}

// --trace and --dump are written at the end or on request: say now, not after a long run, that
// they cannot be.
bool outputWritable(const QCommandLineParser &parser, const QString &option)
{
    const QString path = parser.value(option);
    if (path.isEmpty())
        return true;
    const QFileInfo file(path);
    const QFileInfo dir(file.absolutePath());
    QString problem;
    if (!dir.isDir())
        problem = u"directory %1 does not exist"_s.arg(dir.filePath());
    else if (file.exists() ? !file.isWritable() || file.isDir() : !dir.isWritable())
        problem = u"not writable"_s;
    if (problem.isEmpty())
        return true;
    printErr(u"berth: --%1 %2: %3"_s.arg(option, path, problem));
    return false;
}

// berth install|uninstall <target>: the platform layer builds, prints or applies the plan.
int installOrUninstall(const QString &command, const QString &target, const QCommandLineParser &parser,
                       const ServiceRegistry &registry)
{
    platform::ServiceInstall request;
    request.target = target;
    request.name = parser.value(u"name"_s);
    request.account = parser.value(u"account"_s);
    request.delayedAutoStart = parser.isSet(u"delayed-auto-start"_s);
    request.printOnly = parser.isSet(u"print"_s);
    request.executable = QCoreApplication::applicationFilePath();
    QString output, error;
    int code = ExitClean;
    if (command == u"install") {
        // The service will run this config: validate it now, and derive the preshutdown
        // timeout from its deadline.
        HostConfig config;
        if (!loadConfig(parser, registry, &config))
            return ExitUsage;
        if (parser.isSet(u"config"_s))
            request.configFile = QFileInfo(parser.value(u"config"_s)).absoluteFilePath();
        request.deadline = config.shutdown.deadline;
        code = platform::installService(request, &output, &error);
    } else {
        code = platform::uninstallService(request, &output, &error);
    }
    if (code != 0) {
        printErr(u"berth: "_s + error);
        return code;
    }
    printOut(output.trimmed());
    return ExitClean;
}

int runHost(BerthApplication &app, const QCommandLineParser &parser, const ServiceRegistry &registry)
{
    if (!outputWritable(parser, u"trace"_s) || !outputWritable(parser, u"dump"_s))
        return ExitUsage;
    HostConfig config;
    if (!loadConfig(parser, registry, &config))
        return ExitUsage;
    Lifetime lifetime;
    HostOptions options;
    options.traceFile = parser.value(u"trace"_s);
    options.dumpFile = parser.value(u"dump"_s);
    // Outside a service manager's control the process ends as soon as the host finishes: with
    // shutdown.fastExit (the default) close leaves idle connections to the kernel (see below).
    const bool asService = parser.isSet(u"service"_s);
    options.processExitsAfterClose = !asService && platform::canExitWithoutTeardown();
    ServiceHost host(config, registry, lifetime, options);
    app.onUnownedException = [&host](const QString &what) { host.failHost(u"exception outside any service: "_s + what); };
    // After the host, so that the sources (and their delivery thread, which calls the host's
    // watchdog listener) are gone before the host is. Signals in between stay pending.
    // Service mode: connect to the service manager before the stop sources, which then act as
    // a service's (platform.h).
    std::unique_ptr<QObject> serviceManager;
    if (asService) {
        QString error;
        serviceManager = platform::connectServiceManager(host, parser.value(u"name"_s), parser.isSet(u"event-log"_s), &error);
        if (!serviceManager) {
            printErr(u"berth: "_s + error);
            return ExitUsage;
        }
    }
    const auto sources = platform::installStopSources(lifetime);
    QObject::connect(&host, &HostProgress::finished, &app, [&app](int code) { app.exit(code); },
                     Qt::QueuedConnection);
    qCInfo(lcHost).noquote() << u"berth %1 (%2), pid %3, config %4"_s.arg(
        QCoreApplication::applicationVersion(), QLatin1String(platform::name()),
        QString::number(QCoreApplication::applicationPid()),
        config.sourceFile.isEmpty() ? u"<built-in demo>"_s : config.sourceFile);
    // Queued: start once the loop runs, so that nothing can finish before exec() listens.
    QMetaObject::invokeMethod(&host, &ServiceHost::start, Qt::QueuedConnection);
    const int code = app.exec();
    if (host.closedForFastExit()) {
        // Every service is closed, its ledger empty or reported, cookie jars saved, the report
        // and the trace written. What unwinding would still do is tear down idle things: the
        // sessions' HTTP threads closing their keep-alive connections one QTcpSocket at a time
        // (25-45 ms with 1 000 connections), then Qt's and the host's objects. The kernel does
        // the same at exit, faster (docs/architecture.md, "Exit without teardown").
        qCInfo(lcHost).noquote() << u"exit %1 without teardown (shutdown.fastExit)"_s.arg(code);
        platform::exitWithoutTeardown(code);
    }
    return code;
}

} // namespace

int berth::runApplication(int argc, char **argv,
                          const std::function<void(ServiceRegistry &)> &registerTypes)
{
    platform::earlyInit();
    BerthApplication app(argc, argv);
    QCoreApplication::setApplicationName(u"berth"_s);
    QCoreApplication::setApplicationVersion(QStringLiteral(BERTH_VERSION));
    installLogFormat();

    QCommandLineParser parser;
    parser.setApplicationDescription(QString::fromLatin1(kDescription));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(u"command"_s, u"run | check | services"_s, u"<command>"_s);
    parser.addOption({u"config"_s, u"The JSON config file."_s, u"file"_s});
    parser.addOption({u"dump"_s, u"run: on SIGUSR1, also write the pending work as JSON to this file."_s, u"file"_s});
    parser.addOption({u"trace"_s, u"run: write the start-up and shutdown timeline as Chrome trace-event JSON."_s, u"file"_s});
    parser.addOption({u"service"_s, u"run: as a Windows service, started by the Service Control Manager."_s});
    parser.addOption({u"event-log"_s, u"run --service: also write warnings and errors to the Windows event log."_s});
    parser.addOption({u"name"_s, u"run --service, install, uninstall: the service name (default berth)."_s, u"name"_s, u"berth"_s});
    parser.addOption({u"account"_s, u"install: LocalService (default), NetworkService, LocalSystem, virtual, or DOMAIN\\name$."_s, u"account"_s});
    parser.addOption({u"delayed-auto-start"_s, u"install: start automatically, shortly after boot."_s});
    parser.addOption({u"print"_s, u"install, uninstall: show what would be done, change nothing."_s});
    if (!parser.parse(QCoreApplication::arguments())) {
        printErr(u"berth: "_s + parser.errorText() + u"\nTry 'berth --help'."_s);
        return ExitUsage;
    }
    if (parser.isSet(u"help"_s) || parser.isSet(u"help-all"_s)) {
        printOut(parser.helpText());
        return ExitClean;
    }
    if (parser.isSet(u"version"_s)) {
        printOut(u"berth "_s + QCoreApplication::applicationVersion() + u" (" + QLatin1String(platform::name()) + u", Qt " + QLatin1String(qVersion()) + u')');
        return ExitClean;
    }
    const QStringList args = parser.positionalArguments();
    const QString command = args.value(0, u"run"_s);
    const bool hasTarget = command == u"install" || command == u"uninstall";
    if (hasTarget && args.size() != 2) {
        printErr(u"berth: %1 needs a target: berth %1 windows-service\nTry 'berth --help'."_s.arg(command));
        return ExitUsage;
    }
    if (args.size() > (hasTarget ? 2 : 1)) {
        printErr(u"berth: unexpected argument \"%1\"\nTry 'berth --help'."_s.arg(args.at(1)));
        return ExitUsage;
    }
    ServiceRegistry registry;
    registerBuiltinServices(registry);
    if (registerTypes)
        registerTypes(registry);

    if (command == u"services")
        return listServices(registry);
    if (command == u"check") {
        if (!parser.isSet(u"config"_s)) {
            printErr(u"berth: check needs --config <file>"_s);
            return ExitUsage;
        }
        HostConfig config;
        if (!loadConfig(parser, registry, &config))
            return ExitUsage;
        printOut(u"%1: ok, %2 service(s)"_s.arg(config.sourceFile).arg(config.services.size()));
        printOut(u"shutdown: %1"_s.arg(describeBudgets(config.shutdown, config.shutdown.deadline)));
        return ExitClean;
    }
    if (command == u"run")
        return runHost(app, parser, registry);
    if (hasTarget)
        return installOrUninstall(command, args.at(1), parser, registry);
    printErr(u"berth: unknown command \"%1\" (expected run, check, services, install or uninstall)\nTry 'berth --help'."_s.arg(command));
    return ExitUsage;
}
