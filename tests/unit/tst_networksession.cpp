// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession against a real HTTP server on 127.0.0.1 (HttpFixture, served from its own
// thread): every lifecycle transition, each retry against the server, refusal while draining,
// the leak report, the limits (concurrency, rate, transfer timeout), and that direct use of the
// manager is tracked as well. Redirects, TLS, secrets, cookies, the disk cache and close are in
// tst_networkrules.cpp; the pure rules and the configuration checks in tst_networkhelpers.cpp.
#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include "httpfixture.h"
#include "networktestutil.h"

#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkSession : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void sendCompletesAndIsALedgerEntry();
    void directManagerUseIsTracked();
    void everyMethodReachesTheServer();
    void ledgerShowsBytesSoFar();
    void refusedWhileDrainingWithAClearError();
    void drainLetsInFlightFinishAndNeverSendsTheQueue();
    void drainCancelsDirectRequestsQtHeldBack();
    void abortAllAbortsWhatIsInFlight();
    void closeReportsUndeletedReplyAsLeakWithoutCrash();
    void replyDeletedWhileRunningCountsAsCancelled();
    void concurrencyCapQueuesInTheSession();
    void manyConnectionsToOneHostAreReallyOpen();
    void retriesTransientStatusWithBackoff();
    void retryAfterSecondsIsHonoured();
    void retryAfterHttpDateIsHonoured();
    void retryAfterBeyondCapIsNotRetried();
    void nonIdempotentNotRetriedUnlessAsked();
    void attemptsAreCapped();
    void retryWaitIsLedgerEntryAndEndsOnDrain();
    void transferTimeoutFailsAStalledTransfer_data();
    void transferTimeoutFailsAStalledTransfer();
    void transferTimeoutSparesASlowTransferThatMoves();
    void transferTimeoutEndsAStalledDirectReply();
    void rateLimitSpacesRequests();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkSession::initTestCase()
{
    HttpFixture::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkSession::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkSession::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkSession::sendCompletesAndIsALedgerEntry()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/delay?ms=300"_s))));
    QTRY_COMPARE(ledger.activeCount(Svc), 1);
    const auto entries = ledger.snapshot(Svc);
    QCOMPARE(entries.size(), 1);
    QCOMPARE(entries.first().kind, u"reply"_s);
    QVERIFY2(entries.first().name.startsWith(u"GET http://127.0.0.1:"_s), qPrintable(entries.first().name));
    QVERIFY2(entries.first().origin.startsWith(u"tst_networksession.cpp:"_s), qPrintable(entries.first().origin));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 200);
    QCOMPARE(out->error, QNetworkReply::NoError);
    QCOMPARE(out->attempts, 1);
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).completed, 1);
    QCOMPARE(m_server->requestsReceived(u"/delay"_s), 1);
}

void TestNetworkSession::directManagerUseIsTracked()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QNetworkReply *reply = s.manager()->get(QNetworkRequest(m_server->url(u"/delay?ms=200"_s)));
    QCOMPARE(ledger.activeCount(Svc), 1);
    const WorkEntry e = ledger.snapshot(Svc).first();
    QCOMPARE(e.kind, u"reply"_s);
    QVERIFY(e.name.contains(u"/delay?ms=200"_s));
    QVERIFY2(e.origin.startsWith(u"tst_networksession.cpp:"_s), qPrintable(e.origin));
    QCOMPARE(s.inFlight(), 1);
    QSignalSpy finished(reply, &QNetworkReply::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).completed, 1);
    QCOMPARE(s.inFlight(), 0);
    delete reply;
}

void TestNetworkSession::everyMethodReachesTheServer()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    for (const QByteArray verb : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
        QNetworkRequest req(m_server->url(u"/echo"_s));
        const QByteArray body = verb == "POST" || verb == "PUT" || verb == "PATCH" ? QByteArray("payload") : QByteArray();
        if (!body.isEmpty())
            req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("text/plain"));
        auto out = watch(s.send(req, verb, body));
        QTRY_VERIFY2_WITH_TIMEOUT(out->done, verb.constData(), 10000);
        QVERIFY2(out->status == 200, verb.constData());
        if (verb != "HEAD") {
            const QJsonObject echo = QJsonDocument::fromJson(out->body).object();
            QCOMPARE(echo.value(u"method"_s).toString(), QString::fromLatin1(verb));
            QCOMPARE(echo.value(u"body"_s).toString().toUtf8(), body);
        }
    }
    QCOMPARE(m_server->requestsReceived(u"/echo"_s), 7);
}

