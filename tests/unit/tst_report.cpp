// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/workledger_p.h"
#include "engine/report.h"

#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace berth;

class TestReport : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void exitCodeMeanings_data();
    void exitCodeMeanings();
    void reportShowsPhasesServicesAndPending();
    void cleanReportSaysNothingPending();
};

void TestReport::exitCodeMeanings_data()
{
    QTest::addColumn<int>("code");
    QTest::addColumn<QString>("meaning");
    QTest::newRow("0 clean") << 0 << u"clean stop"_s;
    QTest::newRow("1 service failed") << 1 << u"a service failed"_s;
    QTest::newRow("2 usage") << 2 << u"bad command line or config"_s;
    QTest::newRow("3 forced") << 3 << u"shutdown forced: work was still pending when its budget ran out"_s;
}

void TestReport::exitCodeMeanings()
{
    QFETCH(int, code);
    QFETCH(QString, meaning);
    QCOMPARE(exitCodeMeaning(code), meaning);
}

void TestReport::reportShowsPhasesServicesAndPending()
{
    StatusBoard board;
    board.addService(u"store"_s);
    board.addService(u"worker"_s);
    board.beginShutdown(u"SIGTERM"_s, 1000, 10000);
    board.setRequests(2);
    board.phaseStarted(u"intake"_s, 1000);
    board.phaseStarted(u"drain"_s, 1000);
    board.phaseStarted(u"cancel"_s, 1500);
    board.setState(u"worker"_s, u"stopped"_s);
    board.setStopRequested(u"worker"_s, 1000);
    board.setStopped(u"worker"_s, 1400);
    board.setState(u"store"_s, u"abandoned"_s, u"did not stop within stopTimeout 1s"_s);
    board.setStopRequested(u"store"_s, 1400);

    WorkLedger ledger;
    WorkLedger::Control::markStopping(ledger, u"worker"_s);
    ledger.finish(ledger.add(u"worker"_s, u"job"_s, u"drained one"_s));
    const quint64 stuck = ledger.add(u"store"_s, u"flush"_s, u"still writing"_s);
    Q_UNUSED(stuck);
    const QString r = renderReport(board.snapshot(), ledger, {}, 2000, 3, u"store: gave up"_s);
    QVERIFY2(r.startsWith(u"shutdown report: reason SIGTERM (2 stop request(s)), deadline 10000ms"_s), qPrintable(r));
    QVERIFY2(r.contains(u"    drain    500ms\n"_s), qPrintable(r));
    QVERIFY2(r.contains(u"    cancel   500ms (cut off)"_s), qPrintable(r));
    QVERIFY2(r.contains(QRegularExpression(u"\\n  worker +stopped +400ms +0 +1 +0 +0 +drain 400ms\\n"_s)), qPrintable(r));
    QVERIFY2(r.contains(QRegularExpression(u"\\n  store +abandoned +600ms\\+ +0 +0 +0 +1 +drain 100ms, cancel 500ms +\\(did not stop within stopTimeout 1s\\)"_s)), qPrintable(r));
    QVERIFY2(r.contains(u"pending at exit: 1\n    store: flush \"still writing\" pending for"_s), qPrintable(r));
    QVERIFY2(r.endsWith(u"exit code 3: shutdown forced: work was still pending when its budget ran out (store: gave up)"_s), qPrintable(r));
}

void TestReport::cleanReportSaysNothingPending()
{
    StatusBoard board;
    board.addService(u"a"_s);
    board.beginShutdown(u"SIGINT"_s, 0, 5000);
    board.setRequests(1);
    WorkLedger ledger;
    const QString r = renderReport(board.snapshot(), ledger, {}, 10, 0, {});
    QVERIFY2(r.contains(u"pending at exit: none"_s), qPrintable(r));
    QVERIFY2(r.endsWith(u"exit code 0: clean stop"_s), qPrintable(r));
}

QTEST_GUILESS_MAIN(TestReport)
#include "tst_report.moc"
