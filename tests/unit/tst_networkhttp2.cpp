// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session over real HTTP/2: a TLS server on 127.0.0.1 that offers "h2" by ALPN
// (tests/h2server.py, hyper-h2) and falls back to HTTP/1.1 for a client that does not. Checked
// at the server: which protocol was spoken, every stream that arrived, answered or was reset.
#include "network/networksessioncontrol_p.h"
#include "engine/workledger_p.h"
#include "tests/support/h2testutil.h"

#include <berth/networksession.h>
#include <berth/workledger.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtNetwork/QSslSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <algorithm>

using namespace Qt::StringLiterals;
using namespace berth;
using namespace berth::nettest;
using namespace berth::h2test;


class TestNetworkHttp2 : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void http2WhereTheServerOffersIt();
    void http2OffSpeaksHttp1();
    void drainLetsEveryStreamFinish();
    void sendMultiplexesOverHttp2();
    void http1OverTlsSpreadsAfterTheFirstHandshake();
    void drainLetsDirectStreamsFinish_data();
    void drainLetsDirectStreamsFinish();
    void directStreamsBeyondQtsLimitDrainToo();
    void cancelResetsTheStreamsAndCloseTheConnection();
    void sendLearnsTheServersStreamLimit();
    void sendWaitsForTheSettingsOverASlowLink();

private:
    std::unique_ptr<H2Server> m_server;
};

void TestNetworkHttp2::init()
{
    startH2Server(m_server);
}

void TestNetworkHttp2::http2WhereTheServerOffersIt()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(out->body, QByteArray("h2"));
    // Direct use of the manager too.
    QNetworkReply *reply = s.manager()->get(QNetworkRequest(m_server->url(u"/fast"_s)));
    QSignalSpy finished(reply, &QNetworkReply::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(reply->readAll(), QByteArray("h2"));
    QVERIFY(reply->attribute(QNetworkRequest::Http2WasUsedAttribute).toBool());
    delete reply;
    QVERIFY(!m_server->protocols.isEmpty());
    QVERIFY2(std::all_of(m_server->protocols.cbegin(), m_server->protocols.cend(),
                         [](const QString &p) { return p == u"h2"_s; }),
             qPrintable(m_server->protocols.join(u' ')));
    QCOMPARE(ledger.activeCount(Svc), 0);
}

void TestNetworkHttp2::http2OffSpeaksHttp1()
{
    WorkLedger ledger;
    NetworkOptions o = h2Options();
    o.http2 = false;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(out->body, QByteArray("http/1.1"));
    QCOMPARE(m_server->protocols, QStringList{u"http/1.1"_s});
}

void TestNetworkHttp2::drainLetsEveryStreamFinish()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options(20));
    const Outcomes outs = getMany(s, 20, m_server->url(u"/delay?ms=400"_s));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 20, 10000);
    WorkLedger::Control::markStopping(ledger, Svc);
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 10000);
    for (const auto &out : outs) {
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
        QCOMPARE(out->body, QByteArray("h2"));
    }
    QCOMPARE(ledger.counts(Svc).drained, 20);
    QTRY_COMPARE(m_server->answered, 20);
    QCOMPARE(m_server->resets, 0);
    QCOMPARE(m_server->requests, 20);
}

void TestNetworkHttp2::sendMultiplexesOverHttp2()
{
    // 300 calls in flight to one HTTP/2 host: until the first handshake tells the protocol,
    // one pool (at most 6 in flight); then 100 streams on each pool, so a handful of
    // connections instead of one per 6 calls (50 under HTTP/1.1). Beyond what a connection
    // has carried, one stream at a time (sendLearnsTheServersStreamLimit): a thread round trip
    // each, slow on a loaded machine, so the answers come late enough for all 300 to be out.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options(300));
    QElapsedTimer t;
    t.start();
    const Outcomes outs = getMany(s, 300, m_server->url(u"/delay?ms=%1"_s.arg(SlowBuild ? 6000 : 2500)));
    QVERIFY(s.inFlight() <= 6);   // the probe: the protocol is not known yet
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 300, 15000);
    const qint64 allOut = t.elapsed();
    QCOMPARE(s.inFlight(), 300);
    const qsizetype connections = m_server->protocols.size();
    qInfo("300 in flight on %lld connection(s), %d manager(s), all at the server after %lld ms",
          qint64(connections), s.managerCount(), allOut);
    // Each manager has its own pools: at most 3 pools of 100 on it, and never one per 6.
    QVERIFY2(connections <= 3 * s.managerCount() && connections < 10, qPrintable(QString::number(connections)));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 30000);
    for (const auto &out : outs) {
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
        QCOMPARE(out->body, QByteArray("h2"));
    }
    QTRY_COMPARE(m_server->answered, 300);
    QCOMPARE(m_server->resets, 0);
}