void TestNetworkSession::ledgerShowsBytesSoFar()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/trickle?bytes=2000&chunk=100&every=50ms"_s))));
    QTRY_VERIFY_WITH_TIMEOUT((ledger.refresh(), !ledger.snapshot(Svc).isEmpty() && ledger.snapshot(Svc).first().bytes >= 300), 10000);
    QVERIFY(!out->done);
    QVERIFY2(ledger.dumpText(Svc).contains(u"bytes so far"_s), qPrintable(ledger.dumpText(Svc)));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 20000);
    QCOMPARE(out->body.size(), 2000);

    // Direct use: what has arrived and is not read yet.
    QNetworkReply *reply = s.manager()->get(QNetworkRequest(m_server->url(u"/trickle?bytes=2000&chunk=100&every=50ms"_s)));
    QTRY_VERIFY_WITH_TIMEOUT((ledger.refresh(), !ledger.snapshot(Svc).isEmpty() && ledger.snapshot(Svc).first().bytes >= 300), 10000);
    QVERIFY(reply->isRunning());
    QSignalSpy finished(reply, &QNetworkReply::finished);
    QVERIFY(finished.wait(20000));
    QCOMPARE(reply->readAll().size(), 2000);
    delete reply;
}

void TestNetworkSession::refusedWhileDrainingWithAClearError()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    s.beginDrain();
    QCOMPARE(s.state(), NetworkSession::State::Draining);

    NetworkCall *call = s.get(QNetworkRequest(m_server->url(u"/fast"_s)));
    QVERIFY(call->isFinished());
    QSignalSpy callFinished(call, &NetworkCall::finished);
    QCOMPARE(callFinished.size(), 0);   // never from inside send()
    QVERIFY(callFinished.wait(5000));
    QCOMPARE(callFinished.size(), 1);

    QNetworkReply *reply = s.manager()->get(QNetworkRequest(m_server->url(u"/fast"_s)));
    QSignalSpy replyFinished(reply, &QNetworkReply::finished);
    QCOMPARE(replyFinished.size(), 0);
    QVERIFY(replyFinished.wait(5000));
    QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
    QVERIFY2(reply->errorString().contains(u"the host is stopping"_s), qPrintable(reply->errorString()));
    QVERIFY2(reply->errorString().contains(u"\"svc\""_s), qPrintable(reply->errorString()));
    delete reply;
    QCOMPARE(m_server->requestsReceived(), 0);
    QCOMPARE(ledger.activeCount(Svc), 0);
}

void TestNetworkSession::drainLetsInFlightFinishAndNeverSendsTheQueue()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.maxConcurrent = 3;
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 8, m_server->url(u"/delay?ms=400"_s));
    QCOMPARE(s.inFlight(), 3);
    QCOMPARE(s.queued(), 5);
    QTRY_COMPARE(m_server->requestsReceived(u"/delay"_s), 3);
    ledger.markStopping(Svc);
    s.beginDrain();
    QCOMPARE(s.queued(), 0);
    // The five that never left finish at once as cancelled, unsent; the three in flight drain.
    QTRY_VERIFY(allDone(outs));
    int ok = 0, unsent = 0;
    for (const auto &out : std::as_const(outs)) {
        if (out->status == 200)
            ++ok;
        if (!out->sent) {
            ++unsent;
            QCOMPARE(out->error, QNetworkReply::OperationCanceledError);
            QVERIFY2(out->errorString.contains(u"never"_s) || out->errorString.contains(u"before it was sent"_s),
                     qPrintable(out->errorString));
        }
    }
    QCOMPARE(ok, 3);
    QCOMPARE(unsent, 5);
    QCOMPARE(ledger.counts(Svc).drained, 3);
    QCOMPARE(ledger.counts(Svc).cancelled, 5);
    QCOMPARE(m_server->requestsReceived(u"/delay"_s), 3);   // counted at the server
    QTRY_COMPARE(m_server->requestsCompleted(), 3);
}

