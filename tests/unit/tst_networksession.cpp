// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession against a real HTTP server on 127.0.0.1 (HttpFixture, served from its own
// thread): every lifecycle transition, refusal while draining, the leak report, and that direct
// use of the manager is tracked as well. The limits (concurrency, rate) are in
// tst_networkconcurrency.cpp. Retries and the
// transfer timeout are in tst_networkretry.cpp; redirects, TLS, secrets, cookies, the disk
// cache and close in tst_networkrules.cpp; the pure rules and the configuration checks in
// tst_networkhelpers.cpp.
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
    void closeForProcessExitKeepsIdleConnectionsAndRefuses();
    void replyDeletedWhileRunningCountsAsCancelled();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkSession::initTestCase()
{
    platform::raiseOpenFileLimit();
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
    NetworkSession::Control::beginDrain(s);
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
    WorkLedger::Control::markStopping(ledger, Svc);
    NetworkSession::Control::beginDrain(s);
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
    NetworkSession::Control::beginDrain(s);
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
    NetworkSession::Control::beginDrain(s);
    QCOMPARE(ledger.activeCount(Svc), 5);
    NetworkSession::Control::abortAll(s);
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
    NetworkSession::Control::close(*s);
    QCOMPARE(s->state(), NetworkSession::State::Closed);
    QCOMPARE(s->managerCount(), 0);
    // The reply the service still holds is reported, with where it was started...
    const auto pending = ledger.snapshot(Svc);
    QCOMPARE(pending.size(), 1);
    QVERIFY2(pending.first().name.contains(u"never deleted"_s), qPrintable(pending.first().name));
    QVERIFY2(!pending.first().name.contains(u"s3cret"_s), qPrintable(pending.first().name));
    QVERIFY2(pending.first().origin.startsWith(u"tst_networksession.cpp:"_s), qPrintable(pending.first().origin));
    const auto leaked = WorkLedger::Control::closeService(ledger, Svc);
    QCOMPARE(leaked.size(), 1);
    QCOMPARE(ledger.counts(Svc).leaked, 1);
    // ... and the pointer is still valid: no crash, whatever the service does with it.
    QCOMPARE(kept->error(), QNetworkReply::NoError);
    QVERIFY(kept->url().isValid());
    delete kept;
    s.reset();
}

void TestNetworkSession::closeForProcessExitKeepsIdleConnectionsAndRefuses()
{
    // shutdown.fastExit: the process ends right after close, so close leaves the idle managers
    // (and their keep-alive connections) to the exit. The session is closed all the same: a
    // manager pointer a service kept refuses, and nothing more reaches the server. Where the
    // process goes on after all, destroying the session tears them down.
    WorkLedger ledger;
    const NetworkOptions o = quickOptions(12, 12);
    auto s = std::make_unique<NetworkSession>(Svc, &ledger, o);
    const Outcomes outs = getMany(*s, 12, m_server->url(u"/delay?ms=100"_s));
    QNetworkAccessManager *direct = s->manager();
    QNetworkReply *first = direct->get(QNetworkRequest(m_server->url(u"/fast"_s)));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs) && first->isFinished(), 10000);
    delete first;
    QCOMPARE(m_server->requestsCompleted(), 13);
    QCOMPARE(m_server->connectionsOpen(), 13);   // keep-alive: open and idle
    NetworkSession::Control::close(*s, NetworkSession::Control::Teardown::AtProcessExit);
    QCOMPARE(s->state(), NetworkSession::State::Closed);
    QCOMPARE(s->managerCount(), 0);
    QCOMPARE(ledger.activeCount(Svc), 0);
    // A connection made after the close reaches the server after any the close ended would
    // have: once the server has it, the 13 are counted as they stand.
    {
        const qint64 accepted = m_server->connectionsAccepted();
        QTcpSocket sentinel;
        sentinel.connectToHost(m_server->url(u"/"_s).host(), quint16(m_server->url(u"/"_s).port()));
        QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsAccepted(), accepted + 1, 10000);
        QCOMPARE(m_server->connectionsOpen(), 14);   // left to the exit, not closed one by one
        sentinel.abort();
        QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 13, 10000);
    }
    // The kept manager takes nothing new: refused with the session's words, never sent.
    QNetworkReply *late = direct->get(QNetworkRequest(m_server->url(u"/fast"_s)));
    QSignalSpy lateDone(late, &QNetworkReply::finished);
    QVERIFY(lateDone.wait(5000));
    QCOMPARE(late->error(), QNetworkReply::OperationCanceledError);
    QVERIFY2(late->errorString().contains(u"is closed and takes no new requests"_s), qPrintable(late->errorString()));
    const auto call = watch(s->get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_VERIFY(call->done);
    QVERIFY2(call->errorString.contains(u"host is stopping"_s), qPrintable(call->errorString));
    QCOMPARE(m_server->requestsReceived(), 13);
    QCOMPARE(ledger.activeCount(Svc), 0);
    delete late;
    // The process went on after all (a test, an embedding program): the destructor closes them.
    s.reset();
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 10000);
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
    NetworkSession::Control::close(s);
    QCOMPARE(ledger.activeCount(Svc), 0);
}

QTEST_MAIN(TestNetworkSession)
#include "tst_networksession.moc"

