// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host in-process: start order, failure policies (start, run, restart), a stop before or
// during start-up, the host destroyed with work pending. The shutdown phases are in
// tst_shutdownphases.cpp.
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

class TestServiceHost : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init() { g_events.clear(); }
    void startsDependenciesFirstAndBranchesConcurrently();
    void startFailureStopsStartedInReverse_data();
    void startFailureStopsStartedInReverse();
    void runFailurePolicies_data();
    void runFailurePolicies();
    void restartBacksOffAndStopsCleanly();
    void stopLatchedBeforeStartStartsNothing();
    void stopDuringStartupAbandonsPendingStarts();
    void hostDestroyedWhileWorkIsPendingIsSafe();
};

void TestServiceHost::startsDependenciesFirstAndBranchesConcurrently()
{
    Run run;
    const QByteArray cfg = R"({"services":[
        {"name":"d","type":"probe","after":["b","c"]},
        {"name":"b","type":"probe","after":["a"],"config":{"startDelay":50}},
        {"name":"c","type":"probe","after":["a"],"config":{"startDelay":50}},
        {"name":"a","type":"probe","config":{"startDelay":20}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QVERIFY_ORDER(g_events, {u"ready:a"_s, u"start:b"_s});
    QVERIFY_ORDER(g_events, {u"ready:a"_s, u"start:c"_s});
    // b and c are independent: both start before either is ready.
    QVERIFY_ORDER(g_events, {u"start:c"_s, u"ready:b"_s});
    QVERIFY_ORDER(g_events, {u"start:b"_s, u"ready:c"_s});
    QVERIFY_ORDER(g_events, {u"ready:b"_s, u"start:d"_s});
    QVERIFY_ORDER(g_events, {u"ready:c"_s, u"start:d"_s});
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 0);
}

void TestServiceHost::startFailureStopsStartedInReverse_data()
{
    QTest::addColumn<QByteArray>("failing");
    QTest::addColumn<QString>("reason");
    QTest::newRow("reports a start failure") << QByteArray(R"({"startFail":true})") << u"chaos: startFail"_s;
    QTest::newRow("throws from start") << QByteArray(R"({"throwIn":"start"})") << u"start() threw: chaos: throwIn start"_s;
    QTest::newRow("exceeds startTimeout") << QByteArray(R"({"startDelay":"10s"})") << u"did not report ready within startTimeout 300ms"_s;
}

void TestServiceHost::startFailureStopsStartedInReverse()
{
    QFETCH(QByteArray, failing);
    QFETCH(QString, reason);
    Run run;
    const QByteArray cfg = R"({"services":[
        {"name":"a","type":"probe"},
        {"name":"b","type":"probe","after":["a"]},
        {"name":"bad","type":"chaos","after":["b"],"startTimeout":"300ms","config":)" + failing + R"(},
        {"name":"late","type":"probe","after":["bad"]}]})";
    LOAD(run, cfg);
    run.host->start();
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 1);
    QVERIFY(!g_events.contains(u"start:late"_s));
    QVERIFY_ORDER(g_events, {u"stopped:b"_s, u"stop:a"_s});
    QVERIFY2(run.host->report().contains(reason), qPrintable(run.host->report()));
    QVERIFY2(run.host->report().contains(u"startup failure: bad"_s), qPrintable(run.host->report()));
}

void TestServiceHost::runFailurePolicies_data()
{
    QTest::addColumn<QString>("policy");
    QTest::addColumn<bool>("hostStops");
    QTest::addColumn<int>("exitCode");
    QTest::newRow("stop-host stops everything, exit 1") << u"stop-host"_s << true << 1;
    QTest::newRow("ignore keeps the host running, exit 0") << u"ignore"_s << false << 0;
}

