// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The platform-free half of the Windows layer (platform/windows/core), tested natively: what the
// SCM is told (states, checkpoints, wait hints from the remaining budget, exit codes), what each
// control code, console event and WM_ENDSESSION leads to, the install plan behind `--print`,
// and the rotating service log. The Win32 half is tested under wine (tests/windows/wine).
#include "consoleevents.h"
#include "installplan.h"
#include "rotatingfile.h"
#include "scmprogress.h"

#include <QtCore/QFile>
#include <QtCore/QProcess>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

#include <string>

using namespace berth::win;
using namespace Qt::StringLiterals;

Q_DECLARE_METATYPE(berth::win::StopPhase)
Q_DECLARE_METATYPE(berth::win::ControlAction)
Q_DECLARE_METATYPE(berth::win::ProcessKind)

namespace {
constexpr std::uint32_t slack = ScmProgress::kSlackMs;
constexpr std::uint32_t runningControls = scm::AcceptStop | scm::AcceptParamChange | scm::AcceptPreshutdown;
} // namespace

class tst_WindowsLogic : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startSequence();
    void runningAcceptsShutdownWithoutPreshutdown();
    void stopSequence_data();
    void stopSequence();
    void waitHint_data();
    void waitHint();
    void phaseDoesNotGoBack();
    void stopFromInsideStartsAtCheckpointOne();
    void stopRequestedOnce();
    void stoppedOnce_data();
    void stoppedOnce();
    void interrogateRepeatsCurrent();
    void scmControl_data();
    void scmControl();
    void consoleEvent_data();
    void consoleEvent();
    void endSession_data();
    void endSession();
    void quoteArgument_data();
    void quoteArgument();
    void installPlanDefaults();
    void installPlanAccounts_data();
    void installPlanAccounts();
    void installPlanRejects_data();
    void installPlanRejects();
    void rotatingFile();
    void cliInstallPrint();
};

void tst_WindowsLogic::startSequence()
{
    ScmProgress p;
    const auto s1 = p.starting(10000);
    QVERIFY(s1);
    QCOMPARE(s1->state, scm::StartPending);
    QCOMPARE(s1->checkPoint, 1u);
    QCOMPARE(s1->waitHintMs, 10000 + slack);
    QCOMPARE(s1->controlsAccepted, 0u);   // no controls while START_PENDING
    QVERIFY(!p.starting(10000));          // once
    const auto s2 = p.startProgress(1, 8000);
    QVERIFY(s2);
    QCOMPARE(s2->checkPoint, 2u);
    QCOMPARE(s2->waitHintMs, 8000 + slack);
    QVERIFY(!p.startProgress(1, 5000));   // no new service ready: no progress to report
    QCOMPARE(p.startProgress(3, 5000)->checkPoint, 3u);
    const auto r = p.running();
    QVERIFY(r);
    QCOMPARE(r->state, scm::Running);
    QCOMPARE(r->checkPoint, 0u);
    QCOMPARE(r->waitHintMs, 0u);
    QCOMPARE(r->controlsAccepted, runningControls);
    QVERIFY(!p.running());
    QVERIFY(!p.startProgress(4, 1000));
}

void tst_WindowsLogic::runningAcceptsShutdownWithoutPreshutdown()
{
    ScmProgress p(false);
    p.starting(1000);
    QCOMPARE(p.running()->controlsAccepted, scm::AcceptStop | scm::AcceptParamChange | scm::AcceptShutdown);
}

// Each row: the phases the host entered (some are skipped when nothing is left to wait for)
// with the budget left in each; every report must rise by one checkpoint.
void tst_WindowsLogic::stopSequence_data()
{
    QTest::addColumn<QList<int>>("phases");
    QTest::addColumn<QList<qint64>>("remaining");
    QTest::newRow("every phase") << QList<int>{1, 2, 3, 4, 5} << QList<qint64>{0, 5000, 2000, 2750, 250};
    QTest::newRow("intake delay") << QList<int>{1, 2, 3, 4, 5} << QList<qint64>{3000, 5000, 2000, 0, 250};
    QTest::newRow("all stopped in drain") << QList<int>{1, 2, 5} << QList<qint64>{0, 5000, 250};
    QTest::newRow("2nd request: straight to cancel") << QList<int>{1, 2, 3, 5} << QList<qint64>{0, 4000, 2000, 250};
    QTest::newRow("3rd request: straight to close") << QList<int>{1, 2, 5} << QList<qint64>{0, 4000, 9000};
    QTest::newRow("deadline edge: budgets used up") << QList<int>{1, 2, 3, 4, 5} << QList<qint64>{0, 0, -5, -100, -1};
}

