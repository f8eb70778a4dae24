// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What happens when an attempt of a NetworkSession call fails, against a real HTTP server on
// 127.0.0.1 (HttpFixture, on its own thread): each retry rule (backoff, Retry-After in seconds
// and as an HTTP-date, the cap, idempotent methods only, the attempt limit, the waits as ledger
// entries that end on drain), and the transfer timeout (the session's stall sweep for send(),
// Qt's timer for uploads and direct use). The rest of the session is in tst_networksession.cpp.
#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include "network/networksessioncontrol_p.h"
#include "httpfixture.h"
#include "platform.h"
#include "tests/support/networktestutil.h"
#include "tests/support/slack.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using berth::test::within;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkRetry : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

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
    void transferTimeoutEndsAStalledDirectReply_data();
    void transferTimeoutEndsAStalledDirectReply();
    void transferTimeoutSparesADirectTransferThatMoves();
    void callTimeoutEndsACallWhateverItIsDoing();
    void deadlineOfOneCallStopsItsRetries();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkRetry::initTestCase()
{
    platform::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkRetry::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkRetry::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkRetry::retriesTransientStatusWithBackoff()
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

void TestNetworkRetry::retryAfterSecondsIsHonoured()
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

void TestNetworkRetry::retryAfterHttpDateIsHonoured()
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

void TestNetworkRetry::retryAfterBeyondCapIsNotRetried()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());   // cap 2 s
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/flaky?key=d&fail=1&code=503&retryAfter=60"_s))));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 503);
    QCOMPARE(out->attempts, 1);
    QCOMPARE(out->retryAfter, QByteArray("60"));
}

void TestNetworkRetry::nonIdempotentNotRetriedUnlessAsked()
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

void TestNetworkRetry::attemptsAreCapped()
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

void TestNetworkRetry::retryWaitIsLedgerEntryAndEndsOnDrain()
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
    NetworkSession::Control::beginDrain(s);
    QVERIFY(out->done);          // at once
    QCOMPARE(out->status, 503);  // with its last answer
    QCOMPARE(ledger.activeCount(Svc), 0);
    QCOMPARE(ledger.counts(Svc).cancelled, 1);
    QCOMPARE(m_server->requestsReceived(u"/flaky"_s), 1);
}

/// A 300 ms transfer timeout, one attempt.
/// A stalled transfer ended \a took ms after it began: never before \a earliest (the timeout;
/// Qt's coarse timer may fire 5 % early, the sweep, every 300 / 8 ms, never does), and long
/// before 5 s (loose only for slow sanitized builds: 20 s would mean no timeout at all); the
/// ledger counts it as completed, as a stall is not a cancel.
static void endedAtTheTimeout(qint64 took, qint64 earliest, const WorkLedger &ledger)
{
    QVERIFY2(took >= earliest, qPrintable(QString::number(took)));
    QVERIFY2(took < within(5000), qPrintable(QString::number(took)));
    QCOMPARE(ledger.counts(Svc).completed, 1);
}

static NetworkOptions stallOptions()
{
    NetworkOptions o = quickOptions();
    o.transferTimeout = 300ms;
    o.retry.attempts = 1;
    return o;
}

void TestNetworkRetry::transferTimeoutFailsAStalledTransfer_data()
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

void TestNetworkRetry::transferTimeoutFailsAStalledTransfer()
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
    endedAtTheTimeout(took, body.isEmpty() ? 300 : 285, ledger);   // the upload: Qt's timer
}

void TestNetworkRetry::transferTimeoutSparesASlowTransferThatMoves()
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

void TestNetworkRetry::transferTimeoutEndsAStalledDirectReply_data()
{
    QTest::addColumn<QString>("path");
    QTest::addColumn<QByteArray>("body");
    QTest::addColumn<int>("ownTimeout");   // the request's own transfer timeout (ms), 0: none
    QTest::addColumn<int>("status");
    // A direct reply is read by its owner as it comes: the session's sweep watches Qt's
    // downloadProgress and the head. An upload, or a request with a timeout of its own, has
    // Qt's timer instead.
    QTest::newRow("no answer") << u"/never"_s << QByteArray() << 0 << 0;
    QTest::newRow("the body stops after the head") << u"/trickle?bytes=100&chunk=10&every=20s"_s << QByteArray() << 0
                                                  << 200;
    QTest::newRow("no answer to an upload") << u"/never"_s << QByteArray(64 * 1024, 'x') << 0 << 0;
    QTest::newRow("its own, longer timeout") << u"/never"_s << QByteArray() << 900 << 0;
}

void TestNetworkRetry::transferTimeoutEndsAStalledDirectReply()
{
    QFETCH(QString, path);
    QFETCH(QByteArray, body);
    QFETCH(int, ownTimeout);
    QFETCH(int, status);
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, stallOptions());
    QNetworkRequest request(m_server->url(path));
    if (!body.isEmpty())
        request.setHeader(QNetworkRequest::ContentTypeHeader, u"application/octet-stream"_s);
    if (ownTimeout > 0)
        request.setTransferTimeout(ownTimeout);
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QNetworkReply> reply(body.isEmpty() ? s.manager()->get(request) : s.manager()->post(request, body));
    QObject::connect(reply.get(), &QIODevice::readyRead, reply.get(), [r = reply.get()] { r->readAll(); });
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    QVERIFY(finished.wait(10000));
    const qint64 took = t.elapsed();
    QCOMPARE(reply->error(), QNetworkReply::OperationCanceledError);
    QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), status);
    const int timeout = ownTimeout > 0 ? ownTimeout : 300;
    endedAtTheTimeout(took, body.isEmpty() && ownTimeout == 0 ? timeout : timeout * 95 / 100, ledger);
}

