// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession against a real HTTP server on 127.0.0.1 (HttpFixture, served from its own
// thread): every lifecycle transition, each retry rule, redaction, refusal while draining, the
// leak report, and that direct use of the manager is tracked as well.
#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include "config.h"
#include "httpfixture.h"
#include "httppoller.h"

#include <berth/serviceregistry.h>

#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPointer>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtNetwork/QSslKey>
#include <QtNetwork/QSslServer>
#include <QtNetwork/QSslSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;

namespace {
const QString Svc = u"svc"_s;

NetworkOptions quickOptions()
{
    NetworkOptions o;
    o.retry.base = 10ms;
    o.retry.cap = 2s;
    return o;
}

/// Waits for a call's finished() (the call deletes itself afterwards: read it in the handler).
struct Outcome
{
    bool done = false;
    int status = 0;
    QNetworkReply::NetworkError error = QNetworkReply::NoError;
    QString errorString;
    QByteArray body;
    int attempts = 0;
    bool sent = false;
    QByteArray retryAfter;
};

/// HTTPS on 127.0.0.1 with a certificate from tests/data, signed by a test CA that nothing trusts.
class TlsServer : public QSslServer
{
public:
    bool start()
    {
        QFile cert(QStringLiteral(BERTH_SOURCE_DIR "/tests/data/server.pem"));
        QFile key(QStringLiteral(BERTH_SOURCE_DIR "/tests/data/server.key"));
        if (!cert.open(QIODevice::ReadOnly) || !key.open(QIODevice::ReadOnly))
            return false;
        QSslConfiguration conf = QSslConfiguration::defaultConfiguration();
        conf.setLocalCertificate(QSslCertificate(cert.readAll()));
        conf.setPrivateKey(QSslKey(key.readAll(), QSsl::Rsa));
        setSslConfiguration(conf);
        connect(this, &QTcpServer::pendingConnectionAvailable, this, [this] {
            while (auto *socket = qobject_cast<QSslSocket *>(nextPendingConnection())) {
                ++connections;
                connect(socket, &QSslSocket::readyRead, socket, [this, socket] {
                    if (socket->readAll().contains("\r\n\r\n")) {
                        ++requests;
                        if (hold)
                            held.append(socket);
                        else
                            answer(socket);
                    }
                });
                connect(socket, &QSslSocket::disconnected, socket, &QObject::deleteLater);
            }
        });
        return listen(QHostAddress::LocalHost);
    }
    QUrl url(const QString &host = u"127.0.0.1"_s) const { return QUrl(u"https://%1:%2/"_s.arg(host).arg(serverPort())); }
    /// Answers the requests held so far (hold: requests wait until then, all open at once).
    void release()
    {
        for (const QPointer<QSslSocket> &socket : std::exchange(held, {}))
            if (socket)
                answer(socket);
    }
    bool hold = false;
    int connections = 0;   ///< encrypted connections accepted
    int requests = 0;

private:
    static void answer(QSslSocket *socket)
    {
        socket->write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        socket->disconnectFromHost();
    }
    QList<QPointer<QSslSocket>> held;
};

std::shared_ptr<Outcome> watch(NetworkCall *call);

using Outcomes = QList<std::shared_ptr<Outcome>>;

/// \a n GETs of \a url through \a s, watched.
Outcomes getMany(NetworkSession &s, int n, const QUrl &url)
{
    Outcomes outs;
    for (int i = 0; i < n; ++i)
        outs.append(watch(s.get(QNetworkRequest(url))));
    return outs;
}

bool allDone(const Outcomes &outs)
{
    return std::all_of(outs.cbegin(), outs.cend(), [](const auto &o) { return o->done; });
}

std::shared_ptr<Outcome> watch(NetworkCall *call)
{
    auto out = std::make_shared<Outcome>();
    QObject::connect(call, &NetworkCall::finished, call, [call, out] {
        out->done = true;
        out->status = call->httpStatus();
        out->error = call->error();
        out->errorString = call->errorString();
        out->body = call->body();
        out->attempts = call->attempts();
        out->sent = call->wasSent();
        out->retryAfter = call->header("Retry-After");
    });
    return out;
}
} // namespace

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
    void transferTimeoutFailsAStalledTransfer();
    void rateLimitSpacesRequests();
    void redirectChainFollowedAndCapped();
    void redirectAcrossOriginsLeavesCredentialsBehind();
    void redirectMethodRules();
    void redirectPolicyOfTheRequestWins();
    void redirectWhileDrainingIsFollowed();
    void redirectDecision_data();
    void redirectDecision();
    void httpsLanesVerifyAgainstTheHost();
    void resetMidBodyIsAnError();
    void cookieJarPersistsAcrossSessions();
    void diskCacheServesSecondRequest();
    void secretsNeverInLedgerOrErrors();
    void tlsVerifiedAgainstSystemCas();
    void caBundleAddsTrust();
    void ignoreSslErrorsCannotTurnVerificationOff();
    void redactUrl_data();
    void redactUrl();
    void retryAfterParsing_data();
    void retryAfterParsing();
    void backoffIsFullJitterUnderCap();
    void idempotentMethods();
    void contextSessionClosesInClose();
    void networkConfigIsValidated_data();
    void networkConfigIsValidated();
    void pollerConfigIsChecked_data();
    void pollerConfigIsChecked();

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
    QList<QNetworkReply *> replies;
    for (int i = 0; i < 10; ++i)
        replies.append(s.manager()->get(QNetworkRequest(m_server->url(u"/delay?ms=500"_s))));
    QTRY_COMPARE(m_server->requestsReceived(u"/delay"_s), 6);
    s.beginDrain();
    int aborted = 0;
    for (QNetworkReply *r : std::as_const(replies))
        aborted += r->isFinished() && r->error() == QNetworkReply::OperationCanceledError ? 1 : 0;
    QCOMPARE(aborted, 4);
    QTRY_VERIFY(std::all_of(replies.cbegin(), replies.cend(), [](QNetworkReply *r) { return r->isFinished(); }));
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