void tst_WindowsLogic::stopSequence()
{
    QFETCH(QList<int>, phases);
    QFETCH(QList<qint64>, remaining);
    ScmProgress p;
    p.starting(1000);
    p.running();
    const auto handler = p.stopRequested();
    QVERIFY(handler);
    QCOMPARE(handler->state, scm::StopPending);
    QCOMPARE(handler->checkPoint, 1u);
    QCOMPARE(handler->waitHintMs, ScmProgress::kHandoffMs + slack);
    QCOMPARE(handler->controlsAccepted, 0u);
    std::uint32_t checkPoint = 1;
    for (int i = 0; i < phases.size(); ++i) {
        const auto s = p.phaseEntered(StopPhase(phases[i]), remaining[i]);
        QVERIFY2(s, stopPhaseName(StopPhase(phases[i])));
        QCOMPARE(s->state, scm::StopPending);
        QCOMPARE(s->checkPoint, ++checkPoint);
        QCOMPARE(s->waitHintMs, ScmProgress::waitHint(remaining[i]));
        QVERIFY(s->waitHintMs >= ScmProgress::kMinWaitHintMs);
    }
    const auto end = p.stopped(0);
    QVERIFY(end);
    QCOMPARE(end->state, scm::Stopped);
    QCOMPARE(end->checkPoint, 0u);
    QCOMPARE(end->waitHintMs, 0u);
}

void tst_WindowsLogic::waitHint_data()
{
    QTest::addColumn<qint64>("remaining");
    QTest::addColumn<std::uint32_t>("hint");
    QTest::newRow("budget left") << qint64(5000) << 5000 + slack;
    QTest::newRow("1 ms left") << qint64(1) << 1 + slack;
    QTest::newRow("exactly at the end") << qint64(0) << ScmProgress::kMinWaitHintMs;
    QTest::newRow("past the end") << qint64(-300) << ScmProgress::kMinWaitHintMs;
    QTest::newRow("a day at most") << qint64(1000LL * 3600 * 1000) << std::uint32_t(24 * 3600 * 1000);
}

void tst_WindowsLogic::waitHint()
{
    QFETCH(qint64, remaining);
    QFETCH(std::uint32_t, hint);
    QCOMPARE(ScmProgress::waitHint(remaining), hint);
}

void tst_WindowsLogic::phaseDoesNotGoBack()
{
    ScmProgress p;
    p.starting(1000);
    p.running();
    QCOMPARE(p.phaseEntered(StopPhase::Cancel, 100)->checkPoint, 1u);
    QVERIFY(!p.phaseEntered(StopPhase::Cancel, 50));   // the same phase again: no progress
    QVERIFY(!p.phaseEntered(StopPhase::Drain, 50));
    QCOMPARE(p.phaseEntered(StopPhase::Close, 50)->checkPoint, 2u);
}

void tst_WindowsLogic::stopFromInsideStartsAtCheckpointOne()
{
    // A start failure stops the host with no SCM control: the first phase opens STOP_PENDING.
    ScmProgress p;
    p.starting(1000);
    const auto s = p.phaseEntered(StopPhase::Intake, 0);
    QVERIFY(s);
    QCOMPARE(s->state, scm::StopPending);
    QCOMPARE(s->checkPoint, 1u);
    QVERIFY(!p.running());   // too late to run
}

void tst_WindowsLogic::stopRequestedOnce()
{
    ScmProgress p;
    p.starting(1000);
    p.running();
    QVERIFY(p.stopRequested());
    QVERIFY(!p.stopRequested());
    p.phaseEntered(StopPhase::Drain, 100);
    QVERIFY(!p.stopRequested());
    p.stopped(0);
    QVERIFY(!p.stopRequested());
}