void TestNetworkRetry::transferTimeoutSparesADirectTransferThatMoves()
{
    // Read by its owner as it comes, so nothing stays buffered: 10 bytes every 100 ms for 1 s,
    // never 300 ms without progress (Qt reports it at most every 100 ms).
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, stallOptions());
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QNetworkReply> reply(
        s.manager()->get(QNetworkRequest(m_server->url(u"/trickle?bytes=100&chunk=10&every=100"_s))));
    QByteArray got;
    QObject::connect(reply.get(), &QIODevice::readyRead, reply.get(), [&got, r = reply.get()] { got += r->readAll(); });
    QSignalSpy finished(reply.get(), &QNetworkReply::finished);
    QVERIFY(finished.wait(10000));
    QCOMPARE(reply->error(), QNetworkReply::NoError);
    got += reply->readAll();
    QCOMPARE(got.size(), 100);
    QVERIFY2(t.elapsed() >= 900, qPrintable(QString::number(t.elapsed())));
}

void TestNetworkRetry::callTimeoutEndsACallWhateverItIsDoing()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.callTimeout = 400ms;
    o.maxConcurrent = 1;
    NetworkSession s(Svc, &ledger, o);
    auto fast = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));   // done long before
    QTRY_VERIFY(fast->done);
    QCOMPARE(fast->status, 200);
    QElapsedTimer t;
    t.start();
    // In flight: a body that keeps moving for 3 s, so the transfer timeout never ends it.
    auto moving = watch(s.get(QNetworkRequest(m_server->url(u"/trickle?bytes=300&chunk=10&every=100ms"_s))));
    // Behind it in the session's queue (one at a time): it never leaves.
    auto queued = watch(s.get(QNetworkRequest(m_server->url(u"/fast?size=7"_s))));
    // Hold the thread, processing nothing, until both deadlines have passed, so both are due
    // when the session looks: the queued call must end before the one in flight frees its
    // connection (else the queue would send it). Left to run, a loaded machine can see the two
    // deadlines a moment apart.
    const qint64 bothDueAfter = t.elapsed() + 400 + 1;   // sent by now; the session counts whole ms
    while (t.elapsed() <= bothDueAfter)
        QThread::yieldCurrentThread();
    QTRY_VERIFY(moving->done && queued->done);
    QVERIFY2(t.elapsed() < within(2500), qPrintable(QString::number(t.elapsed())));
    QCOMPARE(moving->error, QNetworkReply::TimeoutError);
    QVERIFY2(moving->errorString.endsWith(u"/trickle?bytes=300&chunk=10&every=100ms: not done within its deadline "
                                          u"of 400 ms (attempt 1 was still in flight)"_s),
             qPrintable(moving->errorString));
    QCOMPARE(moving->attempts, 1);   // a deadline is not a reason to try again
    QCOMPARE(queued->error, QNetworkReply::TimeoutError);
    QVERIFY2(queued->errorString.endsWith(u"(never sent: it waited in the session's queue)"_s),
             qPrintable(queued->errorString));
    QVERIFY(!queued->sent);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 1);
    QTRY_COMPARE(m_server->requestsAbandoned(), 1);   // the trickle, cut off
    QVERIFY(ledger.dumpText().isEmpty() || !ledger.dumpText().contains(u"trickle"_s));
}

void TestNetworkRetry::deadlineOfOneCallStopsItsRetries()
{
    // A retry that would start after the call's deadline is not waited for: the call ends now,
    // with its last answer, and says why it was not retried.
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 5;
    o.retry.cap = 10s;
    NetworkSession s(Svc, &ledger, o);
    CallOptions one;
    one.deadline = 2500ms;
    QElapsedTimer t;
    t.start();
    // Retry-After: 3 s, past the deadline: one attempt, ended as soon as it is answered.
    auto out = watch(s.send(QNetworkRequest(m_server->url(u"/status?code=503&retryAfter=3"_s)), "GET", {}, one));
    QTRY_VERIFY(out->done);
    QVERIFY2(t.elapsed() < within(2500), qPrintable(QString::number(t.elapsed())));
    QCOMPARE(out->status, 503);
    QCOMPARE(out->attempts, 1);
    QVERIFY2(out->errorString.endsWith(u"(not retried: the next attempt would start after the call's deadline of 2500 ms)"_s),
             qPrintable(out->errorString));
    // Retry-After: 1 s with a 1.8 s deadline: the wait fits once, not twice.
    one.deadline = 1800ms;
    t.restart();
    auto twice = watch(s.send(QNetworkRequest(m_server->url(u"/status?code=503&retryAfter=1"_s)), "GET", {}, one));
    QTRY_VERIFY_WITH_TIMEOUT(twice->done, 5000);
    QCOMPARE(twice->attempts, 2);
    QCOMPARE(twice->status, 503);
    QVERIFY2(twice->errorString.endsWith(u"deadline of 1800 ms)"_s), qPrintable(twice->errorString));
    QVERIFY2(t.elapsed() >= 950, qPrintable(QString::number(t.elapsed())));
    QCOMPARE(m_server->requestsReceived(u"/status"_s), 3);
}

QTEST_MAIN(TestNetworkRetry)
#include "tst_networkretry.moc"
