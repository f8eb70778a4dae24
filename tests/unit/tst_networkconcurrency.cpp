// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession's limits and spreading against a real HTTP server on 127.0.0.1 (HttpFixture,
// served from its own thread): the concurrency cap and the session's queue, one full host not
// holding up another, many real connections to one host, the rate limit, a request sent again as
// it is now, a host's connections spread over the cores. The lifecycle is in tst_networksession.cpp.
#include "network/networksessioncontrol_p.h"
#include "engine/workledger_p.h"

#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include "httpfixture.h"
#include "platform.h"
#include "tests/support/networktestutil.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkConcurrency : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void concurrencyCapQueuesInTheSession();
    void aFullHostDoesNotHoldUpAnother();
    void manyConnectionsToOneHostAreReallyOpen();
    void rateLimitSpacesRequests();
    void aRequestSentAgainGoesOutAsItIsNow();
    void aHostsConnectionsSpreadOverTheCores();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkConcurrency::initTestCase()
{
    platform::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkConcurrency::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkConcurrency::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkConcurrency::concurrencyCapQueuesInTheSession()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.maxConcurrent = 4;
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 12, m_server->url(u"/delay?ms=100"_s));
    QCOMPARE(s.inFlight(), 4);
    QCOMPARE(s.queued(), 8);
    const auto kinds = ledger.snapshot(Svc);
    QCOMPARE(std::count_if(kinds.cbegin(), kinds.cend(), [](const WorkEntry &e) { return e.kind == u"request (queued)"_s; }), 8);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 20000);
    QVERIFY2(m_server->peakConnectionsOpen() <= 4, qPrintable(QString::number(m_server->peakConnectionsOpen())));
    QCOMPARE(m_server->requestsCompleted(), 12);
}

void TestNetworkConcurrency::aFullHostDoesNotHoldUpAnother()
{
    // The queue counts its calls per host: a host without room is passed over, and the calls
    // behind it for another host go out, in both orders; each host keeps its own limit.
    WorkLedger ledger;
    const NetworkOptions o = quickOptions(20, 2);
    NetworkSession s(Svc, &ledger, o);
    QNetworkRequest other(m_server->url(u"/delay?ms=50"_s));
    other.setPeerVerifyName(u"other.invalid"_s);   // plain HTTP: another host key, the same server
    const auto sendOther = [&](int n) {
        Outcomes outs;
        for (int i = 0; i < n; ++i)
            outs.push_back(watch(s.send(other)));
        return outs;
    };
    const Outcomes early = sendOther(3);
    const Outcomes stuck = getMany(s, 6, m_server->url(u"/never"_s));
    const Outcomes late = sendOther(5);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(early) && allDone(late), 10000);
    for (const auto &out : early + late)
        QCOMPARE(out->status, 200);
    QCOMPARE(m_server->requestsCompleted(), 8);
    QVERIFY2(m_server->peakConnectionsOpen() <= 4, qPrintable(QString::number(m_server->peakConnectionsOpen())));
    // The full host: 2 in flight, 4 still waiting in the session's queue, never sent.
    QCOMPARE(m_server->requestsReceived(u"/never"_s), 2);
    QCOMPARE(s.inFlight(), 2);
    QCOMPARE(s.queued(), 4);
    NetworkSession::Control::abortAll(s);
    QTRY_VERIFY(allDone(stuck));
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(m_server->requestsReceived(u"/never"_s), 2);
}

void TestNetworkConcurrency::manyConnectionsToOneHostAreReallyOpen()
{
    // Qt 6.4 allows 6 connections per host per pool: 300 need 50 pools, which are lanes of a
    // few managers (HTTP threads: one per core, one per 128 connections), not 50 managers.
    WorkLedger ledger;
    const NetworkOptions o = quickOptions(300, 300);
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 300, m_server->url(u"/never"_s));
    QCOMPARE(s.inFlight(), 300);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requestsReceived(u"/never"_s), 300, 20000);
    QCOMPARE(m_server->connectionsOpen(), 300);
    // One manager per core, and one per 128 connections.
    QCOMPARE(s.managerCount(), std::max(std::min(QThread::idealThreadCount(), 50), (300 + 127) / 128));
    NetworkSession::Control::abortAll(s);
    QCOMPARE(ledger.activeCount(Svc), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    NetworkSession::Control::close(s);
}