void tst_WindowsLogic::stoppedOnce_data()
{
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<std::uint32_t>("win32");
    QTest::addColumn<std::uint32_t>("specific");
    QTest::newRow("clean") << 0 << scm::NoError << 0u;
    QTest::newRow("service failed") << 1 << scm::ErrorServiceSpecific << 1u;
    QTest::newRow("forced") << 3 << scm::ErrorServiceSpecific << 3u;
}

void tst_WindowsLogic::stoppedOnce()
{
    QFETCH(int, exitCode);
    QFETCH(std::uint32_t, win32);
    QFETCH(std::uint32_t, specific);
    ScmProgress p;
    p.starting(1000);
    p.running();
    p.stopRequested();
    const auto s = p.stopped(exitCode);
    QVERIFY(s);
    QCOMPARE(s->win32ExitCode, win32);
    QCOMPARE(s->serviceSpecificExitCode, specific);
    QVERIFY(p.hasStopped());
    QVERIFY(!p.stopped(exitCode));
    QVERIFY(!p.phaseEntered(StopPhase::Close, 10));
    QVERIFY(!p.starting(10));
}

void tst_WindowsLogic::interrogateRepeatsCurrent()
{
    ScmProgress p;
    p.starting(1000);
    const auto s = p.startProgress(1, 500);
    QCOMPARE(p.current(), *s);
}

void tst_WindowsLogic::scmControl_data()
{
    QTest::addColumn<std::uint32_t>("control");
    QTest::addColumn<std::uint32_t>("preshutdownTimeout");
    QTest::addColumn<ControlAction>("action");
    QTest::addColumn<QString>("source");
    QTest::addColumn<std::uint32_t>("limit");
    QTest::newRow("STOP: the configured deadline") << scm::ControlStop << 0u << ControlAction::Stop << u"SCM STOP"_s << 0u;
    QTest::newRow("PRESHUTDOWN: registered timeout minus reserve") << scm::ControlPreshutdown << 61000u
                                                                   << ControlAction::Stop << u"SCM PRESHUTDOWN"_s << 60000u;
    QTest::newRow("PRESHUTDOWN: Windows' 10 s default") << scm::ControlPreshutdown << 0u << ControlAction::Stop
                                                        << u"SCM PRESHUTDOWN"_s << 9000u;
    QTest::newRow("PRESHUTDOWN: tiny timeout, half of it") << scm::ControlPreshutdown << 1500u << ControlAction::Stop
                                                           << u"SCM PRESHUTDOWN"_s << 750u;
    QTest::newRow("SHUTDOWN: 15 of ~20 s") << scm::ControlShutdown << 0u << ControlAction::Stop << u"SCM SHUTDOWN"_s
                                           << kScmShutdownLimitMs;
    QTest::newRow("PARAMCHANGE: reload") << scm::ControlParamChange << 0u << ControlAction::Reload
                                         << u"SCM PARAMCHANGE"_s << 0u;
    QTest::newRow("INTERROGATE") << scm::ControlInterrogate << 0u << ControlAction::Interrogate
                                 << u"SCM INTERROGATE"_s << 0u;
    QTest::newRow("PAUSE: not implemented") << 2u << 0u << ControlAction::NotImplemented << QString() << 0u;
    QTest::newRow("user control 200: not implemented") << 200u << 0u << ControlAction::NotImplemented << QString() << 0u;
}

void tst_WindowsLogic::scmControl()
{
    QFETCH(std::uint32_t, control);
    QFETCH(std::uint32_t, preshutdownTimeout);
    QFETCH(ControlAction, action);
    QFETCH(QString, source);
    QFETCH(std::uint32_t, limit);
    const ControlDecision d = decideScmControl(control, preshutdownTimeout);
    QCOMPARE(d.action, action);
    QCOMPARE(QString::fromLatin1(d.source), source);
    QCOMPARE(d.platformLimitMs, limit);
}