void TestNetworkSession::transferTimeoutFailsAStalledTransfer()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.transferTimeout = 300ms;
    o.retry.attempts = 1;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/never"_s))));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->error, QNetworkReply::TimeoutError);
    QVERIFY2(out->errorString.contains(u"transfer timeout"_s), qPrintable(out->errorString));
    QCOMPARE(ledger.counts(Svc).completed, 1);
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

void TestNetworkSession::redirectChainFollowedAndCapped()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/redirect?n=3"_s))));
    QTRY_VERIFY(out->done);
    QCOMPARE(out->status, 200);
    QCOMPARE(m_server->requestsReceived(u"/redirect"_s), 3);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 1);

    NetworkOptions o = quickOptions();
    o.maxRedirects = 2;
    NetworkSession capped(Svc, &ledger, o);
    auto tooMany = watch(capped.get(QNetworkRequest(m_server->url(u"/redirect?n=3"_s))));
    QTRY_VERIFY(tooMany->done);
    QCOMPARE(tooMany->error, QNetworkReply::TooManyRedirectsError);

    NetworkOptions none = quickOptions();
    none.redirects = NetworkOptions::Redirects::None;
    NetworkSession manual(Svc, &ledger, none);
    auto first = watch(manual.get(QNetworkRequest(m_server->url(u"/redirect?n=3"_s))));
    QTRY_VERIFY(first->done);
    QCOMPARE(first->status, 302);
}

namespace {
QJsonObject echoOf(const Outcome &o)
{
    return QJsonDocument::fromJson(o.body).object();
}
} // namespace

void TestNetworkSession::redirectAcrossOriginsLeavesCredentialsBehind()
{
    // The session follows its calls' redirects itself: same origin keeps the caller's
    // credentials, another origin (127.0.0.1 -> localhost) does not get them.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto request = [&](const QString &target) {
        QNetworkRequest r(m_server->url(u"/redirect?n=1&to="_s + QString::fromLatin1(QUrl::toPercentEncoding(target))));
        r.setRawHeader("Authorization", "Bearer s3cret");
        r.setRawHeader("Cookie", "sid=abc");
        r.setRawHeader("X-Trace", "kept");
        return r;
    };
    auto same = watch(s.get(request(u"/echo"_s)));
    auto other = watch(s.get(request(u"http://localhost:%1/echo"_s.arg(m_server->port()))));
    QTRY_VERIFY_WITH_TIMEOUT(same->done && other->done, 10000);
    QCOMPARE(same->status, 200);
    QCOMPARE(other->status, 200);
    const QJsonObject sameHeaders = echoOf(*same)[u"headers"_s].toObject();
    const QJsonObject otherHeaders = echoOf(*other)[u"headers"_s].toObject();
    QCOMPARE(sameHeaders[u"authorization"_s].toString(), u"Bearer s3cret"_s);
    QCOMPARE(sameHeaders[u"cookie"_s].toString(), u"sid=abc"_s);
    QVERIFY2(!otherHeaders.contains(u"authorization"_s), qPrintable(QString::fromUtf8(other->body)));
    QVERIFY2(!otherHeaders.contains(u"cookie"_s), qPrintable(QString::fromUtf8(other->body)));
    QCOMPARE(otherHeaders[u"x-trace"_s].toString(), u"kept"_s);
    QCOMPARE(otherHeaders[u"host"_s].toString(), u"localhost:%1"_s.arg(m_server->port()));
    QCOMPARE(m_server->requestsReceived(u"/echo"_s), 2);
    QCOMPARE(ledger.counts(Svc).completed, 2);
}