void TestNetworkSession::drainCancelsDirectRequestsQtHeldBack()
{
    // Direct use of one manager: Qt sends 6 per host and holds the rest in its own queue.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    const QList<QNetworkReply *> replies = getDirect(s, 10, m_server->url(u"/delay?ms=500"_s));
    QTRY_COMPARE(m_server->requestsReceived(u"/delay"_s), 6);
    s.beginDrain();
    int aborted = 0;
    for (QNetworkReply *r : std::as_const(replies))
        aborted += r->isFinished() && r->error() == QNetworkReply::OperationCanceledError ? 1 : 0;
    QCOMPARE(aborted, 4);
    QTRY_VERIFY(allFinished(replies));
    int ok = 0;
    for (QNetworkReply *r : std::as_const(replies))
        ok += r->error() == QNetworkReply::NoError ? 1 : 0;
    QCOMPARE(ok, 6);
    QCOMPARE(m_server->requestsReceived(u"/delay"_s), 6);
    qDeleteAll(replies);
}

void TestNetworkSession::abortAllAbortsWhatIsInFlight()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    const Outcomes outs = getMany(s, 4, m_server->url(u"/never"_s));
    QNetworkReply *direct = s.manager()->get(QNetworkRequest(m_server->url(u"/never"_s)));
    QTRY_COMPARE(m_server->requestsReceived(u"/never"_s), 5);
    s.beginDrain();
    QCOMPARE(ledger.activeCount(Svc), 5);
    s.abortAll();
    QCOMPARE(s.state(), NetworkSession::State::Aborting);
    // abort() finishes synchronously: nothing is pending once abortAll() returns.
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(s.inFlight(), 0);
    QCOMPARE(ledger.counts(Svc).cancelled, 5);
    QVERIFY(direct->isFinished());
    QCOMPARE(direct->error(), QNetworkReply::OperationCanceledError);
    QTRY_VERIFY(allDone(outs));
    for (const auto &out : std::as_const(outs)) {
        QCOMPARE(out->error, QNetworkReply::OperationCanceledError);
        QVERIFY2(out->errorString.contains(u"aborted"_s), qPrintable(out->errorString));
    }
    QTRY_COMPARE(m_server->requestsAbandoned(), 5);   // the server saw them go
    delete direct;
}

void TestNetworkSession::closeReportsUndeletedReplyAsLeakWithoutCrash()
{
    WorkLedger ledger;
    auto s = std::make_unique<NetworkSession>(Svc, &ledger, quickOptions());
    QNetworkReply *kept = s->manager()->get(QNetworkRequest(m_server->url(u"/fast?token=s3cret"_s)));
    QSignalSpy done(kept, &QNetworkReply::finished);
    QVERIFY(done.wait(5000));
    QCOMPARE(ledger.activeCount(Svc), 0);
    s->close();
    QCOMPARE(s->state(), NetworkSession::State::Closed);
    QCOMPARE(s->managerCount(), 0);
    // The reply the service still holds is reported, with where it was started...
    const auto pending = ledger.snapshot(Svc);
    QCOMPARE(pending.size(), 1);
    QVERIFY2(pending.first().name.contains(u"never deleted"_s), qPrintable(pending.first().name));
    QVERIFY2(!pending.first().name.contains(u"s3cret"_s), qPrintable(pending.first().name));
    QVERIFY2(pending.first().origin.startsWith(u"tst_networksession.cpp:"_s), qPrintable(pending.first().origin));
    const auto leaked = ledger.closeService(Svc);
    QCOMPARE(leaked.size(), 1);
    QCOMPARE(ledger.counts(Svc).leaked, 1);
    // ... and the pointer is still valid: no crash, whatever the service does with it.
    QCOMPARE(kept->error(), QNetworkReply::NoError);
    QVERIFY(kept->url().isValid());
    delete kept;
    s.reset();
}