void tst_WindowsLogic::consoleEvent_data()
{
    QTest::addColumn<std::uint32_t>("event");
    QTest::addColumn<ProcessKind>("kind");
    QTest::addColumn<bool>("handled");
    QTest::addColumn<bool>("stop");
    QTest::addColumn<std::uint32_t>("limit");
    QTest::addColumn<std::uint32_t>("block");
    const auto C = ProcessKind::Console, S = ProcessKind::Service;
    QTest::newRow("Ctrl+C: stop, no limit, return at once") << console::CtrlC << C << true << true << 0u << 0u;
    QTest::newRow("Ctrl+Break") << console::CtrlBreak << C << true << true << 0u << 0u;
    QTest::newRow("close: 4 s, wait up to 4.75 s") << console::Close << C << true << true << 4000u << 4750u;
    QTest::newRow("logoff (console)") << console::Logoff << C << true << true << 4000u << 4750u;
    QTest::newRow("shutdown (console)") << console::Shutdown << C << true << true << 4000u << 4750u;
    QTest::newRow("Ctrl+C in a service") << console::CtrlC << S << true << true << 0u << 0u;
    QTest::newRow("close in a service") << console::Close << S << true << true << 4000u << 4750u;
    QTest::newRow("logoff in a service: not a stop") << console::Logoff << S << true << false << 0u << 0u;
    QTest::newRow("shutdown in a service: the SCM's") << console::Shutdown << S << true << false << 0u << 0u;
    QTest::newRow("unknown event: next handler") << 3u << C << false << false << 0u << 0u;
}

void tst_WindowsLogic::consoleEvent()
{
    QFETCH(std::uint32_t, event);
    QFETCH(ProcessKind, kind);
    QFETCH(bool, handled);
    QFETCH(bool, stop);
    QFETCH(std::uint32_t, limit);
    QFETCH(std::uint32_t, block);
    const ConsoleDecision d = decideConsoleEvent(event, kind);
    QCOMPARE(d.handled, handled);
    QCOMPARE(d.requestStop, stop);
    QCOMPARE(d.platformLimitMs, limit);
    QCOMPARE(d.blockMs, block);
    // The host must be done (its deadline) before the handler gives up, and that before Windows kills.
    if (d.blockMs) {
        QVERIFY(d.platformLimitMs < d.blockMs);
        QVERIFY(d.blockMs < kSessionKillMs);
    }
}

void tst_WindowsLogic::endSession_data()
{
    QTest::addColumn<bool>("ending");
    QTest::addColumn<std::uint32_t>("flags");
    QTest::addColumn<bool>("stop");
    QTest::addColumn<QString>("source");
    QTest::newRow("logoff") << true << console::EndSessionLogoff << true << u"WM_ENDSESSION (logoff)"_s;
    QTest::newRow("critical logoff") << true << (console::EndSessionLogoff | console::EndSessionCritical) << true
                                     << u"WM_ENDSESSION (logoff)"_s;
    QTest::newRow("shutdown") << true << 0u << true << u"WM_ENDSESSION (shutdown)"_s;
    QTest::newRow("restart manager") << true << console::EndSessionCloseApp << true << u"WM_ENDSESSION (close app)"_s;
    QTest::newRow("cancelled") << false << console::EndSessionLogoff << false << u"WM_ENDSESSION (cancelled)"_s;
}

void tst_WindowsLogic::endSession()
{
    QFETCH(bool, ending);
    QFETCH(std::uint32_t, flags);
    QFETCH(bool, stop);
    QFETCH(QString, source);
    const ConsoleDecision d = decideEndSession(ending, flags);
    QCOMPARE(d.requestStop, stop);
    QCOMPARE(QString::fromLatin1(d.source), source);
    QCOMPARE(d.platformLimitMs, stop ? kSessionStopLimitMs : 0u);
    QCOMPARE(d.blockMs, stop ? kSessionBlockMs : 0u);
}

void tst_WindowsLogic::quoteArgument_data()
{
    QTest::addColumn<QString>("arg");
    QTest::addColumn<QString>("quoted");
    QTest::newRow("plain") << u"berth"_s << u"berth"_s;
    QTest::newRow("empty") << QString() << u"\"\""_s;
    QTest::newRow("space") << u"C:\\Program Files\\Berth\\berth.exe"_s << u"\"C:\\Program Files\\Berth\\berth.exe\""_s;
    QTest::newRow("quote") << u"a\"b"_s << u"\"a\\\"b\""_s;
    QTest::newRow("trailing backslash") << u"C:\\my dir\\"_s << u"\"C:\\my dir\\\\\""_s;
    QTest::newRow("backslashes before a quote") << u"a\\\\\"b c"_s << u"\"a\\\\\\\\\\\"b c\""_s;
    QTest::newRow("backslash, no quoting needed") << u"C:\\x\\"_s << u"C:\\x\\"_s;
}