void TestNetworkSession::redirectMethodRules()
{
    // As Qt's own rules: 303 (and 301/302) turn a POST into a GET without a body, 307 and 308
    // send the same method and body again.
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    auto post = [&](int code) {
        QNetworkRequest r(m_server->url(u"/redirect?n=1&to=/echo&code=%1"_s.arg(code)));
        r.setHeader(QNetworkRequest::ContentTypeHeader, u"text/plain"_s);
        return watch(s.send(r, "POST", "payload"));
    };
    auto seeOther = post(303);
    auto temporary = post(307);
    auto permanent = post(308);
    QTRY_VERIFY_WITH_TIMEOUT(seeOther->done && temporary->done && permanent->done, 10000);
    QCOMPARE(echoOf(*seeOther)[u"method"_s].toString(), u"GET"_s);
    QCOMPARE(echoOf(*seeOther)[u"bodySize"_s].toInt(), 0);
    QVERIFY(!echoOf(*seeOther)[u"headers"_s].toObject().contains(u"content-type"_s));
    for (const auto &kept : {temporary, permanent}) {
        QCOMPARE(kept->status, 200);
        QCOMPARE(echoOf(*kept)[u"method"_s].toString(), u"POST"_s);
        QCOMPARE(echoOf(*kept)[u"body"_s].toString(), u"payload"_s);
    }
    QCOMPARE(seeOther->attempts, 1);   // a hop is not a retry

    // A HEAD stays a HEAD; the direct manager follows redirects as a QNetworkAccessManager does.
    auto head = watch(s.send(QNetworkRequest(m_server->url(u"/redirect?n=2"_s)), "HEAD"));
    QNetworkReply *direct = s.manager()->get(QNetworkRequest(m_server->url(u"/redirect?n=2"_s)));
    QSignalSpy directDone(direct, &QNetworkReply::finished);
    QVERIFY(directDone.wait(10000));
    QCOMPARE(direct->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
    QCOMPARE(direct->url().path(), u"/fast"_s);
    delete direct;
    QTRY_VERIFY(head->done);
    QCOMPARE(head->status, 200);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 2);
}

void TestNetworkSession::redirectPolicyOfTheRequestWins()
{
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QNetworkRequest manual(m_server->url(u"/redirect?n=2"_s));
    manual.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::ManualRedirectPolicy);
    QNetworkRequest sameOrigin(m_server->url(u"/redirect?n=1&to="_s
                                             + QString::fromLatin1(QUrl::toPercentEncoding(
                                                 u"http://localhost:%1/fast"_s.arg(m_server->port())))));
    sameOrigin.setAttribute(QNetworkRequest::RedirectPolicyAttribute, QNetworkRequest::SameOriginRedirectPolicy);
    QNetworkRequest capped(m_server->url(u"/redirect?n=3"_s));
    capped.setMaximumRedirectsAllowed(1);
    auto a = watch(s.get(manual));
    auto b = watch(s.get(sameOrigin));
    auto c = watch(s.get(capped));
    QTRY_VERIFY_WITH_TIMEOUT(a->done && b->done && c->done, 10000);
    QCOMPARE(a->status, 302);
    QCOMPARE(a->error, QNetworkReply::NoError);
    QCOMPARE(b->error, QNetworkReply::InsecureRedirectError);
    QVERIFY2(b->errorString.contains(u"another origin"_s), qPrintable(b->errorString));
    QCOMPARE(c->error, QNetworkReply::TooManyRedirectsError);
    QVERIFY2(c->errorString.contains(u"more than 1"_s), qPrintable(c->errorString));
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 0);
}

void TestNetworkSession::redirectWhileDrainingIsFollowed()
{
    // A redirect that arrives after the stop belongs to a request in flight: the drain lets it
    // finish. Nothing queued goes.
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.maxConcurrent = 1;
    NetworkSession s(Svc, &ledger, o);
    auto hop = watch(s.get(QNetworkRequest(m_server->url(u"/redirect?n=1&ms=300&to=/echo"_s))));
    auto queued = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_COMPARE(m_server->requestsReceived(u"/redirect"_s), 1);
    s.beginDrain();
    QTRY_VERIFY(queued->done);
    QVERIFY(!queued->sent);
    QTRY_VERIFY_WITH_TIMEOUT(hop->done, 10000);
    QCOMPARE(hop->status, 200);
    QCOMPARE(echoOf(*hop)[u"path"_s].toString(), u"/echo"_s);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 0);
    QCOMPARE(ledger.counts(Svc).completed, 1);
}

