// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What the network session gives back while it drains: a manager of send() with nothing left in
// flight closes at once (its HTTP thread joined, its connections closed at the server), while
// the other managers still drain; close() then has only the rest to do. Against HttpFixture on
// 127.0.0.1, counted at the server.
#include <berth/networksession.h>
#include <berth/workledger.h>

#include "httpfixture.h"
#include "networktestutil.h"

#include <QtCore/QThread>
#include <QtTest/QTest>

#include <set>

using namespace Qt::StringLiterals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkDrain : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void idleManagerClosesWhileOthersDrain();
    void redirectHopWhileDrainingFindsAManager();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkDrain::initTestCase()
{
    HttpFixture::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkDrain::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkDrain::idleManagerClosesWhileOthersDrain()
{
    if (QThread::idealThreadCount() < 2)
        QSKIP("needs 2 cores: the session puts 12 connections on one manager per core, so one core gives one manager");
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.connectionsPerHost = 12;
    o.maxConcurrent = 12;
    NetworkSession s(Svc, &ledger, o);
    // The least busy manager takes each request, so the two managers alternate: one gets the
    // quick polls, the other the slow ones (checked below through the replies' managers).
    Outcomes outs;
    std::set<QNetworkAccessManager *> quick, slow;
    for (int i = 0; i < 12; ++i) {
        NetworkCall *call = s.get(QNetworkRequest(m_server->url(i % 2 ? u"/delay?ms=1500"_s : u"/delay?ms=200"_s)));
        outs.append(watch(call));
        QVERIFY(call->reply());
        (i % 2 ? slow : quick).insert(call->reply()->manager());
    }
    QCOMPARE(s.managerCount(), 2);
    QCOMPARE(quick.size(), size_t(1));
    QCOMPARE(slow.size(), size_t(1));
    QVERIFY(quick != slow);
    QTRY_COMPARE(m_server->connectionsOpen(), 12);
    ledger.markStopping(Svc);
    s.beginDrain();
    // The quick manager finishes first and closes, connections and all, before close().
    QTRY_COMPARE_WITH_TIMEOUT(s.managerCount(), 1, 5000);
    QCOMPARE(s.inFlight(), 6);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 6, 5000);
    QCOMPARE(s.state(), NetworkSession::State::Draining);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 5000);
    for (const auto &out : std::as_const(outs))
        QCOMPARE(out->status, 200);
    QCOMPARE(ledger.counts(Svc).drained, 12);
    QTRY_COMPARE(s.managerCount(), 0);
    s.close();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 5000);
    QCOMPARE(m_server->requestsCompleted(), qint64(12));
    m_server->reset();
}

void TestNetworkDrain::redirectHopWhileDrainingFindsAManager()
{
    // A 302 that arrives after the stop, when the manager it came on has nothing else to do:
    // the hop is part of a request in flight and is followed, on a manager that is open.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/redirect?n=1&ms=300"_s))));
    QTRY_COMPARE(m_server->requestsReceived(u"/redirect"_s), qint64(1));
    ledger.markStopping(Svc);
    s.beginDrain();
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 5000);
    QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(out->status, 200);
    QCOMPARE(ledger.counts(Svc).drained, 1);
    s.close();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 5000);
    m_server->reset();
}

QTEST_GUILESS_MAIN(TestNetworkDrain)
#include "tst_networkdrain.moc"
