// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host in-process: start order, stop order, phases, budgets, escalation, failure policies.
#include "builtin.h"
#include "config/config.h"
#include "engine/servicehost.h"
#include "engine/servicerunner.h"
#include "tests/support/order.h"
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

namespace {
QStringList g_events;

// Records its lifecycle in g_events; startDelay / stopDelay in ms.
class ProbeService : public Service
{
public:
    void start() override
    {
        g_events << u"start:"_s + context().name();
        QTimer::singleShot(context().config().value(u"startDelay"_s).toInt(), this, [this] {
            g_events << u"ready:"_s + context().name();
            reportReady();
        });
    }
    void stop() override
    {
        g_events << u"stop:"_s + context().name();
        QTimer::singleShot(context().config().value(u"stopDelay"_s).toInt(), this, [this] {
            g_events << u"stopped:"_s + context().name();
            reportStopped();
        });
    }
};

ServiceRegistry makeRegistry()
{
    ServiceRegistry r;
    registerBuiltinServices(r);
    using K = ConfigKey::Kind;
    r.add(ServiceType{u"probe"_s, u"test probe"_s,
                      {{u"startDelay"_s, K::Integer, {}, false, {}}, {u"stopDelay"_s, K::Integer, {}, false, {}}},
                      [] { return std::make_unique<ProbeService>(); }});
    return r;
}

struct Run
{
    ServiceRegistry registry = makeRegistry();
    Lifetime lifetime;
    std::unique_ptr<ServiceHost> host;
    std::atomic<int> forcedCode{-1};
    QString forcedReport;

    bool load(const QByteArray &json)
    {
        const ConfigResult r = parseConfig(json, u"test.json"_s, registry);
        for (const auto &e : r.errors)
            qWarning().noquote() << e.toString();
        if (!r.ok())
            return false;
        host = std::make_unique<ServiceHost>(r.config, registry, lifetime);
        host->setForcedExit([this](int code, const QString &report) {
            forcedReport = report;
            forcedCode = code;
        });
        return true;
    }
    /// Starts the host and waits until every service is ready.
    bool startReady()
    {
        QSignalSpy ready(host.get(), &HostProgress::allReady);
        host->start();
        return !ready.isEmpty() || ready.wait(5000);
    }
};

#define LOAD(run, json) QVERIFY((run).load(json))
} // namespace

class TestServiceHost : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init() { g_events.clear(); }
    void startsDependenciesFirstAndBranchesConcurrently();
    void stopsDependentsFirstAndBranchesConcurrently();
    void drainLetsWorkFinish();
    void cancelAfterDrainBudget();
    void secondRequestJumpsToCancel();
    void thirdRequestFinishesAtOnce();
    void stopTimeoutAbandonsAndDependencyStillStops();
    void startFailureStopsStartedInReverse_data();
    void startFailureStopsStartedInReverse();
    void runFailurePolicies_data();
    void runFailurePolicies();
    void restartBacksOffAndStopsCleanly();
    void leakIsReportedAndForcesExit();
    void stopLatchedBeforeStartStartsNothing();
    void stopDuringStartupAbandonsPendingStarts();
    void watchdogForcesExitWhenLoopIsBlocked();
    void platformLimitShortensDeadline();
    void intakeDelayKeepsServingFirst();
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

void TestServiceHost::stopsDependentsFirstAndBranchesConcurrently()
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

void TestServiceHost::drainLetsWorkFinish()
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

void TestServiceHost::cancelAfterDrainBudget()
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

void TestServiceHost::secondRequestJumpsToCancel()
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

void TestServiceHost::thirdRequestFinishesAtOnce()
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

void TestServiceHost::stopTimeoutAbandonsAndDependencyStillStops()
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

void TestServiceHost::leakIsReportedAndForcesExit()
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

void TestServiceHost::watchdogForcesExitWhenLoopIsBlocked()
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

void TestServiceHost::platformLimitShortensDeadline()
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

void TestServiceHost::intakeDelayKeepsServingFirst()
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