void tst_WindowsLogic::quoteArgument()
{
    QFETCH(QString, arg);
    QFETCH(QString, quoted);
    QCOMPARE(QString::fromStdString(quoteWindowsArgument(arg.toStdString())), quoted);
}

void tst_WindowsLogic::installPlanDefaults()
{
    InstallOptions o;
    o.executable = "C:\\Program Files\\Berth\\berth.exe";
    o.configFile = "C:\\ProgramData\\Berth\\berth.json";
    o.deadlineMs = 10000;
    InstallPlan p;
    std::string error;
    QVERIFY(makeInstallPlan(o, &p, &error));
    QCOMPARE(p.name, std::string("berth"));
    QCOMPARE(p.account, std::string("NT AUTHORITY\\LocalService"));
    QCOMPARE(p.commandLine, std::string("\"C:\\Program Files\\Berth\\berth.exe\" run --service --name berth "
                                        "--config C:\\ProgramData\\Berth\\berth.json"));
    QCOMPARE(p.preshutdownTimeoutMs, 11000u);
    QCOMPARE(decideScmControl(scm::ControlPreshutdown, p.preshutdownTimeoutMs).platformLimitMs, 10000u);
    QVERIFY(!p.delayedAutoStart);
    QVERIFY(p.failureActionsOnNonCrashFailures);
    QCOMPARE(p.failureActions.size(), std::size_t(3));
    for (const auto &a : p.failureActions)
        QVERIFY(a.restart && a.delayMs > 0);
    const QString text = QString::fromStdString(p.render());
    for (const auto &expected : {u"service name: berth"_s, u"account: NT AUTHORITY\\LocalService"_s,
                                 u"start type: automatic\n"_s, u"preshutdown timeout: 11 s"_s,
                                 u"recovery: restart after 5 s, restart after 10 s, restart after 30 s"_s,
                                 u"recovery on non-crash failures: yes"_s, u"description: "_s,
                                 u"controls accepted: STOP, PRESHUTDOWN, PARAMCHANGE"_s})
        QVERIFY2(text.contains(expected), qPrintable(expected + u" not in:\n"_s + text));

    o.delayedAutoStart = true;
    o.deadlineMs = 2500;
    QVERIFY(makeInstallPlan(o, &p, &error));
    QVERIFY(QString::fromStdString(p.render()).contains(u"start type: automatic (delayed start)"_s));
    QVERIFY(QString::fromStdString(p.render()).contains(u"preshutdown timeout: 3.500 s"_s));
}

void tst_WindowsLogic::installPlanAccounts_data()
{
    QTest::addColumn<QString>("account");
    QTest::addColumn<QString>("registered");
    QTest::newRow("default") << QString() << u"NT AUTHORITY\\LocalService"_s;
    QTest::newRow("LocalService") << u"LocalService"_s << u"NT AUTHORITY\\LocalService"_s;
    QTest::newRow("NetworkService") << u"networkservice"_s << u"NT AUTHORITY\\NetworkService"_s;
    QTest::newRow("LocalSystem: no name") << u"LocalSystem"_s << QString();
    QTest::newRow("virtual") << u"virtual"_s << u"NT SERVICE\\svc"_s;
    QTest::newRow("managed account") << u"CORP\\berth$"_s << u"CORP\\berth$"_s;
}

void tst_WindowsLogic::installPlanAccounts()
{
    QFETCH(QString, account);
    QFETCH(QString, registered);
    InstallOptions o;
    o.name = "svc";
    o.executable = "C:\\b.exe";
    o.account = account.toStdString();
    InstallPlan p;
    std::string error;
    QVERIFY2(makeInstallPlan(o, &p, &error), error.c_str());
    QCOMPARE(QString::fromStdString(p.account), registered);
}