void TestNetworkHttp2::http1OverTlsSpreadsAfterTheFirstHandshake()
{
    // A TLS server without HTTP/2: the first handshake says HTTP/1.1, and send() spreads the
    // waiting calls over pools of 6 connections, all open at once.
    m_server = std::make_unique<H2Server>();
    QString why;
    QVERIFY2(m_server->start(&why, -1), qPrintable(why));
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options(30));
    const Outcomes outs = getMany(s, 30, m_server->url(u"/delay?ms=500"_s));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 30, 10000);
    QCOMPARE(m_server->protocols.size(), 30);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 10000);
    for (const auto &out : outs)
        QCOMPARE(out->body, QByteArray("http/1.1"));
}

void TestNetworkHttp2::drainLetsDirectStreamsFinish_data()
{
    QTest::addColumn<bool>("warm");
    QTest::newRow("first requests of the session") << false;
    QTest::newRow("on a connection already made") << true;
}

void TestNetworkHttp2::drainLetsDirectStreamsFinish()
{
    // Direct use, more than 6 requests to one host: HTTP/1.1 would hold all but 6 back inside
    // Qt, but HTTP/2 sends them all at once, as streams of one connection. Every one of them
    // reached the server, so every one drains: none is cancelled as "never sent".
    QFETCH(bool, warm);
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options());
    if (warm) {
        QNetworkReply *first = s.manager()->get(QNetworkRequest(m_server->url(u"/fast"_s)));
        QSignalSpy firstDone(first, &QNetworkReply::finished);
        QVERIFY(firstDone.wait(10000));
        delete first;
    }
    const int before = m_server->requests;
    const QList<QNetworkReply *> replies = getDirect(s, 10, m_server->url(u"/delay?ms=400"_s));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests - before, 10, 10000);
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY_WITH_TIMEOUT(allFinished(replies), 10000);
    for (QNetworkReply *r : std::as_const(replies)) {
        QVERIFY2(r->error() == QNetworkReply::NoError, qPrintable(r->errorString()));
        QCOMPARE(r->readAll(), QByteArray("h2"));
    }
    QCOMPARE(ledger.counts(Svc).cancelled, 0);
    QTRY_COMPARE(m_server->answered, m_server->requests);
    QCOMPARE(m_server->resets, 0);
    qDeleteAll(replies);
}

void TestNetworkHttp2::directStreamsBeyondQtsLimitDrainToo()
{
    // Qt opens 100 streams at once on a connection, even where the server allows more (here
    // 200), and queues the rest in its HTTP/2 handler. Aborting a queued one can reset other
    // streams in Qt 6.4 (their replies then hang until the transfer timeout), so the session
    // leaves them be: they go out as streams free up and drain with the rest. Every one is
    // answered; none is reset.
    m_server = std::make_unique<H2Server>();
    QString why;
    QVERIFY2(m_server->start(&why, 200), qPrintable(why));
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options());
    const QList<QNetworkReply *> replies = getDirect(s, 110, m_server->url(u"/delay?ms=600"_s));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 100, 10000);   // Qt's own limit: the drain's
    // count below says the other 10 were not written
    WorkLedger::Control::markStopping(ledger, Svc);
    // The drain says so: they are not cancelled, they go out.
    QTest::ignoreMessage(QtInfoMsg, QRegularExpression(u"draining 110 request\\(s\\) in flight; 0 never sent .*; 10 direct "
                                                       u"request\\(s\\) not yet written to an HTTP/2 connection"_s));
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY_WITH_TIMEOUT(allFinished(replies), 10000);
    for (QNetworkReply *r : std::as_const(replies))
        QVERIFY2(r->error() == QNetworkReply::NoError, qPrintable(r->errorString()));
    QCOMPARE(ledger.counts(Svc).cancelled, 0);
    QCOMPARE(ledger.counts(Svc).drained, 110);
    QTRY_COMPARE(m_server->answered, 110);
    QCOMPARE(m_server->resets, 0);
    qDeleteAll(replies);
}

