// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The ordered shutdown in-process, with probe and chaos services: stop order, drain and cancel
// budgets, the 2nd and 3rd request, stopTimeout, a leak, the watchdog, a platform limit, intakeDelay.
// Start order and failure policies are in tst_servicehost.cpp.
#include "engine/servicerunner.h"
#include "tests/support/order.h"
#include "tests/support/probeservice.h"
#include "tests/support/slack.h"

#include <berth/lifetime.h>
#include <berth/service.h>
#include <berth/servicecontext.h>
#include <berth/serviceregistry.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QTimer>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <atomic>

using namespace Qt::StringLiterals;
using berth::test::within;
using namespace berth;

using Run = berth::test::ProbeRun;
using berth::test::g_events;

class TestShutdownPhases : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init() { g_events.clear(); }
    void stopsDependentsFirstAndBranchesConcurrently();
    void drainLetsWorkFinish();
    void cancelAfterDrainBudget();
    void secondRequestJumpsToCancel();
    void thirdRequestFinishesAtOnce();
    void stopTimeoutAbandonsAndDependencyStillStops();
    void leakIsReportedAndForcesExit();
    void watchdogForcesExitWhenLoopIsBlocked();
    void platformLimitShortensDeadline();
    void intakeDelayKeepsServingFirst();
};

void TestShutdownPhases::stopsDependentsFirstAndBranchesConcurrently()
{
    Run run;
    const QByteArray cfg = R"({"services":[
        {"name":"a","type":"probe","config":{"stopDelay":20}},
        {"name":"b","type":"probe","after":["a"],"config":{"stopDelay":80}},
        {"name":"c","type":"probe","after":["a"],"config":{"stopDelay":80}},
        {"name":"d","type":"probe","after":["b","c"],"config":{"stopDelay":20}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    g_events.clear();
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 0);
    QCOMPARE(g_events.first(), u"stop:d"_s);
    QVERIFY_ORDER(g_events, {u"stopped:d"_s, u"stop:b"_s});
    QVERIFY_ORDER(g_events, {u"stop:c"_s, u"stopped:b"_s});   // concurrently
    QVERIFY_ORDER(g_events, {u"stop:b"_s, u"stopped:c"_s});
    QVERIFY_ORDER(g_events, {u"stopped:b"_s, u"stop:a"_s});
    QVERIFY_ORDER(g_events, {u"stopped:c"_s, u"stop:a"_s});
    QCOMPARE(g_events.last(), u"stopped:a"_s);
}

void TestShutdownPhases::drainLetsWorkFinish()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"5s","drain":"3s","cancel":"1s"},"services":[
        {"name":"w","type":"chaos","config":{"workEvery":"20ms","workDuration":"300ms"}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QTRY_VERIFY_WITH_TIMEOUT(run.host->ledger().activeCount(u"w"_s) >= 3, 5000);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 0);
    const WorkCounts c = run.host->ledger().counts(u"w"_s);
    QVERIFY2(c.drained >= 3, qPrintable(run.host->report()));
    QCOMPARE(c.cancelled, 0);
    QCOMPARE(c.leaked, 0);
    QVERIFY(!run.host->report().contains(u"cancel "_s));
}

void TestShutdownPhases::cancelAfterDrainBudget()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"5s","drain":"200ms","cancel":"1s"},"services":[
        {"name":"w","type":"chaos","config":{"workEvery":"20ms","workDuration":"30s"}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QTRY_VERIFY_WITH_TIMEOUT(run.host->ledger().activeCount(u"w"_s) >= 3, 5000);
    const int pending = run.host->ledger().activeCount(u"w"_s);
    QElapsedTimer t;
    t.start();
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QVERIFY(t.elapsed() >= 200);
    QCOMPARE(run.host->exitCode(), 0);   // cancelling on time is a clean stop
    const WorkCounts c = run.host->ledger().counts(u"w"_s);
    QCOMPARE(c.cancelled, pending);
    QCOMPARE(c.leaked, 0);
    QVERIFY(run.host->report().contains(u"cancel "_s));
}

void TestShutdownPhases::secondRequestJumpsToCancel()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"20s","drain":"15s","cancel":"1s"},"services":[
        {"name":"w","type":"chaos","config":{"workEvery":"20ms","workDuration":"30s"}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QTRY_VERIFY_WITH_TIMEOUT(run.host->ledger().activeCount(u"w"_s) >= 1, 5000);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_COMPARE_WITH_TIMEOUT(run.host->shutdownPhase(), Shutdown::Phase::Drain, 5000);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 3000);   // far less than the 15s drain
    QCOMPARE(run.host->exitCode(), 0);
    QVERIFY(run.host->ledger().counts(u"w"_s).cancelled >= 1);
}