void TestServiceHost::runFailurePolicies()
{
    QFETCH(QString, policy);
    QFETCH(bool, hostStops);
    QFETCH(int, exitCode);
    Run run;
    const QByteArray cfg = QByteArray(R"({"services":[{"name":"other","type":"probe"},
        {"name":"f","type":"chaos","onFailure":")") + policy.toUtf8() + R"(","config":{"failAfter":"100ms"}}]})";
    LOAD(run, cfg);
    run.host->start();
    QTRY_COMPARE_WITH_TIMEOUT(run.host->runner(u"f"_s)->state(), ServiceRunner::State::Failed, 5000);
    QTRY_COMPARE_WITH_TIMEOUT(run.host->isFinished(), hostStops, 2000);
    if (!hostStops) {
        QCOMPARE(run.host->runner(u"other"_s)->state(), ServiceRunner::State::Running);
        run.lifetime.requestStop({u"test"_s, {}});
        QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    }
    QCOMPARE(run.host->exitCode(), exitCode);
}

void TestServiceHost::restartBacksOffAndStopsCleanly()
{
    Run run;
    const QByteArray cfg = R"({"services":[{"name":"f","type":"chaos","onFailure":"restart","restartDelay":"20ms",
        "restartMaxDelay":"80ms","restartLimit":3,"config":{"failAfter":"10ms"}}]})";
    LOAD(run, cfg);
    // The backoff doubles from restartDelay and is capped at restartMaxDelay.
    for (const char *step : {"restart 1 in 20ms", "restart 2 in 40ms", "restart 3 in 80ms"})
        QTest::ignoreMessage(QtWarningMsg, qPrintable(u"f: failed: chaos: failAfter 10ms; "_s + QLatin1String(step)));
    run.host->start();
    // Three restarts, then the limit makes the failure final and stops the host.
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->runner(u"f"_s)->restarts(), 3);
    QCOMPARE(run.host->exitCode(), 1);
}

void TestServiceHost::stopLatchedBeforeStartStartsNothing()
{
    Run run;
    const QByteArray cfg = R"({"services":[{"name":"a","type":"probe"}]})";
    LOAD(run, cfg);
    run.lifetime.requestStop({u"SIGTERM"_s, {}});
    run.host->start();
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 5000);
    QCOMPARE(run.host->exitCode(), 0);
    QVERIFY(g_events.isEmpty());
    QVERIFY(run.host->report().contains(u"reason SIGTERM"_s));
}

void TestServiceHost::stopDuringStartupAbandonsPendingStarts()
{
    Run run;
    const QByteArray cfg = R"({"services":[
        {"name":"a","type":"probe"},
        {"name":"slow","type":"chaos","after":["a"],"config":{"startDelay":"5s"}},
        {"name":"never","type":"probe","after":["slow"]}]})";
    LOAD(run, cfg);
    run.host->start();
    QTRY_COMPARE_WITH_TIMEOUT(run.host->runner(u"slow"_s)->state(), ServiceRunner::State::Starting, 5000);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 3000);
    QCOMPARE(run.host->exitCode(), 0);
    QVERIFY(!g_events.contains(u"start:never"_s));
    QVERIFY(g_events.contains(u"stopped:a"_s));
    QCOMPARE(run.host->runner(u"never"_s)->state(), ServiceRunner::State::NeverStarted);
    QCOMPARE(run.host->runner(u"slow"_s)->state(), ServiceRunner::State::Stopped);
}

void TestServiceHost::hostDestroyedWhileWorkIsPendingIsSafe()
{
    // Not the normal path (that is a shutdown), but a host torn down mid-run must neither crash
    // nor lose track: the pending jobs are logged as destroyed while pending.
    Run run;
    const QByteArray cfg = R"({"services":[{"name":"w","type":"chaos","config":{"workEvery":"10ms","workDuration":"30s","leak":1}}]})";
    LOAD(run, cfg);
    QVERIFY(run.startReady());
    QTRY_VERIFY_WITH_TIMEOUT(run.host->ledger().activeCount(u"w"_s) >= 3, 5000);
    QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"work destroyed while pending: w: (job|leak) .*"_s));
    run.host.reset();
}

QTEST_GUILESS_MAIN(TestServiceHost)
#include "tst_servicehost.moc"
