// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's progress as a supervisor's reporter sees it (HostProgress, the platform seam): start-up
// progress and its wait hint, every phase with its budget and what is pending, the end with its
// exit code, and the forced-exit hooks on the watchdog's thread. A real host with chaos services.
#include "tests/support/hostrun.h"
#include "tests/support/slack.h"

#include <berth/hostprogress.h>
#include <berth/lifetime.h>
#include <berth/serviceregistry.h>

#include <QtCore/QMutex>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <atomic>
#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using berth::test::within;
using namespace berth;

namespace {

/// A reporter reads the host through the view only.
struct Run : berth::test::HostRun
{
    bool load(const QByteArray &json) { return HostRun::load(json, HostOptions{{}, {}, false, false}); }
    HostProgress &view() { return *host; }
};

QString describe(const HostProgress &p)
{
    const HostProgress::Pending pending = p.pending();
    return u"%1 %2/%3 phase %4, %5 pending in [%6]"_s.arg(QLatin1String(HostProgress::stageName(p.stage())))
        .arg(p.servicesReady()).arg(p.servicesTotal()).arg(QLatin1String(HostProgress::phaseName(p.phase())))
        .arg(pending.items).arg(pending.services.join(u','));
}

} // namespace

class TestHostProgress : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void startUpIsToldServiceByService();
    void eachPhaseComesWithItsBudgetAndWhatIsPending();
    void forcedExitRunsEveryHookOnTheWatchdogThread();
};

void TestHostProgress::startUpIsToldServiceByService()
{
    Run run;
    QVERIFY(run.load(R"({"services": [
        {"name": "first", "type": "chaos", "startTimeout": "3s", "config": {"startDelay": "100ms"}},
        {"name": "second", "type": "chaos", "after": ["first"], "startTimeout": "7s", "config": {"startDelay": "100ms"}}
    ]})"));
    HostProgress &p = run.view();
    QCOMPARE(p.stage(), HostProgress::Stage::Starting);
    QCOMPARE(p.servicesReady(), 0);
    QCOMPARE(p.servicesTotal(), 2);
    QCOMPARE(p.startBudget(), 7000ms);   // the longest startTimeout still to come
    QCOMPARE(p.phase(), HostProgress::Phase::None);
    QCOMPARE(p.phaseRemaining(), -1ms);
    QCOMPARE(p.deadlineRemaining(), -1ms);
    QStringList events;
    connect(&p, &HostProgress::startProgress, this, [&](int ready, int total) {
        events << u"progress %1/%2, budget %3"_s.arg(ready).arg(total).arg(p.startBudget().count());
    });
    connect(&p, &HostProgress::allReady, this, [&] { events << u"all ready: "_s + describe(p); });
    QSignalSpy ready(&p, &HostProgress::allReady);
    run.host->start();
    QVERIFY(ready.wait(5000));
    QCOMPARE(events, QStringList({u"progress 1/2, budget 7000"_s, u"progress 2/2, budget 0"_s,
                                  u"all ready: running 2/2 phase none, 0 pending in []"_s}));
    QCOMPARE(p.startBudget(), 0ms);
    QSignalSpy finished(&p, &HostProgress::finished);
    run.lifetime.requestStop({u"test"_s, {}});
    QVERIFY(finished.wait(5000));
    QCOMPARE(finished.first().first().toInt(), 0);
    QCOMPARE(p.stage(), HostProgress::Stage::Finished);
}

