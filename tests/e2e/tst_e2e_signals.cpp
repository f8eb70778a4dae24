// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The real berth binary receiving real signals: ordered output, exit codes and the report.
#include "tests/support/berthprocess.h"
#include "tests/support/slack.h"

#include <QtCore/QDirIterator>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QRegularExpression>

using namespace Qt::StringLiterals;
using berth::test::within;

class TestE2eSignals : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void stopSignalStopsInReverseOrder_data();
    void stopSignalStopsInReverseOrder();
    void secondSigintCancelsWhatIsLeft();
    void thirdSigintFinishesAtOnce();
    void thirdSigintFinishesEvenWhileTheLoopIsBlocked();
    void deadlineHoldsWhenAServiceBlocksTheLoop_data();
    void deadlineHoldsWhenAServiceBlocksTheLoop();
    void deadlineHoldsWhenTheLoopWasBlockedBeforeTheSignal();
    void budgetsCountFromTheSignalWhenTheLoopWasBusy();
    void sighupReloadsValidConfig();
    void sighupKeepsOldConfigWhenNewOneIsInvalid();
    void sigusr1DumpsLedgerWithoutStopping();
    void signalDuringStartupStopsCleanly();
    void chaosKnobs_data();
    void chaosKnobs();
    void traceFileIsChromeTraceJson();
    void stopSignalsBlockedInAllButOneThread();
};

void TestE2eSignals::stopSignalStopsInReverseOrder_data()
{
    QTest::addColumn<int>("sig");
    QTest::addColumn<QString>("name");
    QTest::newRow("SIGTERM") << int(SIGTERM) << u"SIGTERM"_s;
    QTest::newRow("SIGINT") << int(SIGINT) << u"SIGINT"_s;
}