void TestNetworkConcurrency::rateLimitSpacesRequests()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.ratePerSecond = 20;
    o.rateBurst = 1;
    NetworkSession s(Svc, &ledger, o);
    QElapsedTimer t;
    t.start();
    const Outcomes outs = getMany(s, 5, m_server->url(u"/fast"_s));
    QCOMPARE(s.inFlight(), 1);   // the burst
    QTRY_VERIFY(allDone(outs));
    // 4 more tokens at 20/s take at least 200 ms: a lower bound, never flaky.
    QVERIFY2(t.elapsed() >= 190, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 5);
}

void TestNetworkConcurrency::aRequestSentAgainGoesOutAsItIsNow()
{
    // send() keeps the request it last prepared, and each lane the request it last sent there,
    // and shares them with a call that brings the same request. One object changed between
    // calls, and two requests in turn over many lanes, must still go out as they are now.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions(24, 24));   // 4 pools: lanes 1 to 3 get a name
    QNetworkRequest r(m_server->url(u"/redirect?n=1&to=/echo"_s));
    auto followed = watch(s.send(r));
    QTRY_VERIFY(followed->done);
    QCOMPARE(followed->status, 200);
    r.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    auto manual = watch(s.send(r));
    QTRY_VERIFY(manual->done);
    QCOMPARE(manual->status, 302);   // the policy set since the last call
    r.setUrl(m_server->url(u"/echo?second"_s));
    r.setRawHeader("X-Berth-Test", "changed");
    auto changed = watch(s.send(r));
    QTRY_VERIFY(changed->done);
    QVERIFY2(changed->body.contains("\"query\":\"second\"") && changed->body.contains("\"x-berth-test\":\"changed\""),
             changed->body.constData());
    const QNetworkRequest a(m_server->url(u"/echo?a"_s)), b(m_server->url(u"/delay?ms=50"_s));
    Outcomes outs;
    for (int i = 0; i < 96; ++i)
        outs.append(watch(s.send(i % 2 ? b : a)));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 20000);
    for (int i = 0; i < 96; ++i) {
        QCOMPARE(outs.at(i)->status, 200);
        QCOMPARE(outs.at(i)->body.contains("\"query\":\"a\""), i % 2 == 0);
    }
    QCOMPARE(m_server->requestsReceived(u"/delay"_s), 48);
    QCOMPARE(m_server->connectionsOpen(), 24);   // all four pools took calls
}

void TestNetworkConcurrency::aHostsConnectionsSpreadOverTheCores()
{
    // One HTTP thread parses every byte of its connections: send() puts a host's 6 (the
    // default) on one manager per core, in pools of at least 3. Still 6 at the server, and a
    // light load stays on one manager.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto one = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_VERIFY(one->done);
    QCOMPARE(s.managerCount(), 1);
    const Outcomes outs = getMany(s, 12, m_server->url(u"/never"_s));
    QTRY_COMPARE(m_server->requestsReceived(u"/never"_s), 6);
    QCOMPARE(s.inFlight(), 6);
    QCOMPARE(m_server->connectionsOpen(), 6);
    QCOMPARE(s.managerCount(), QThread::idealThreadCount() >= 2 ? 2 : 1);
    NetworkSession::Control::abortAll(s);
    QVERIFY(allDone(outs));
    NetworkSession::Control::close(s);
}
QTEST_MAIN(TestNetworkConcurrency)
#include "tst_networkconcurrency.moc"