void TestNetworkSession::redirectDecision_data()
{
    QTest::addColumn<QString>("from");
    QTest::addColumn<int>("status");
    QTest::addColumn<QByteArray>("location");
    QTest::addColumn<QByteArray>("verb");
    QTest::addColumn<int>("policy");
    QTest::addColumn<QString>("to");        // empty: not followed
    QTest::addColumn<QByteArray>("nextVerb");
    QTest::addColumn<bool>("crossOrigin");
    QTest::addColumn<int>("error");
    const int noLessSafe = QNetworkRequest::NoLessSafeRedirectPolicy;
    const int sameOrigin = QNetworkRequest::SameOriginRedirectPolicy;
    const int manual = QNetworkRequest::ManualRedirectPolicy;
    const int ok = QNetworkReply::NoError;
    QTest::newRow("relative") << u"http://a/x/y"_s << 302 << QByteArray("z?q=1") << QByteArray("GET") << noLessSafe
                              << u"http://a/x/z?q=1"_s << QByteArray("GET") << false << ok;
    QTest::newRow("absolute path") << u"http://a:81/x"_s << 301 << QByteArray("/b") << QByteArray("GET") << noLessSafe
                                   << u"http://a:81/b"_s << QByteArray("GET") << false << ok;
    QTest::newRow("303 post") << u"http://a/"_s << 303 << QByteArray("/r") << QByteArray("POST") << noLessSafe
                              << u"http://a/r"_s << QByteArray("GET") << false << ok;
    QTest::newRow("302 put") << u"http://a/"_s << 302 << QByteArray("/r") << QByteArray("PUT") << noLessSafe
                             << u"http://a/r"_s << QByteArray("GET") << false << ok;
    QTest::newRow("307 post") << u"http://a/"_s << 307 << QByteArray("/r") << QByteArray("POST") << noLessSafe
                              << u"http://a/r"_s << QByteArray("POST") << false << ok;
    QTest::newRow("308 delete") << u"http://a/"_s << 308 << QByteArray("/r") << QByteArray("DELETE") << noLessSafe
                                << u"http://a/r"_s << QByteArray("DELETE") << false << ok;
    QTest::newRow("head stays") << u"http://a/"_s << 301 << QByteArray("/r") << QByteArray("HEAD") << noLessSafe
                                << u"http://a/r"_s << QByteArray("HEAD") << false << ok;
    QTest::newRow("upgrade") << u"http://a/"_s << 301 << QByteArray("https://a/") << QByteArray("GET") << noLessSafe
                             << u"https://a/"_s << QByteArray("GET") << true << ok;
    QTest::newRow("other host") << u"https://a/"_s << 302 << QByteArray("https://b/") << QByteArray("GET") << noLessSafe
                                << u"https://b/"_s << QByteArray("GET") << true << ok;
    QTest::newRow("default port") << u"https://a/"_s << 302 << QByteArray("https://A:443/p") << QByteArray("GET") << sameOrigin
                                  << u"https://a:443/p"_s << QByteArray("GET") << false << ok;
    QTest::newRow("downgrade") << u"https://a/"_s << 302 << QByteArray("http://a/") << QByteArray("GET") << noLessSafe
                               << QString() << QByteArray() << false << int(QNetworkReply::InsecureRedirectError);
    QTest::newRow("same-origin") << u"http://a/"_s << 302 << QByteArray("http://a:8080/") << QByteArray("GET") << sameOrigin
                                 << QString() << QByteArray() << false << int(QNetworkReply::InsecureRedirectError);
    QTest::newRow("ftp") << u"http://a/"_s << 302 << QByteArray("ftp://a/f") << QByteArray("GET") << noLessSafe
                         << QString() << QByteArray() << false << int(QNetworkReply::ProtocolUnknownError);
    QTest::newRow("manual") << u"http://a/"_s << 302 << QByteArray("/r") << QByteArray("GET") << manual
                            << QString() << QByteArray() << false << ok;
    QTest::newRow("no location") << u"http://a/"_s << 302 << QByteArray() << QByteArray("GET") << noLessSafe
                                 << QString() << QByteArray() << false << ok;
    QTest::newRow("304") << u"http://a/"_s << 304 << QByteArray("/r") << QByteArray("GET") << noLessSafe
                         << QString() << QByteArray() << false << ok;
}