void TestE2eSignals::stopSignalStopsInReverseOrder()
{
    QFETCH(int, sig);
    QFETCH(QString, name);
    BerthProcess b;
    b.run(R"({"services":[
        {"name":"store","type":"chaos","config":{"stopDelay":"50ms"}},
        {"name":"worker","type":"chaos","after":["store"],"config":{"stopDelay":"50ms"}},
        {"name":"api","type":"chaos","after":["worker"],"config":{"stopDelay":"50ms"}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.signal(sig);
    QCOMPARE(b.finish(), 0);
    const QString err = b.stdErr();
    QVERIFY2(err.contains(u"stop requested by "_s + name), qPrintable(err));
    QVERIFY_ORDER(err, {u"api: stopping"_s, u"api: stopped"_s, u"worker: stopping"_s, u"worker: stopped"_s,
                        u"store: stopping"_s, u"store: stopped"_s, u"shutdown report"_s});
    QVERIFY(err.contains(u"reason "_s + name));
    QVERIFY(err.contains(u"exit code 0: clean stop"_s));
}

void TestE2eSignals::secondSigintCancelsWhatIsLeft()
{
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"60s","drain":"50s","cancel":"5s"},"services":[
        {"name":"w","type":"chaos","config":{"workEvery":"20ms","workDuration":"30s"}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    QVERIFY(b.waitForPending(u"chaos job #"_s));
    b.signal(SIGINT);
    QVERIFY(b.waitFor(u"phase drain"_s) >= 0);
    QElapsedTimer t;
    t.start();
    b.signal(SIGINT);
    QCOMPARE(b.finish(), 0);
    QVERIFY(t.elapsed() < within(5000));
    const QString err = b.stdErr();
    QVERIFY2(err.contains(u"second stop request: cancelling"_s), qPrintable(err));
    QVERIFY(err.contains(u"(2 stop request(s))"_s));
    QVERIFY_ORDER(err, {u"second stop request"_s, u"phase cancel"_s});
}

void TestE2eSignals::thirdSigintFinishesAtOnce()
{
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"60s","drain":"30s","cancel":"20s"},"services":[
        {"name":"hang","type":"chaos","config":{"stopHang":true}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.signal(SIGINT);
    QVERIFY(b.waitFor(u"hang: stopping"_s) >= 0);
    b.signal(SIGINT);
    QVERIFY(b.waitFor(u"second stop request"_s) >= 0);
    b.signal(SIGINT);
    QCOMPARE(b.finish(5000), 3);
    const QString err = b.stdErr();
    QVERIFY2(err.contains(u"third stop request"_s), qPrintable(err));
    QVERIFY(err.contains(u"hang"_s));
}

void TestE2eSignals::thirdSigintFinishesEvenWhileTheLoopIsBlocked()
{
    // The host thread is stuck in stop(); only the watchdog, told by the signal delivery
    // thread, can see the 2nd and 3rd request.
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"60s","drain":"30s","cancel":"20s"},"services":[
        {"name":"blocker","type":"chaos","config":{"stopBlock":"30s"}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.signal(SIGINT);
    QVERIFY(b.waitFor(u"blocking the event loop"_s) >= 0);
    QElapsedTimer t;
    t.start();
    QVERIFY(b.signalDelivered(SIGINT));
    QVERIFY(b.signalDelivered(SIGINT));
    QCOMPARE(b.finish(5000), 3);
    QVERIFY(t.elapsed() < within(2000));
    const QString err = b.stdErr();
    QVERIFY2(err.contains(u"exit code 3: shutdown forced: work was still pending when its budget ran out (third stop request)"_s), qPrintable(err));
    QVERIFY(err.contains(u"still stopping at the deadline: blocker"_s));
    QVERIFY(err.contains(u"the host thread is blocked in service code: blocker, for "_s));
}

void TestE2eSignals::deadlineHoldsWhenAServiceBlocksTheLoop_data()
{
    QTest::addColumn<QByteArray>("shutdown");
    QTest::addColumn<int>("deadline");
    QTest::addColumn<QString>("line");   // a line the stop prints besides the report's
    QTest::newRow("budgets given") << QByteArray(R"({"deadline":"1s","drain":"500ms","cancel":"200ms","reserve":"100ms"})")
                                   << 1000 << u"shutdown deadline reached"_s;
    // Only the deadline given: drain, cancel and the reserve follow it.
    QTest::newRow("a deadline alone") << QByteArray(R"({"deadline":"2s"})") << 2000
                                      << u"deadline 2s (drain 1s, cancel 400ms)"_s;
}

void TestE2eSignals::deadlineHoldsWhenAServiceBlocksTheLoop()
{
    QFETCH(QByteArray, shutdown);
    QFETCH(int, deadline);
    QFETCH(QString, line);
    BerthProcess b;
    b.run(R"({"shutdown":)" + shutdown + R"(,"services":[
        {"name":"calm","type":"chaos"},
        {"name":"blocker","type":"chaos","after":["calm"],"config":{"stopBlock":"30s"}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    QElapsedTimer t;
    t.start();
    b.signal(SIGTERM);
    const int code = b.finish(10000);
    const qint64 took = t.elapsed();
    const QString err = b.stdErr();
    QCOMPARE(code, 3);
    QVERIFY2(took < within(deadline + 250), qPrintable(u"exit took %1ms"_s.arg(took)));
    QVERIFY2(took >= deadline - 50, qPrintable(u"exit took %1ms"_s.arg(took)));
    QVERIFY2(err.contains(line), qPrintable(err));
    QVERIFY2(err.contains(u"still stopping at the deadline: blocker"_s), qPrintable(err));
}

void TestE2eSignals::deadlineHoldsWhenTheLoopWasBlockedBeforeTheSignal()
{
    // The host thread never reads the SIGTERM: only the delivery thread sees it and arms the
    // watchdog, and the report names the service whose code is blocking.
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"1s","drain":"500ms","cancel":"200ms","reserve":"100ms"},"services":[
        {"name":"calm","type":"chaos"},
        {"name":"wedged","type":"chaos","config":{"blockAfter":"0ms","blockFor":"30s"}}]})");
    QVERIFY2(b.waitFor(u"blockAfter: blocking the event loop for 30000ms"_s) >= 0, qPrintable(b.stdErr()));
    QElapsedTimer t;
    t.start();
    QVERIFY(b.signalDelivered(SIGTERM));
    QCOMPARE(b.finish(10000), 3);
    const qint64 took = t.elapsed();
    QVERIFY2(took >= 950 && took < within(1000 + 250), qPrintable(u"exit took %1ms"_s.arg(took)));
    const QString err = b.stdErr();
    QVERIFY2(err.contains(u"the host thread is blocked in service code: wedged, for "_s), qPrintable(err));
    QVERIFY(err.contains(u"the stop request never reached the host thread"_s));
    QVERIFY(err.contains(u"shutdown deadline reached"_s));
}

void TestE2eSignals::budgetsCountFromTheSignalWhenTheLoopWasBusy()
{
    // The host thread is busy for 700 ms when SIGTERM comes. The budgets count from the
    // signal, as a supervisor counts: the 600 ms drain is over by the time the host thread
    // looks, so the jobs still running are cancelled at once and the stop is clean, ~700 ms
    // after the signal. Counted from when the host thread got to it, the drain would run to
    // ~1 300 ms.
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"2s","drain":"600ms","cancel":"300ms","reserve":"200ms"},"services":[
        {"name":"worker","type":"chaos","config":{"workEvery":"20ms","workDuration":"30s"}},
        {"name":"busy","type":"chaos","config":{"blockAfter":"300ms","blockFor":"700ms"}}]})");
    QVERIFY2(b.waitFor(u"blockAfter: blocking the event loop for 700ms"_s) >= 0, qPrintable(b.stdErr()));
    QElapsedTimer t;
    t.start();
    QVERIFY(b.signalDelivered(SIGTERM));
    const int code = b.finish(10000);
    const qint64 took = t.elapsed();
    const QString err = b.stdErr();
    QVERIFY2(code == 0, qPrintable(u"exit %1:\n%2"_s.arg(code).arg(err.right(3000))));
    const auto noted = QRegularExpression(u"stop requested by SIGTERM: deadline 2s \\(drain 600ms, cancel 300ms\\); "
                                          u"noted (\\d+)ms ago, while the host thread was busy"_s).match(err);
    QVERIFY2(noted.hasMatch(), qPrintable(err.right(3000)));
    QVERIFY2(noted.captured(1).toInt() >= 500, qPrintable(noted.captured(0)));
    QVERIFY2(err.contains(u"phase cancel:"_s), qPrintable(err.right(3000)));
    const qint64 limit = within(1000);
    qInfo("exit %lld ms after the signal; %s", took, qPrintable(noted.captured(0)));
    QVERIFY2(took < limit, qPrintable(u"exit took %1ms:\n%2"_s.arg(took).arg(err.right(3000))));
}

void TestE2eSignals::sighupReloadsValidConfig()
{
    BerthProcess b;
    b.run(R"({"services":[{"name":"w","type":"chaos","config":{"workEvery":"1s"}}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.writeFile(u"berth.json"_s, R"({"services":[{"name":"w","type":"chaos","config":{"workEvery":"50ms","workDuration":"10ms"}}]})");
    b.signal(SIGHUP);
    QVERIFY2(b.waitFor(u"reloaded .*berth.json \\(SIGHUP\\): 1 service\\(s\\) got a new config"_s) >= 0, qPrintable(b.stdErr()));
    QVERIFY(b.waitFor(u"\\[berth.service.w\\] reloaded with 2 key"_s) >= 0);
    QCOMPARE(b.process().state(), QProcess::Running);
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
}

void TestE2eSignals::sighupKeepsOldConfigWhenNewOneIsInvalid()
{
    BerthProcess b;
    b.run(R"({"services":[{"name":"w","type":"chaos"}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    const QString path = b.writeFile(u"berth.json"_s, "{\"services\":[{\"name\":\"w\",\"type\":\"chaos\",\n  \"config\":{\"stopDelya\":\"1s\"}}]}");
    b.signal(SIGHUP);
    QVERIFY2(b.waitFor(u"reload \\(SIGHUP\\) rejected; keeping the running config"_s) >= 0, qPrintable(b.stdErr()));
    QVERIFY2(b.waitFor(QRegularExpression::escape(path) + u":2:\\d+: services\\[0\\]\\.config\\.stopDelya: .*stopDelay"_s) >= 0,
             qPrintable(b.stdErr()));
    QCOMPARE(b.process().state(), QProcess::Running);
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
}

void TestE2eSignals::sigusr1DumpsLedgerWithoutStopping()
{
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"2s","drain":"300ms","cancel":"300ms"},"services":[
        {"name":"leaky","type":"chaos","config":{"leak":1}}]})", {u"--dump"_s, b.path(u"dump.json"_s)});
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.signal(SIGUSR1);
    QVERIFY2(b.waitFor(u"ledger dump \\(SIGUSR1\\)"_s) >= 0, qPrintable(b.stdErr()));
    QFile dump(b.path(u"dump.json"_s));
    QTRY_VERIFY(dump.exists());
    QVERIFY(dump.open(QIODevice::ReadOnly));
    const QJsonObject doc = QJsonDocument::fromJson(dump.readAll()).object();
    QCOMPARE(doc.value(u"source"_s).toString(), u"SIGUSR1"_s);
    const QJsonArray pending = doc.value(u"pending"_s).toArray();
    QCOMPARE(pending.size(), 1);
    QCOMPARE(pending.first().toObject().value(u"kind"_s).toString(), u"leak"_s);
    QCOMPARE(doc.value(u"services"_s).toArray().first().toObject().value(u"state"_s).toString(), u"running"_s);
    QVERIFY(b.waitFor(u"leaky: leak \"chaos leak #1 \\(never completes\\)\" pending for \\d+ms \\(registered at chaos.cpp:\\d+\\)"_s) >= 0);
    QCOMPARE(b.process().state(), QProcess::Running);
    QVERIFY2(!b.stdErr().contains(u"stop requested"_s), qPrintable(b.stdErr()));   // absent
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 3);   // the leak is still pending at close
}