void TestHostProgress::eachPhaseComesWithItsBudgetAndWhatIsPending()
{
    // Jobs of 600 ms every 50 ms: at the stop, several are in flight; the drain (2 s given) lets
    // them end, and the phases after it have nothing left.
    Run run;
    QVERIFY(run.load(R"({"shutdown": {"deadline": "5s", "drain": "2s"}, "services": [
        {"name": "idle", "type": "chaos"},
        {"name": "worker", "type": "chaos", "config": {"workEvery": "50ms", "workDuration": "600ms"}}
    ]})"));
    HostProgress &p = run.view();
    QStringList phases;
    std::chrono::milliseconds drainRemaining{-2}, deadlineAtDrain{-2};
    HostProgress::Pending pendingAtDrain;
    connect(&p, &HostProgress::phaseEntered, this, [&](HostProgress::Phase phase, std::chrono::milliseconds remaining) {
        phases << QLatin1String(HostProgress::phaseName(phase));
        QCOMPARE(p.phase(), phase);
        QCOMPARE(p.stage(), HostProgress::Stage::Stopping);
        if (phase == HostProgress::Phase::Drain) {
            drainRemaining = remaining;
            deadlineAtDrain = p.deadlineRemaining();
            pendingAtDrain = p.pending();
        }
    });
    QSignalSpy ready(&p, &HostProgress::allReady);
    run.host->start();
    QVERIFY(ready.wait(5000));
    QTRY_VERIFY_WITH_TIMEOUT(p.pending().items >= 3, 5000);
    QCOMPARE(p.pending().services, QStringList{u"worker"_s});
    QSignalSpy finished(&p, &HostProgress::finished);
    run.lifetime.requestStop({u"test"_s, {}});
    QVERIFY(finished.wait(10000));
    QCOMPARE(phases.join(u' '), u"intake drain close"_s);   // all done in drain: no cancel, no join
    QVERIFY2(drainRemaining <= 2000ms && drainRemaining > 2000ms - std::chrono::milliseconds(within(200)),
             qPrintable(QString::number(drainRemaining.count())));
    QVERIFY2(deadlineAtDrain <= 5000ms && deadlineAtDrain > 5000ms - std::chrono::milliseconds(within(200)),
             qPrintable(QString::number(deadlineAtDrain.count())));
    QVERIFY2(pendingAtDrain.items >= 3, qPrintable(QString::number(pendingAtDrain.items)));
    QCOMPARE(pendingAtDrain.services, QStringList{u"worker"_s});
    QCOMPARE(finished.first().first().toInt(), 0);
    QCOMPARE(p.exitCode(), 0);
    QCOMPARE(p.stage(), HostProgress::Stage::Finished);
    QCOMPARE(p.phase(), HostProgress::Phase::None);
    QCOMPARE(p.phaseRemaining(), -1ms);
    QCOMPARE(p.pending().items, 0);
}

void TestHostProgress::forcedExitRunsEveryHookOnTheWatchdogThread()
{
    // A stop that blocks the host's thread for 3 s past a 1 s deadline: the watchdog ends the
    // process, and every reporter's hook has its last word first, with the exit code.
    Run run;
    QVERIFY(run.load(R"({"shutdown": {"deadline": "1s"}, "services": [
        {"name": "blocker", "type": "chaos", "config": {"stopBlock": "3s"}}
    ]})"));
    QMutex mutex;
    QStringList calls;
    QThread *const mainThread = QThread::currentThread();
    for (const QString &name : {u"scm"_s, u"notify"_s}) {
        run.view().addForcedExitHook([&, name](int code) {
            const QMutexLocker lock(&mutex);
            calls << u"%1 %2 %3 ended=%4"_s.arg(name).arg(code)
                         .arg(QThread::currentThread() == mainThread ? u"main"_s : u"watchdog"_s)
                         .arg(run.forcedCode.load());
        });
    }
    QSignalSpy ready(&run.view(), &HostProgress::allReady);
    run.host->start();
    QVERIFY(ready.wait(5000));
    run.lifetime.requestStop({u"test"_s, {}});   // stop() blocks this thread for 3 s
    QTRY_COMPARE_WITH_TIMEOUT(run.forcedCode.load(), 3, 10000);
    const QMutexLocker lock(&mutex);
    QCOMPARE(calls, QStringList({u"scm 3 watchdog ended=-1"_s, u"notify 3 watchdog ended=-1"_s}));
}

QTEST_GUILESS_MAIN(TestHostProgress)
#include "tst_hostprogress.moc"