void TestNetworkSession::replyDeletedWhileRunningCountsAsCancelled()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QNetworkReply *reply = s.manager()->get(QNetworkRequest(m_server->url(u"/never"_s)));
    QTRY_COMPARE(m_server->requestsReceived(u"/never"_s), 1);
    delete reply;
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).cancelled, 1);
    QCOMPARE(s.inFlight(), 0);
    s.close();
    QCOMPARE(ledger.activeCount(Svc), 0);
}

void TestNetworkSession::concurrencyCapQueuesInTheSession()
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

void TestNetworkSession::manyConnectionsToOneHostAreReallyOpen()
{
    // Qt 6.4 allows 6 connections per host per pool: 300 need 50 pools, which are lanes of a
    // few managers (HTTP threads: one per core, one per 128 connections), not 50 managers.
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.maxConcurrent = 300;
    o.connectionsPerHost = 300;
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 300, m_server->url(u"/never"_s));
    QCOMPARE(s.inFlight(), 300);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requestsReceived(u"/never"_s), 300, 20000);
    QCOMPARE(m_server->connectionsOpen(), 300);
    // One manager per core, and one per 128 connections.
    QCOMPARE(s.managerCount(), std::max(std::min(QThread::idealThreadCount(), 50), (300 + 127) / 128));
    s.abortAll();
    QCOMPARE(ledger.activeCount(Svc), 0);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    s.close();
}

void TestNetworkSession::retriesTransientStatusWithBackoff()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=a&fail=2&code=503"_s))));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 200);
    QCOMPARE(out->attempts, 3);
    QCOMPARE(m_server->requestsReceived(u"/flaky"_s), 3);
    QCOMPARE(ledger.counts(Svc).completed, 1);   // one call, one entry, however many attempts
}

void TestNetworkSession::retryAfterSecondsIsHonoured()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QElapsedTimer t;
    t.start();
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=b&fail=1&code=429&retryAfter=1"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->status, 200);
    QCOMPARE(out->attempts, 2);
    QVERIFY2(t.elapsed() >= 950, qPrintable(QString::number(t.elapsed())));   // a lower bound only
}

void TestNetworkSession::retryAfterHttpDateIsHonoured()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QElapsedTimer t;
    t.start();
    // The server renders "2 s from now" as an HTTP-date (whole seconds: at least ~1 s away).
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=c&fail=1&code=503&retryAfterDate=2"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->status, 200);
    QCOMPARE(out->attempts, 2);
    QVERIFY2(t.elapsed() >= 900, qPrintable(QString::number(t.elapsed())));
}

void TestNetworkSession::retryAfterBeyondCapIsNotRetried()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());   // cap 2 s
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=d&fail=1&code=503&retryAfter=60"_s))));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 503);
    QCOMPARE(out->attempts, 1);
    QCOMPARE(out->retryAfter, QByteArray("60"));
}

void TestNetworkSession::nonIdempotentNotRetriedUnlessAsked()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QNetworkRequest req(m_server->url(u"/flaky?key=e&fail=1&code=503"_s));
    req.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("text/plain"));
    auto post = watch(s.send(req, "POST", "x"));
    QTRY_VERIFY(post->done);
    QCOMPARE(post->status, 503);
    QCOMPARE(post->attempts, 1);

    QNetworkRequest req2(m_server->url(u"/flaky?key=f&fail=1&code=503"_s));
    req2.setHeader(QNetworkRequest::ContentTypeHeader, QByteArrayLiteral("text/plain"));
    CallOptions opts;
    opts.retryNonIdempotent = true;
    auto asked = watch(s.send(req2, "POST", "x", opts));
    QTRY_VERIFY(asked->done);
    QCOMPARE(asked->status, 200);
    QCOMPARE(asked->attempts, 2);
}

void TestNetworkSession::attemptsAreCapped()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 3;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=g&fail=10&code=502"_s))));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 502);
    QCOMPARE(out->attempts, 3);
    QVERIFY2(out->errorString.contains(u"HTTP 502"_s), qPrintable(out->errorString));
    QCOMPARE(m_server->requestsReceived(u"/flaky"_s), 3);
    // 404 is not worth a retry.
    auto notFound = watch(s.get(QNetworkRequest(m_server->url(u"/status?code=404"_s))));
    QTRY_VERIFY(notFound->done);
    QCOMPARE(notFound->attempts, 1);
}