void TestNetworkSession::redirectDecision()
{
    QFETCH(QString, from);
    QFETCH(int, status);
    QFETCH(QByteArray, location);
    QFETCH(QByteArray, verb);
    QFETCH(int, policy);
    QFETCH(QString, to);
    QFETCH(QByteArray, nextVerb);
    QFETCH(bool, crossOrigin);
    QFETCH(int, error);
    const net::Redirect r = net::redirectFor(QUrl(from), status, location, verb, QNetworkRequest::RedirectPolicy(policy));
    QCOMPARE(int(r.error), error);
    QCOMPARE(r.url, to.isEmpty() ? QUrl() : QUrl(to));
    QCOMPARE(r.verb, nextVerb);
    QCOMPARE(r.crossOrigin, crossOrigin);
    if (error != QNetworkReply::NoError)
        QVERIFY(!r.reason.isEmpty());
}

void TestNetworkSession::httpsLanesVerifyAgainstTheHost()
{
    // Pools of 6 connections to one HTTPS host, 3 lanes on each manager (one per core): lane 1's
    // peer name is the host, lane 2's the host in other letter case, and verification (and SNI)
    // accepts them. An IP literal has two lanes (no name, and itself): it needs more managers.
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    const int cores = QThread::idealThreadCount();
    if (cores > 16)
        QSKIP("too many cores for a quick test of 3 lanes per manager");
    const int pools = 2 * cores + 1;
    const int n = 6 * pools;
    for (const QString &host : {u"localhost"_s, u"127.0.0.1"_s}) {
        TlsServer tls;
        QVERIFY(tls.start());
        tls.hold = true;
        WorkLedger ledger;
        NetworkOptions o = quickOptions();
        o.caBundle = QStringLiteral(BERTH_SOURCE_DIR "/tests/data/ca.pem");
        o.connectionsPerHost = n;
        o.maxConcurrent = n;
        o.http2 = false;   // HTTP/2 would share one connection; here each request holds its own
        NetworkSession s(Svc, &ledger, o);
        Outcomes outs;
        for (int i = 0; i < n; ++i)
            outs.append(watch(s.get(QNetworkRequest(tls.url(host)))));
        QTRY_COMPARE_WITH_TIMEOUT(tls.requests, n, 20000);
        QCOMPARE(tls.connections, n);
        const int lanes = host == u"localhost"_s ? pools : 2;
        QCOMPARE(s.managerCount(), std::max((pools + lanes - 1) / lanes, std::min(cores, pools)));
        tls.release();
        QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 20000);
        for (const auto &out : std::as_const(outs)) {
            QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(host + u": "_s + out->errorString));
            QCOMPARE(out->body, QByteArray("ok"));
        }
    }
}

void TestNetworkSession::resetMidBodyIsAnError()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 2;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(m_server->url(u"/reset?after=100"_s))));
    QTRY_VERIFY(out->done);
    QVERIFY2(out->error != QNetworkReply::NoError, qPrintable(u"status %1, %2 bytes, received %3"_s.arg(out->status).arg(out->body.size()).arg(m_server->requestsReceived(u"/reset"_s))));
    QVERIFY2(out->attempts == 2, qPrintable(out->errorString));   // a connection reset is transient: retried once
    QCOMPARE(ledger.activeCount(Svc), 0);
}

void TestNetworkSession::cookieJarPersistsAcrossSessions()
{
    QTemporaryDir dir;
    const QString jar = dir.filePath(u"cookies.txt"_s);
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.cookieJar = jar;
    {
        NetworkSession s(Svc, &ledger, o);
        auto out = watch(s.get(QNetworkRequest(m_server->url(u"/cookie/set?sid=abc123"_s))));
        QTRY_VERIFY(out->done);
        QCOMPARE(out->status, 200);
        QVERIFY(!QFile::exists(jar));   // flushed in close, not before
        s.close();
        QVERIFY(QFile::exists(jar));
        QCOMPARE(QFile(jar).permissions() & (QFileDevice::ReadOther | QFileDevice::ReadGroup), QFileDevice::Permissions());
    }
    NetworkSession again(Svc, &ledger, o);
    auto out = watch(again.get(QNetworkRequest(m_server->url(u"/cookie/get"_s))));
    QTRY_VERIFY(out->done);
    const QJsonObject got = QJsonDocument::fromJson(out->body).object();
    QCOMPARE(got.value(u"cookies"_s).toObject().value(u"sid"_s).toString(), u"abc123"_s);
}

void TestNetworkSession::diskCacheServesSecondRequest()
{
    QTemporaryDir dir;
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.cacheDir = dir.filePath(u"cache"_s);
    NetworkSession s(Svc, &ledger, o);
    auto first = watch(s.get(QNetworkRequest(m_server->url(u"/cache?maxAge=60"_s))));
    QTRY_VERIFY(first->done);
    QCOMPARE(first->status, 200);
    auto second = watch(s.get(QNetworkRequest(m_server->url(u"/cache?maxAge=60"_s))));
    QTRY_VERIFY(second->done);
    QCOMPARE(second->body, first->body);
    QCOMPARE(m_server->requestsReceived(u"/cache"_s), 1);   // the second came from the disk cache
    s.close();
    QVERIFY(!QDir(o.cacheDir).entryList(QDir::Dirs | QDir::NoDotAndDotDot).isEmpty());
}