void TestNetworkHttp2::cancelResetsTheStreamsAndCloseTheConnection()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options());
    const Outcomes outs = getMany(s, 6, m_server->url(u"/never"_s));
    QNetworkReply *direct = s.manager()->get(QNetworkRequest(m_server->url(u"/never"_s)));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 7, 10000);
    NetworkSession::Control::beginDrain(s);
    NetworkSession::Control::abortAll(s);
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).cancelled, 7);
    QTRY_VERIFY(allDone(outs));
    QCOMPARE(direct->error(), QNetworkReply::OperationCanceledError);
    delete direct;
    // Aborting a stream resets it; the connection stays until close.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->resets + m_server->closedPending, 7, 10000);
    NetworkSession::Control::close(s);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->closed, m_server->protocols.size(), 10000);
    QCOMPARE(m_server->answered, 0);
}

void TestNetworkHttp2::sendLearnsTheServersStreamLimit()
{
    // A server that takes 10 streams at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS).
    // Qt keeps the limit to itself and queues the requests beyond it, where the session could
    // not cancel them when the host stops: they would go out after the stop. So send() learns
    // the limit (one request at a time beyond what a connection has been seen to carry, until
    // one has to wait for a stream) and never hands a connection more.
    m_server = std::make_unique<H2Server>();
    QString why;
    QVERIFY2(m_server->start(&why, 10), qPrintable(why));
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, h2Options(60));
    // 1. Learning: 40 calls, at most 60 in flight.
    const Outcomes first = getMany(s, 40, m_server->url(u"/delay?ms=150"_s));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(first), 15000);
    for (const auto &out : first)
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(m_server->resets, 0);
    // 2. 100 calls, 60 in flight: six connections of 10 streams, 40 calls in the session's
    // queue. At the stop those 40 are cancelled unsent and the 60 drain: the server sees no
    // request after the stop.
    const int before = m_server->requests;
    const Outcomes outs = getMany(s, 100, m_server->url(u"/delay?ms=%1"_s.arg(SlowBuild ? 5000 : 800)));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests - before, 60, 10000);   // the drain's count
    // below says the other 40 were never sent
    QCOMPARE(s.inFlight(), 60);
    WorkLedger::Control::markStopping(ledger, Svc);
    QTest::ignoreMessage(QtInfoMsg, QRegularExpression(u"draining 60 request\\(s\\) in flight; 40 never sent \\(40 queued call\\(s\\), 0 direct"_s));
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 20000);
    int answered = 0, cancelled = 0;
    for (const auto &out : outs) {
        if (out->error == QNetworkReply::NoError)
            ++answered;
        else if (out->error == QNetworkReply::OperationCanceledError && !out->sent)
            ++cancelled;
        else
            QFAIL(qPrintable(out->errorString));
    }
    QCOMPARE(answered, 60);
    QCOMPARE(cancelled, 40);
    // Whatever the session wrote reaches the server before its connections close: close them
    // and wait for the server to see every one closed, then count.
    const int connections = int(m_server->protocols.size());
    NetworkSession::Control::close(s, NetworkSession::Control::Teardown::Now);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->closed, connections, 10000);
    QCOMPARE(m_server->requests - before, 60);
    QCOMPARE(m_server->resets, 0);
    QVERIFY2(m_server->protocols.size() >= 6, qPrintable(m_server->protocols.join(u' ')));
}

void TestNetworkHttp2::sendWaitsForTheSettingsOverASlowLink()
{
    // A 10-stream server 300 ms of round trip away. Qt writes a new connection's first streams
    // before the server's SETTINGS can have arrived (one round trip after Qt's first write),
    // assuming 100 streams: probes sent in that time would go beyond 10, and the server would
    // close the connection. So probes wait as long as the host's TLS handshake took (at least
    // a round trip), not only 100 ms.
    m_server = std::make_unique<H2Server>();
    QString why;
    QVERIFY2(m_server->start(&why, 10, 300), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = h2Options(40);
    o.retry.attempts = 1;   // a call on a connection the server closed fails, and is seen
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 40, m_server->url(u"/delay?ms=100"_s));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 30000);
    for (const auto &out : outs)
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(m_server->errors, 0);
    QCOMPARE(m_server->closedPending, 0);
    QCOMPARE(m_server->requests, 40);
    QCOMPARE(m_server->resets, 0);
    // Never more than 10 streams on a connection: 40 calls at once need 4 connections or more.
    QVERIFY2(m_server->protocols.size() >= 4, qPrintable(m_server->protocols.join(u' ')));
}

QTEST_GUILESS_MAIN(TestNetworkHttp2)
#include "tst_networkhttp2.moc"
