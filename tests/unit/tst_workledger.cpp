// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/workledger_p.h"

#include <QtCore/QJsonObject>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <thread>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;

class TestWorkLedger : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void countsByOutcome_data();
    void countsByOutcome();
    void cancelRunsOutsideLockAndMayFinishReentrantly();
    void workAddedAfterCancelIsCancelledOnArrival();
    void closeServiceReportsLeaks();
    void ticketDestroyedWhilePendingIsALeak();
    void ticketFinishIsIdempotent();
    void idleSignalWhenLastItemFinishes();
    void dumpsNameOriginAndAge();
    void threadSafeAddAndFinish();
};

void TestWorkLedger::countsByOutcome_data()
{
    QTest::addColumn<bool>("stopping");
    QTest::addColumn<bool>("cancelFirst");
    QTest::addColumn<int>("completed");
    QTest::addColumn<int>("drained");
    QTest::addColumn<int>("cancelled");
    QTest::newRow("finished while running counts as completed") << false << false << 1 << 0 << 0;
    QTest::newRow("finished after stop request counts as drained") << true << false << 0 << 1 << 0;
    QTest::newRow("finished after cancel counts as cancelled") << true << true << 0 << 0 << 1;
}

void TestWorkLedger::countsByOutcome()
{
    QFETCH(bool, stopping);
    QFETCH(bool, cancelFirst);
    WorkLedger ledger;
    const quint64 id = ledger.add(u"svc"_s, u"job"_s, u"one"_s, [] {});
    QCOMPARE(ledger.activeCount(u"svc"_s), 1);
    if (stopping)
        WorkLedger::Control::markStopping(ledger, u"svc"_s);
    if (cancelFirst)
        QVERIFY(ledger.cancel(id));
    ledger.finish(id);
    const WorkCounts c = ledger.counts(u"svc"_s);
    QCOMPARE(c.active, 0);
    QTEST(c.completed, "completed");
    QTEST(c.drained, "drained");
    QTEST(c.cancelled, "cancelled");
    QCOMPARE(c.leaked, 0);
}

void TestWorkLedger::cancelRunsOutsideLockAndMayFinishReentrantly()
{
    // Like QNetworkReply::abort(): the cancel function finishes entries synchronously, and even
    // touches the ledger (snapshot) while doing so. A lock held across the call would deadlock.
    WorkLedger ledger;
    quint64 a = 0, b = 0;
    a = ledger.add(u"svc"_s, u"reply"_s, u"a"_s, [&] { QCOMPARE(ledger.snapshot().size(), 2); ledger.finish(a); });
    b = ledger.add(u"svc"_s, u"reply"_s, u"b"_s, [&] { ledger.finish(b); ledger.finish(a); });
    QCOMPARE(WorkLedger::Control::cancelService(ledger, u"svc"_s), 2);
    QCOMPARE(ledger.activeCount(u"svc"_s), 0);
    QCOMPARE(ledger.counts(u"svc"_s).cancelled, 2);
}

void TestWorkLedger::workAddedAfterCancelIsCancelledOnArrival()
{
    WorkLedger ledger;
    WorkLedger::Control::cancelService(ledger, u"svc"_s);
    bool cancelled = false;
    quint64 id = 0;
    id = ledger.add(u"svc"_s, u"timer"_s, u"late"_s, [&] { cancelled = true; ledger.finish(id); });
    QVERIFY(!cancelled);   // not re-entrantly inside add(): the caller has no id yet
    QTRY_VERIFY(cancelled);
    QCOMPARE(ledger.activeCount(u"svc"_s), 0);
    // Other services are unaffected.
    ledger.add(u"other"_s, u"timer"_s, u"fine"_s, [] { QFAIL("must not be cancelled"); });
    QCOMPARE(ledger.activeCount(u"other"_s), 1);
}