void TestNetworkSession::secretsNeverInLedgerOrErrors()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.redactQuery = {u"tenant"_s};
    o.retry.attempts = 1;
    NetworkSession s(Svc, &ledger, o);
    QUrl url = m_server->url(u"/status?code=500&api_key=K3Y&tenant=T3NANT&ok=visible"_s);
    url.setUserName(u"user"_s);
    url.setPassword(u"PA55"_s);
    QNetworkRequest req(url);
    req.setRawHeader("Authorization", "Bearer T0KEN");
    req.setRawHeader("Cookie", "sid=C00KIE");
    auto out = watch(s.get(req));
    const QString dump = ledger.dumpText(Svc) + QString::fromUtf8(QJsonDocument(ledger.dumpJson(Svc)).toJson());
    QTRY_VERIFY(out->done);
    const QString all = dump + out->errorString;
    for (const char *secret : {"K3Y", "T3NANT", "PA55", "T0KEN", "C00KIE"})
        QVERIFY2(!all.contains(QLatin1String(secret)), qPrintable(all));
    QVERIFY2(all.contains(u"ok=visible"_s), qPrintable(all));
    QVERIFY2(out->errorString.contains(u"HTTP 500"_s), qPrintable(out->errorString));
}

void TestNetworkSession::tlsVerifiedAgainstSystemCas()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    TlsServer tls;
    QVERIFY(tls.start());
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 1;
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(tls.url())));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QCOMPARE(out->error, QNetworkReply::SslHandshakeFailedError);
    QVERIFY2(out->errorString.contains(u"TLS verification failed"_s), qPrintable(out->errorString));
    QCOMPARE(out->status, 0);
}

void TestNetworkSession::caBundleAddsTrust()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    TlsServer tls;
    QVERIFY(tls.start());
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.caBundle = QStringLiteral(BERTH_SOURCE_DIR "/tests/data/ca.pem");
    NetworkSession s(Svc, &ledger, o);
    auto out = watch(s.get(QNetworkRequest(tls.url())));
    QTRY_VERIFY_WITH_TIMEOUT(out->done, 10000);
    QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
    QCOMPARE(out->status, 200);
    QCOMPARE(out->body, QByteArray("ok"));
}

void TestNetworkSession::ignoreSslErrorsCannotTurnVerificationOff()
{
    if (!QSslSocket::supportsSsl())
        QSKIP("no TLS backend");
    TlsServer tls;
    QVERIFY(tls.start());
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QNetworkReply *reply = s.manager()->get(QNetworkRequest(tls.url()));
    bool handlerRan = false;
    connect(reply, &QNetworkReply::sslErrors, reply, [&handlerRan, reply] {
        handlerRan = true;
        reply->ignoreSslErrors();   // what a careless service does
    });
    QSignalSpy done(reply, &QNetworkReply::finished);
    QVERIFY(done.wait(10000));
    QVERIFY(handlerRan);
    QVERIFY(reply->error() != QNetworkReply::NoError);
    QCOMPARE(reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 0);
    delete reply;
}

void TestNetworkSession::redactUrl_data()
{
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("expected");
    QTest::newRow("plain") << u"http://h/p?a=1"_s << u"http://h/p?a=1"_s;
    QTest::newRow("password") << u"https://u:pw@h/p"_s << u"https://u:***@h/p"_s;
    QTest::newRow("builtin key") << u"http://h/p?token=abc&x=1"_s << u"http://h/p?token=REDACTED&x=1"_s;
    QTest::newRow("case-insensitive") << u"http://h/p?Access_Token=abc"_s << u"http://h/p?Access_Token=REDACTED"_s;
    QTest::newRow("configured key") << u"http://h/p?tenant=abc"_s << u"http://h/p?tenant=REDACTED"_s;
    QTest::newRow("fragment dropped") << u"http://h/p#secret"_s << u"http://h/p"_s;
    QTest::newRow("encoded key") << u"http://h/p?api%5Fkey=abc"_s << u"http://h/p?api_key=REDACTED"_s;
}

void TestNetworkSession::redactUrl()
{
    QFETCH(QString, url);
    QFETCH(QString, expected);
    QCOMPARE(NetworkSession::redact(QUrl(url), NetworkSession::builtinRedactedQuery() + QStringList{u"tenant"_s}), expected);
}