void TestShutdownPhases::thirdRequestFinishesAtOnce()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"30s","drain":"10s","cancel":"10s"},"services":[
        {"name":"h","type":"chaos","config":{"stopHang":true}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    for (int i = 0; i < 3; ++i)
        run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 2000);
    QCOMPARE(run.host->exitCode(), 3);
    QVERIFY2(run.host->report().contains(u"third stop request"_s), qPrintable(run.host->report()));
    QCOMPARE(run.forcedCode.load(), -1);   // the host finished by itself, not the watchdog
}

void TestShutdownPhases::stopTimeoutAbandonsAndDependencyStillStops()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"10s","drain":"5s","cancel":"2s"},"services":[
        {"name":"base","type":"probe"},
        {"name":"hang","type":"chaos","after":["base"],"stopTimeout":"200ms","config":{"stopHang":true}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QElapsedTimer t;
    t.start();
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QVERIFY(t.elapsed() < within(2000));
    QCOMPARE(run.host->exitCode(), 3);
    QVERIFY(g_events.contains(u"stopped:base"_s));
    const QString report = run.host->report();
    QVERIFY2(report.contains(u"abandoned"_s) && report.contains(u"did not stop within stopTimeout 200ms"_s), qPrintable(report));
}

void TestShutdownPhases::leakIsReportedAndForcesExit()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"2s","drain":"200ms","cancel":"200ms","reserve":"100ms"},"services":[
        {"name":"leaky","type":"chaos","config":{"leak":2}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 3);
    const QString report = run.host->report();
    QVERIFY2(report.contains(u"pending at exit: 2"_s), qPrintable(report));
    QVERIFY2(report.contains(u"leaky: leak \"chaos leak #1 (never completes)\""_s), qPrintable(report));
    QVERIFY2(report.contains(u"chaos.cpp:"_s), qPrintable(report));
}

void TestShutdownPhases::watchdogForcesExitWhenLoopIsBlocked()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"300ms","drain":"100ms","cancel":"50ms","reserve":"50ms"},"services":[
        {"name":"blocker","type":"chaos","config":{"stopBlock":"1500ms"}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_COMPARE_WITH_TIMEOUT(run.forcedCode.load(), 3, 5000);
    QVERIFY2(run.forcedReport.contains(u"blocker"_s) && run.forcedReport.contains(u"stopping"_s), qPrintable(run.forcedReport));
    QVERIFY(run.forcedReport.contains(u"shutdown deadline reached"_s));
    QVERIFY(!run.host->isFinished());   // finishing after the watchdog fired is suppressed
}

void TestShutdownPhases::platformLimitShortensDeadline()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"30s","drain":"20s","cancel":"5s"},"services":[
        {"name":"w","type":"chaos","config":{"workEvery":"20ms","workDuration":"60s"}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QTRY_VERIFY_WITH_TIMEOUT(run.host->ledger().activeCount(u"w"_s) >= 1, 5000);
    QElapsedTimer t;
    t.start();
    run.lifetime.requestStop({u"CTRL_CLOSE_EVENT"_s, std::chrono::milliseconds(800)});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QVERIFY(t.elapsed() < within(1500));
    QCOMPARE(run.host->exitCode(), 0);
    QVERIFY(run.host->report().contains(u"deadline 800ms"_s));
}

void TestShutdownPhases::intakeDelayKeepsServingFirst()
{
    Run run;
    const QByteArray cfg = R"({"shutdown":{"deadline":"5s","intakeDelay":"300ms","drain":"2s","cancel":"1s"},"services":[
        {"name":"a","type":"probe"}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QElapsedTimer t;
    t.start();
    run.lifetime.requestStop({u"SIGTERM"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(g_events.contains(u"stop:a"_s), 5000);
    QVERIFY(t.elapsed() >= 290);
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 0);
}

QTEST_GUILESS_MAIN(TestShutdownPhases)
#include "tst_shutdownphases.moc"