void TestE2eSignals::signalDuringStartupStopsCleanly()
{
    BerthProcess b;
    b.run(R"({"services":[
        {"name":"first","type":"chaos"},
        {"name":"slow","type":"chaos","after":["first"],"config":{"startDelay":"10s"}},
        {"name":"never","type":"chaos","after":["slow"]}]})");
    QVERIFY2(b.waitFor(u"slow: starting"_s) >= 0, qPrintable(b.stdErr()));
    QElapsedTimer t;
    t.start();
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
    QVERIFY(t.elapsed() < within(3000));
    const QString err = b.stdErr();
    QVERIFY2(!err.contains(u"never: starting"_s), qPrintable(err));
    QVERIFY(err.contains(u"first: stopped"_s));
    QVERIFY(err.contains(u"not started"_s));
}

void TestE2eSignals::chaosKnobs_data()
{
    QTest::addColumn<QByteArray>("service");
    QTest::addColumn<bool>("sendStop");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("expect");
    const auto row = [](const char *name, const char *service, bool stop, int code, const char *expect) {
        QTest::newRow(name) << QByteArray(service) << stop << code << QString::fromUtf8(expect);
    };
    row("startDelay: ready after the delay", R"({"startDelay":"300ms"})", true, 0, "c: ready after [3-9]\\d\\dms");
    row("startFail: exit 1 naming the service", R"({"startFail":true})", false, 1, "c: failed to start: chaos: startFail");
    row("throwIn start: caught, exit 1", R"({"throwIn":"start"})", false, 1, "c: start\\(\\) threw: chaos: throwIn start");
    row("throwIn stop: caught, exit 1", R"({"throwIn":"stop"})", true, 1, "c: stop\\(\\) threw: chaos: throwIn stop");
    row("throwIn event: caught in notify(), the service fails, exit 1", R"({"throwIn":"event"})", false, 1,
        "c: failed: exception in an event handler: chaos: throwIn event[\\s\\S]*stop requested by service failure: c");
    row("stopDelay: clean stop after the delay", R"({"stopDelay":"300ms"})", true, 0, "c: stopped after [3-9]\\d\\dms");
    row("stopHang: abandoned at stopTimeout, exit 3", R"({"stopHang":true})", true, 3, "did not stop within stopTimeout 500ms");
    row("stopBlock within the deadline: exit 0", R"({"stopBlock":"300ms"})", true, 0, "blocking the event loop for 300ms");
    row("leak: reported, exit 3", R"({"leak":2})", true, 3, "pending at exit: 2");
    row("failAfter: exit 1 without a signal", R"({"failAfter":"200ms"})", false, 1, "c: failed: chaos: failAfter 200ms");
    row("workEvery: in-flight jobs drain", R"({"workEvery":"30ms","workDuration":"200ms"})", true, 0, "\\n  c +stopped +\\d+ms +\\d+ +[1-9]\\d* +0 +0");
}