void tst_WindowsLogic::installPlanRejects_data()
{
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("account");
    QTest::addColumn<QString>("error");
    QTest::newRow("empty name") << QString() << QString() << u"bad service name"_s;
    QTest::newRow("slash in name") << u"a/b"_s << QString() << u"bad service name"_s;
    QTest::newRow("backslash in name") << u"a\\b"_s << QString() << u"bad service name"_s;
    QTest::newRow("name too long") << QString(257, u'x') << QString() << u"bad service name"_s;
    QTest::newRow("unknown account") << u"svc"_s << u"bob"_s << u"account \"bob\""_s;
}

void tst_WindowsLogic::installPlanRejects()
{
    QFETCH(QString, name);
    QFETCH(QString, account);
    QFETCH(QString, error);
    InstallOptions o;
    o.name = name.toStdString();
    o.executable = "C:\\b.exe";
    o.account = account.toStdString();
    InstallPlan p;
    std::string message;
    QVERIFY(!makeInstallPlan(o, &p, &message));
    QVERIFY2(QString::fromStdString(message).startsWith(error), message.c_str());
}

void tst_WindowsLogic::rotatingFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"logs/berth.log"_s);   // the directory is created
    {
        RotatingFile file(path.toStdString(), 100, 2);
        // 40 bytes a line with the newline: two fit in 100.
        for (char c : std::string("abcdefg"))
            QVERIFY(file.writeLine(std::string(39, c)));
    }
    const auto read = [](const QString &p) {
        QFile f(p);
        return f.open(QIODevice::ReadOnly) ? QString::fromLatin1(f.readAll()) : u"<missing>"_s;
    };
    const auto lines = [](char a, char b) {
        QString s = QString(39, QLatin1Char(a)) + u'\n';
        if (b)
            s += QString(39, QLatin1Char(b)) + u'\n';
        return s;
    };
    QCOMPARE(read(path), lines('g', 0));
    QCOMPARE(read(path + u".1"_s), lines('e', 'f'));
    QCOMPARE(read(path + u".2"_s), lines('c', 'd'));
    QVERIFY(!QFile::exists(path + u".3"_s));   // keep = 2: "ab" went
    {
        // Reopening appends and counts what is there.
        RotatingFile file(path.toStdString(), 100, 2);
        QVERIFY(file.writeLine(std::string(39, 'h')));
        QVERIFY(file.writeLine(std::string(39, 'i')));
    }
    QCOMPARE(read(path), lines('i', 0));
    QCOMPARE(read(path + u".1"_s), lines('g', 'h'));
    QCOMPARE(read(path + u".2"_s), lines('e', 'f'));
}

// `berth install windows-service --print` works on every platform; the real thing needs Windows.
void tst_WindowsLogic::cliInstallPrint()
{
    const auto run = [](const QStringList &args, QString *out = nullptr, QString *err = nullptr) {
        QProcess p;
        p.start(QStringLiteral(BERTH_BINARY), args);
        if (!p.waitForFinished(30000))
            return -1;
        if (out)
            *out = QString::fromUtf8(p.readAllStandardOutput());
        if (err)
            *err = QString::fromUtf8(p.readAllStandardError());
        return p.exitCode();
    };
    QString out, err;
    QCOMPARE(run({u"install"_s, u"windows-service"_s, u"--name"_s, u"svc"_s, u"--delayed-auto-start"_s,
                  u"--print"_s}, &out, &err), 0);
    QVERIFY2(out.contains(u"service name: svc"_s), qPrintable(out));
    QVERIFY(out.contains(u" run --service --name svc"_s));
    QVERIFY(out.contains(u"start type: automatic (delayed start)"_s));
    QVERIFY(out.contains(u"preshutdown timeout: 11 s"_s));   // the demo config's 10 s deadline
    QCOMPARE(run({u"install"_s, u"windows-service"_s, u"--account"_s, u"bob"_s, u"--print"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"account \"bob\""_s));
    QCOMPARE(run({u"install"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"needs a target"_s));
    QCOMPARE(run({u"install"_s, u"nothing"_s, u"--print"_s}, nullptr, &err), 2);
    QVERIFY(err.contains(u"unknown install target"_s));
    QCOMPARE(run({u"uninstall"_s, u"windows-service"_s, u"--print"_s}, &out), 0);
    QVERIFY(out.contains(u"would stop (if running) and remove"_s));
}

QTEST_GUILESS_MAIN(tst_WindowsLogic)
#include "tst_windows_logic.moc"
