// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The size cap of send()'s answers (network.maxResponseSize, CallOptions::maxResponseBytes),
// against a real HTTP server on 127.0.0.1 (HttpFixture, on its own thread): a body at the cap is
// taken whole, one over it ends the call with a clear error whether its length was announced or
// not, the reply never buffers more than the cap while the peer keeps sending, a call may raise,
// lower or lift its session's cap, and the call is not retried.
#include <berth/networksession.h>
#include <berth/workledger.h>

#include "httpfixture.h"
#include "platform.h"
#include "tests/support/networktestutil.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkLimits : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void defaultCapIs64MiB();
    void bodyAtTheCapIsTakenWhole_data();
    void bodyAtTheCapIsTakenWhole();
    void announcedLengthOverTheCapFails();
    void chunkedBodyOverTheCapFailsAndStaysBounded();
    void callOptionsOverrideTheSessionCap();
    void capFailureIsNotRetried();

private:
    /// A session whose sweep ticks every 100 ms (transfer timeout 800 ms), capped at \a cap.
    static NetworkOptions capped(qint64 cap)
    {
        NetworkOptions o = quickOptions();
        o.transferTimeout = 800ms;
        o.maxResponseBytes = cap;
        return o;
    }
    HttpFixture *m_server = nullptr;
};

void TestNetworkLimits::initTestCase()
{
    platform::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkLimits::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkLimits::init()
{
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkLimits::defaultCapIs64MiB()
{
    QCOMPARE(NetworkOptions().maxResponseBytes, 64ll * 1024 * 1024);
    QCOMPARE(CallOptions().maxResponseBytes, -1);   // the session's
}

void TestNetworkLimits::bodyAtTheCapIsTakenWhole_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<qint64>("size");
    QTest::newRow("announced length") << u"/fast?size=100000"_s << qint64(100000);
    QTest::newRow("chunked") << u"/trickle?bytes=100000&chunk=10000&every=1ms&chunked=1"_s << qint64(100000);
    QTest::newRow("empty body") << u"/fast?size=0"_s << qint64(0);
}

void TestNetworkLimits::bodyAtTheCapIsTakenWhole()
{
    QFETCH(QString, path);
    QFETCH(qint64, size);
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, capped(100000));
    auto out = watch(s.get(QNetworkRequest(m_server->url(path))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(out->status, 200);
    QCOMPARE(out->body.size(), size);
    QCOMPARE(m_server->requestsCompleted(), 1);
}

void TestNetworkLimits::announcedLengthOverTheCapFails()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, capped(100000));
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/fast?size=100001&token=s3cret"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->error, QNetworkReply::UnknownContentError);
    QCOMPARE(out->errorString, u"GET %1: the answer is larger than the call's cap of 100000 bytes (maxResponseSize): "
                               u"it announced 100001 bytes"_s
                                   .arg(s.redact(m_server->url(u"/fast?size=100001&token=s3cret"_s))));
    QVERIFY(!out->errorString.contains(u"s3cret"_s));
    QVERIFY(out->body.isEmpty());
    QCOMPARE(ledger.counts(Svc).completed, 1);   // the call ended; the failure is its own
}

void TestNetworkLimits::chunkedBodyOverTheCapFailsAndStaysBounded()
{
    // 16 MiB in chunks of 16 KiB every millisecond (at most 16 MB/s), no length announced: the
    // call ends at the sweep's first tick after the cap is passed (100 ms while a capped call is
    // in flight), long before the peer is done; without the cap the reply would hold all 16 MiB.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, capped(64 * 1024));
    NetworkCall *call = s.get(QNetworkRequest(m_server->url(u"/trickle?bytes=16777216&chunk=16384&every=1ms&chunked=1"_s)));
    auto out = watch(call);
    qint64 most = 0;
    QElapsedTimer t;
    t.start();
    while (!out->done && t.elapsed() < 10000) {
        QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
        if (!out->done && call->reply())
            most = std::max(most, call->reply()->bytesAvailable());
    }
    QVERIFY(out->done);
    QCOMPARE(out->error, QNetworkReply::UnknownContentError);
    static const QRegularExpression text(u"the call's cap of 64KiB \\(maxResponseSize\\): stopped after (\\d+) bytes$"_s);
    const auto m = text.match(out->errorString);
    QVERIFY2(m.hasMatch(), qPrintable(out->errorString));
    QVERIFY2(m.captured(1).toLongLong() > 64 * 1024, qPrintable(out->errorString));
    qInfo("the reply held at most %lld bytes; %s", most, qPrintable(m.captured(0)));
    QVERIFY2(most < 8 * 1024 * 1024, qPrintable(QString::number(most)));   // seen: 0.5-1 MiB on a loaded machine
    QVERIFY(out->body.isEmpty());
    // The server saw the client go before it had sent everything.
    QTRY_COMPARE(m_server->requestsAbandoned() + m_server->requestsAborted(), 1);
    QCOMPARE(m_server->requestsCompleted(), 0);
}

void TestNetworkLimits::callOptionsOverrideTheSessionCap()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, capped(1000));
    const QNetworkRequest big(m_server->url(u"/fast?size=5000"_s));
    CallOptions lifted;
    lifted.maxResponseBytes = 0;
    CallOptions raised;
    raised.maxResponseBytes = 5000;
    CallOptions lowered;
    lowered.maxResponseBytes = 10;
    auto session = watch(s.send(big));
    auto none = watch(s.send(big, "GET", {}, lifted));
    auto enough = watch(s.send(big, "GET", {}, raised));
    auto tiny = watch(s.send(QNetworkRequest(m_server->url(u"/fast?size=11"_s)), "GET", {}, lowered));
    QTRY_VERIFY_WITH_TIMEOUT(session->done && none->done && enough->done && tiny->done, 10000);
    QCOMPARE(session->error, QNetworkReply::UnknownContentError);
    QVERIFY2(session->errorString.contains(u"cap of 1000 bytes"_s), qPrintable(session->errorString));
    QCOMPARE(none->body.size(), 5000);
    QCOMPARE(enough->body.size(), 5000);
    QCOMPARE(tiny->error, QNetworkReply::UnknownContentError);
    QVERIFY2(tiny->errorString.contains(u"cap of 10 bytes"_s), qPrintable(tiny->errorString));
}

void TestNetworkLimits::capFailureIsNotRetried()
{
    WorkLedger ledger;
    NetworkOptions o = capped(1000);
    o.retry.attempts = 5;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/fast?size=2000"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->error, QNetworkReply::UnknownContentError);
    QCOMPARE(out->attempts, 1);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 1);
}

QTEST_MAIN(TestNetworkLimits)
#include "tst_networklimits.moc"