void TestNetworkSession::retryAfterParsing_data()
{
    QTest::addColumn<QByteArray>("value");
    QTest::addColumn<int>("expectedMs");   // -1: unusable
    QTest::newRow("seconds") << QByteArray("120") << 120000;
    QTest::newRow("zero") << QByteArray("0") << 0;
    QTest::newRow("spaces") << QByteArray(" 5 ") << 5000;
    QTest::newRow("IMF-fixdate") << QByteArray("Sun, 06 Nov 1994 08:49:47 GMT") << 7000;
    QTest::newRow("RFC 850") << QByteArray("Sunday, 06-Nov-94 08:49:47 GMT") << 7000;
    QTest::newRow("asctime") << QByteArray("Sun Nov  6 08:49:47 1994") << 7000;
    QTest::newRow("in the past") << QByteArray("Sun, 06 Nov 1994 08:49:00 GMT") << 0;
    QTest::newRow("negative") << QByteArray("-5") << -1;
    QTest::newRow("garbage") << QByteArray("soon") << -1;
    QTest::newRow("empty") << QByteArray() << -1;
}

void TestNetworkSession::retryAfterParsing()
{
    QFETCH(QByteArray, value);
    QFETCH(int, expectedMs);
    const QDateTime now(QDate(1994, 11, 6), QTime(8, 49, 40), Qt::UTC);
    const auto got = net::parseRetryAfter(value, now);
    if (expectedMs < 0) {
        QVERIFY(!got);
    } else {
        QVERIFY(got);
        QCOMPARE(got->count(), expectedMs);
    }
}

void TestNetworkSession::backoffIsFullJitterUnderCap()
{
    QCOMPARE(net::backoffDelay(1, 100ms, 10s, 0.0).count(), 0);
    QCOMPARE(net::backoffDelay(1, 100ms, 10s, 0.999999).count(), 99);
    QCOMPARE(net::backoffDelay(3, 100ms, 10s, 0.5).count(), 200);     // ceiling 400
    QCOMPARE(net::backoffDelay(20, 100ms, 10s, 0.5).count(), 5000);   // ceiling capped at 10 s
    QCOMPARE(net::backoffDelay(200, 100ms, 10s, 1.0).count(), 10000);
}

void TestNetworkSession::idempotentMethods()
{
    for (const char *v : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "get"})
        QVERIFY2(net::isIdempotent(v), v);
    for (const char *v : {"POST", "PATCH", "CONNECT"})
        QVERIFY2(!net::isIdempotent(v), v);
}

void TestNetworkSession::contextSessionClosesInClose()
{
    WorkLedger ledger;
    ServiceContext ctx(Svc, u"t"_s, {}, &ledger);
    NetworkSession *s = ctx.network();
    QCOMPARE(ctx.network(), s);
    bool serviceClosedFirst = false;
    ctx.onClose([&] { serviceClosedFirst = s->state() == NetworkSession::State::Open; });
    QNetworkReply *r = s->manager()->get(QNetworkRequest(m_server->url(u"/never"_s)));
    QTRY_COMPARE(m_server->requestsReceived(u"/never"_s), 1);
    const QStringList errors = ctx.runCloseCallbacks();
    QVERIFY(errors.isEmpty());
    QVERIFY(serviceClosedFirst);   // the service's own close ran while its session was open
    QCOMPARE(s->state(), NetworkSession::State::Closed);
    QVERIFY(r->isFinished());
    // A closed session is replaced on next use (a restarted service gets a fresh one).
    QVERIFY(ctx.network() != s);
    QCOMPARE(ctx.network()->state(), NetworkSession::State::Open);
}

void TestNetworkSession::networkConfigIsValidated_data()
{
    QTest::addColumn<QByteArray>("network");
    QTest::addColumn<QString>("expected");
    QTest::newRow("ok") << QByteArray(R"({"transferTimeout": "5s", "retry": {"attempts": 5}})") << QString();
    QTest::newRow("tls off") << QByteArray(R"({"insecure": true})") << u"services[0].network.insecure: TLS certificate verification cannot be turned off"_s;
    QTest::newRow("unknown key") << QByteArray(R"({"maxConcurency": 4})") << u"did you mean \"maxConcurrent\""_s;
    QTest::newRow("bad duration") << QByteArray(R"({"transferTimeout": "5x"})") << u"services[0].network.transferTimeout: bad duration"_s;
    QTest::newRow("bad attempts") << QByteArray(R"({"retry": {"attempts": 0}})") << u"services[0].network.retry.attempts: expected a whole number from 1 to 100"_s;
    QTest::newRow("base over cap") << QByteArray(R"({"retry": {"base": "2m", "cap": "1m"}})") << u"base 2m exceeds cap 1m"_s;
    QTest::newRow("bad status") << QByteArray(R"({"retry": {"statuses": [200]}})") << u"retry.statuses[0]: expected an HTTP status"_s;
    QTest::newRow("rate") << QByteArray(R"({"rateLimit": {"perSecond": 0}})") << u"rateLimit.perSecond: expected a number of requests per second greater than 0"_s;
    QTest::newRow("redirects") << QByteArray(R"({"redirects": "always"})") << u"\"always\" is not one of"_s;
    QTest::newRow("ca missing") << QByteArray(R"({"caBundle": "/nonexistent/ca.pem"})") << u"network.caBundle: cannot read /nonexistent/ca.pem"_s;
    QTest::newRow("cache needs dir") << QByteArray(R"({"cache": {"maxMiB": 5}})") << u"network.cache: missing required key \"dir\""_s;
}