void TestWorkLedger::closeServiceReportsLeaks()
{
    WorkLedger ledger;
    ledger.add(u"svc"_s, u"leak"_s, u"never"_s);
    ledger.add(u"svc"_s, u"leak"_s, u"never2"_s);
    ledger.add(u"keep"_s, u"job"_s, u"x"_s);
    const auto leaked = WorkLedger::Control::closeService(ledger, u"svc"_s);
    QCOMPARE(leaked.size(), 2);
    QCOMPARE(leaked.first().name, u"never"_s);
    QCOMPARE(ledger.counts(u"svc"_s).leaked, 2);
    QCOMPARE(ledger.activeCount(), 1);
}

void TestWorkLedger::ticketDestroyedWhilePendingIsALeak()
{
    WorkLedger ledger;
    {
        WorkTicket t(&ledger, ledger.add(u"svc"_s, u"task"_s, u"forgotten"_s));
        QVERIFY(t.isPending());
        QTest::ignoreMessage(QtWarningMsg, QRegularExpression(u"work destroyed while pending: svc: task \"forgotten\".*"_s));
    }
    QCOMPARE(ledger.activeCount(), 0);
    QCOMPARE(ledger.counts(u"svc"_s).leaked, 1);
}

void TestWorkLedger::ticketFinishIsIdempotent()
{
    WorkLedger ledger;
    WorkTicket t(&ledger, ledger.add(u"svc"_s, u"task"_s, u"done"_s));
    t.finish();
    t.finish();
    QVERIFY(!t.isPending());
    WorkTicket moved = std::move(t);
    QVERIFY(!moved.isPending());
    QCOMPARE(ledger.counts(u"svc"_s).completed, 1);
}

void TestWorkLedger::idleSignalWhenLastItemFinishes()
{
    WorkLedger ledger;
    QSignalSpy idle(&ledger, &WorkLedger::serviceIdle);
    const auto a = ledger.add(u"svc"_s, u"job"_s, u"a"_s);
    const auto b = ledger.add(u"svc"_s, u"job"_s, u"b"_s);
    ledger.finish(a);
    QCOMPARE(idle.size(), 0);
    ledger.finish(b);
    QCOMPARE(idle.size(), 1);
    QCOMPARE(idle.first().first().toString(), u"svc"_s);
    ledger.finish(b);   // unknown id: no-op, no second signal
    QCOMPARE(idle.size(), 1);
}

void TestWorkLedger::dumpsNameOriginAndAge()
{
    WorkLedger ledger;
    ledger.add(u"poller"_s, u"reply"_s, u"GET http://127.0.0.1/x"_s, [] {});
    const QString text = ledger.dumpText();
    QVERIFY2(text.startsWith(u"1 pending work item(s)"_s), qPrintable(text));
    QVERIFY2(text.contains(u"poller: reply \"GET http://127.0.0.1/x\" pending for"_s), qPrintable(text));
    QVERIFY2(text.contains(u"tst_workledger.cpp:"_s), qPrintable(text));
    const QJsonArray json = ledger.dumpJson();
    QCOMPARE(json.size(), 1);
    const QJsonObject o = json.first().toObject();
    QCOMPARE(o.value(u"service"_s).toString(), u"poller"_s);
    QCOMPARE(o.value(u"kind"_s).toString(), u"reply"_s);
    QVERIFY(o.value(u"origin"_s).toString().startsWith(u"tst_workledger.cpp:"_s));
    QVERIFY(o.value(u"ageMs"_s).toDouble() >= 0);
}

void TestWorkLedger::threadSafeAddAndFinish()
{
    WorkLedger ledger;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&ledger, t] {
            for (int i = 0; i < 2000; ++i)
                ledger.finish(ledger.add(u"svc%1"_s.arg(t), u"job"_s, u"x"_s));
        });
    }
    for (auto &th : threads)
        th.join();
    QCOMPARE(ledger.activeCount(), 0);
    for (int t = 0; t < 4; ++t)
        QCOMPARE(ledger.counts(u"svc%1"_s.arg(t)).completed, 2000);
}

QTEST_GUILESS_MAIN(TestWorkLedger)
#include "tst_workledger.moc"