void TestE2eSignals::chaosKnobs()
{
    QFETCH(QByteArray, service);
    QFETCH(bool, sendStop);
    QFETCH(int, exitCode);
    QFETCH(QString, expect);
    BerthProcess b;
    b.run(R"({"shutdown":{"deadline":"3s","drain":"1s","cancel":"500ms"},"services":[
        {"name":"c","type":"chaos","stopTimeout":"500ms","config":)" + service + "}]}");
    if (sendStop) {
        QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
        if (service.contains("workEvery"))
            QVERIFY(b.waitForPending(u"chaos job #"_s));   // stop only once jobs are in flight
        b.signal(SIGTERM);
    }
    QCOMPARE(b.finish(), exitCode);
    const QString err = b.stdErr();
    QVERIFY2(QRegularExpression(expect).match(err).hasMatch(), qPrintable(err));
    QVERIFY(err.contains(u"exit code %1"_s.arg(exitCode)));
}

void TestE2eSignals::traceFileIsChromeTraceJson()
{
    BerthProcess b;
    b.run(R"({"services":[{"name":"a","type":"chaos"},{"name":"b","type":"chaos","after":["a"]}]})",
          {u"--trace"_s, b.path(u"trace.json"_s)});
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
    QFile f(b.path(u"trace.json"_s));
    QVERIFY(f.open(QIODevice::ReadOnly));
    QJsonParseError error;
    const QJsonDocument doc = QJsonDocument::fromJson(f.readAll(), &error);
    QCOMPARE(error.error, QJsonParseError::NoError);
    const QJsonArray events = doc.object().value(u"traceEvents"_s).toArray();
    QStringList names;
    for (const auto &e : events) {
        const QJsonObject o = e.toObject();
        QVERIFY(o.contains(u"ph"_s) && o.contains(u"pid"_s));
        if (o.value(u"ph"_s).toString() == u"X") {
            QVERIFY(o.value(u"dur"_s).toDouble() >= 0);
            names << o.value(u"name"_s).toString();
        }
    }
    for (const char *n : {"start", "stop", "startup", "drain", "close", "shutdown"})
        QVERIFY2(names.contains(QLatin1String(n)), n);
}

void TestE2eSignals::stopSignalsBlockedInAllButOneThread()
{
    BerthProcess b;
    b.run(R"({"services":[{"name":"a","type":"chaos"}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    const quint64 stopMask = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1)) | (1ull << (SIGHUP - 1)) | (1ull << (SIGUSR1 - 1));
    int threads = 0, unblocked = 0;
    QDirIterator it(u"/proc/%1/task"_s.arg(b.pid()), QDir::Dirs | QDir::NoDotAndDotDot);
    while (it.hasNext()) {
        QFile status(it.next() + u"/status"_s);
        QVERIFY(status.open(QIODevice::ReadOnly));
        for (const QByteArray &line : status.readAll().split('\n')) {
            if (line.startsWith("SigBlk:")) {
                ++threads;
                const quint64 mask = line.mid(7).trimmed().toULongLong(nullptr, 16);
                if ((mask & stopMask) == 0)
                    ++unblocked;
                else
                    QCOMPARE(mask & stopMask, stopMask);
            }
        }
    }
    QVERIFY(threads >= 3);   // main, signal delivery, watchdog
    QCOMPARE(unblocked, 1);
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
}

QTEST_GUILESS_MAIN(TestE2eSignals)
#include "tst_e2e_signals.moc"
