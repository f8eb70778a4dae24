// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The platform-free half of the Windows layer (platform/windows/core), tested natively: what the
// SCM is told (states, checkpoints, wait hints from the remaining budget, exit codes), what each
// control code, console event and WM_ENDSESSION leads to. The install plan and the rotating
// service log are in tst_windows_install.cpp; the Win32 half is tested under wine
// (tests/windows/wine).
#include "consoleevents.h"
#include "scmprogress.h"

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

QTEST_GUILESS_MAIN(tst_WindowsLogic)
#include "tst_windows_logic.moc"