void TestNetworkSession::networkConfigIsValidated()
{
    QFETCH(QByteArray, network);
    QFETCH(QString, expected);
    ServiceRegistry types;
    types.add(HttpFixtureService::type());
    const QByteArray json = R"({"services": [{"name": "a", "type": "http-fixture", "network": )" + network + "}]}";
    const ConfigResult r = parseConfig(json, u"test.json"_s, types);
    if (expected.isEmpty()) {
        QVERIFY(r.ok());
        return;
    }
    QVERIFY(!r.ok());
    QVERIFY2(r.errors.first().toString().contains(expected), qPrintable(r.errors.first().toString()));
    QVERIFY2(r.errors.first().toString().startsWith(u"test.json:1:"_s), qPrintable(r.errors.first().toString()));
}

void TestNetworkSession::pollerConfigIsChecked_data()
{
    // What the schema's kinds cannot say, caught by `berth check` with file, line and key.
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<QString>("expected");   // empty: valid
    QTest::newRow("ok") << QByteArray(R"({"url": ["http://a/x", "https://b/"], "concurrency": 10, "method": "PATCH",
        "headers": {"X-Api-Key": "k"}})") << QString();
    QTest::newRow("scheme") << QByteArray(R"({"url": "ftp://a/x"})")
                            << u"services[0].config.url: \"ftp://a/x\" is not an http:// or https:// URL"_s;
    QTest::newRow("list item") << QByteArray(R"({"url": ["http://a/", "a.example/path?token=s3cret"]})")
                               << u"services[0].config.url: item 1: \"a.example/path?token=REDACTED\" is not an http"_s;
    QTest::newRow("no host") << QByteArray(R"({"url": "http:///x"})") << u"is not an http:// or https:// URL with a host"_s;
    QTest::newRow("empty list") << QByteArray(R"({"url": []})") << u"services[0].config.url: no URL to poll"_s;
    QTest::newRow("concurrency") << QByteArray(R"({"url": "http://a/", "concurrency": 0})")
                                 << u"services[0].config.concurrency: concurrency 0 is not from 1 to 100000"_s;
    QTest::newRow("method") << QByteArray(R"({"url": "http://a/", "method": "GET /x"})")
                            << u"services[0].config.method: \"GET /x\" is not an HTTP method"_s;
    QTest::newRow("header value") << QByteArray(R"({"url": "http://a/", "headers": {"X-A": 1}})")
                                  << u"services[0].config.headers: header \"X-A\": expected a string value"_s;
    QTest::newRow("header name") << QByteArray(R"({"url": "http://a/", "headers": {"Bad Name": "v"}})")
                                 << u"\"Bad Name\" is not a header name"_s;
    QTest::newRow("header break") << QByteArray(R"({"url": "http://a/", "headers": {"X-A": "v\r\nX-B: w"}})")
                                  << u"header \"X-A\": a value cannot contain a line break"_s;
}

void TestNetworkSession::pollerConfigIsChecked()
{
    QFETCH(QByteArray, config);
    QFETCH(QString, expected);
    ServiceRegistry types;
    types.add(HttpPollerService::type());
    const QByteArray json = "{\"services\": [\n  {\"name\": \"p\", \"type\": \"http-poller\",\n   \"config\": " + config + "}]}";
    const ConfigResult r = parseConfig(json, u"test.json"_s, types);
    if (expected.isEmpty()) {
        QVERIFY2(r.ok(), qPrintable(r.errors.isEmpty() ? QString() : r.errors.first().toString()));
        return;
    }
    QVERIFY(!r.ok());
    QCOMPARE(r.errors.size(), 1);
    QVERIFY2(r.errors.first().toString().contains(expected), qPrintable(r.errors.first().toString()));
    QVERIFY2(r.errors.first().toString().startsWith(u"test.json:3:"_s), qPrintable(r.errors.first().toString()));
}

QTEST_MAIN(TestNetworkSession)
#include "tst_networksession.moc"