void TestNetworkSession::retryWaitIsLedgerEntryAndEndsOnDrain()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.cap = 60s;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=h&fail=1&code=503&retryAfter=30"_s))));
    QTRY_VERIFY(!ledger.snapshot(Svc).isEmpty() && ledger.snapshot(Svc).first().kind == u"retry wait"_s);
    QVERIFY2(ledger.snapshot(Svc).first().name.contains(u"next in 30000 ms"_s), qPrintable(ledger.snapshot(Svc).first().name));
    QElapsedTimer t;
    t.start();
    s.beginDrain();
    QVERIFY(out->done);          // at once
    QCOMPARE(out->status, 503);  // with its last answer
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).cancelled, 1);
    QCOMPARE(m_server->requestsReceived(u"/flaky"_s), 1);
}

/// A 300 ms transfer timeout, one attempt.
static NetworkOptions stallOptions()
{
    NetworkOptions o = quickOptions();
    o.transferTimeout = 300ms;
    o.retry.attempts = 1;
    return o;
}

void TestNetworkSession::transferTimeoutFailsAStalledTransfer_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("verb");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("status");   // what had come of the answer when it stalled
    // GET: the session's sweep watches the reply. An upload keeps Qt's timer (only Qt sees its
    // progress): the session puts the timeout on the request, since its managers have none.
    QTest::newRow("no answer") << u"/never"_s << "GET"_ba << QByteArray() << 0;
    QTest::newRow("the body stops after the head") << u"/trickle?bytes=100&chunk=10&every=20s"_s << "GET"_ba
                                                  << QByteArray() << 200;
    QTest::newRow("no answer to an upload") << u"/never"_s << "POST"_ba << QByteArray(64 * 1024, 'x') << 0;
}

void TestNetworkSession::transferTimeoutFailsAStalledTransfer()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, verb);
    QFETCH(QByteArray, body);
    QFETCH(int, status);
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, stallOptions());
    QElapsedTimer t;
    t.start();
    QNetworkRequest request(m_server->url(path));
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/octet-stream"_s);
    auto out = watch(s.send(request, verb, body));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    const qint64 took = t.elapsed();
    QCOMPARE(out->error, QNetworkReply::TimeoutError);
    QVERIFY2(out->errorString.contains(u"transfer timeout"_s), qPrintable(out->errorString));
    QCOMPARE(out->status, status);
    // Never before the timeout (Qt's coarse timer, on the upload, may fire up to 5 % early);
    // the sweep looks every 300 / 8 ms. The upper bound is loose only for slow sanitized
    // builds: 20 s would mean the timeout did not work at all.
    QVERIFY2(took >= (body.isEmpty() ? 300 : 285), qPrintable(QString::number(took)));
    QVERIFY2(took < 5000, qPrintable(QString::number(took)));
    QCOMPARE(ledger.counts(Svc).completed, 1);
}

void TestNetworkSession::transferTimeoutSparesASlowTransferThatMoves()
{
    // 10 bytes every 100 ms for 1 s: much longer than the 300 ms timeout, but never 300 ms
    // without progress.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, stallOptions());
    QElapsedTimer t;
    t.start();
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/trickle?bytes=100&chunk=10&every=100"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->error, QNetworkReply::NoError);
    QCOMPARE(out->body.size(), 100);
    QVERIFY2(t.elapsed() >= 900, qPrintable(QString::number(t.elapsed())));
}

void TestNetworkSession::transferTimeoutEndsAStalledDirectReply()
{
    // A direct reply is read by its owner: Qt's own timer (set on the direct manager) ends it.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, stallOptions());
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QNetworkReply> reply(s.manager()->get(QNetworkRequest(m_server->url(u"/never"_s))));
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
    QVERIFY2(t.elapsed() >= 285, qPrintable(QString::number(t.elapsed())));   // a coarse timer: 5 % early at most
}

void TestNetworkSession::rateLimitSpacesRequests()
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

QTEST_MAIN(TestNetworkSession)
#include "tst_networksession.moc"
