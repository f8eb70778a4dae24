// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession's rules and security against real servers (HTTP on 127.0.0.1, HttpFixture): TLS
// verification against a local HTTPS server with a test CA, lanes over HTTPS, secrets kept out
// of the ledger and errors, a body cut short, and the state flushed in close (cookie jar, disk
// cache, the context's session). Redirects are in tst_networkredirect.cpp; lifecycle and limits
// in tst_networksession.cpp and tst_networkconcurrency.cpp; the pure rules and the config
// checks in tst_networkhelpers.cpp.
#include <berth/networksession.h>
#include <berth/servicecontext.h>
#include <berth/workledger.h>

#include "network/networksessioncontrol_p.h"
#include "config/config.h"
#include "httpfixture.h"
#include "httppoller.h"
#include "platform.h"
#include "service/servicecontext_p.h"
#include "tests/support/networktestutil.h"
#include "tests/support/prerequisite.h"

#include <berth/serviceregistry.h>

#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QPointer>
#include <QtCore/QThread>
#include <QtNetwork/QSslKey>
#include <QtNetwork/QSslServer>
#include <QtNetwork/QSslSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <utility>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

namespace {
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
} // namespace

class TestNetworkRules : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void httpsLanesVerifyAgainstTheHost();
    void secretsNeverInLedgerOrErrors();
    void resetMidBodyIsAnError();
    void cookieJarPersistsAcrossSessions();
    void diskCacheServesSecondRequest();
    void contextSessionClosesInClose();
    void tlsVerifiedAgainstSystemCas();
    void caBundleAddsTrust();
    void ignoreSslErrorsCannotTurnVerificationOff();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkRules::initTestCase()
{
    platform::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkRules::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkRules::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkRules::httpsLanesVerifyAgainstTheHost()
{
    // Pools of 6 connections to one HTTPS host, 3 lanes on each manager (one per core): lane 1's
    // peer name is the host, lane 2's the host in other letter case, and verification (and SNI)
    // accepts them. An IP literal has two lanes (no name, and itself): it needs more managers.
    BERTH_REQUIRE_TLS();
    // 2 x cores + 1 pools put 3 lanes on a manager whatever the core count (774 local TLS
    // connections on 64 cores: still a few seconds).
    const int cores = QThread::idealThreadCount();
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

void TestNetworkRules::secretsNeverInLedgerOrErrors()
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

void TestNetworkRules::tlsVerifiedAgainstSystemCas()
{
    BERTH_REQUIRE_TLS();
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

void TestNetworkRules::caBundleAddsTrust()
{
    BERTH_REQUIRE_TLS();
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

void TestNetworkRules::ignoreSslErrorsCannotTurnVerificationOff()
{
    BERTH_REQUIRE_TLS();
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

void TestNetworkRules::cookieJarPersistsAcrossSessions()
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
        NetworkSession::Control::close(s);
        QVERIFY(QFile::exists(jar));
        QCOMPARE(QFile(jar).permissions() & (QFileDevice::ReadOther | QFileDevice::ReadGroup), QFileDevice::Permissions());
    }
    NetworkSession again(Svc, &ledger, o);
    auto out = watch(again.get(QNetworkRequest(m_server->url(u"/cookie/get"_s))));
    QTRY_VERIFY(out->done);
    const QJsonObject got = QJsonDocument::fromJson(out->body).object();
    QCOMPARE(got.value(u"cookies"_s).toObject().value(u"sid"_s).toString(), u"abc123"_s);
}

void TestNetworkRules::diskCacheServesSecondRequest()
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
    NetworkSession::Control::close(s);
    QVERIFY(!QDir(o.cacheDir).entryList(QDir::Dirs | QDir::NoDotAndDotDot).isEmpty());
}

void TestNetworkRules::contextSessionClosesInClose()
{
    WorkLedger ledger;
    ServiceContext ctx(Svc, u"t"_s, {}, &ledger);
    NetworkSession *s = ctx.network();
    QCOMPARE(ctx.network(), s);
    bool serviceClosedFirst = false;
    ctx.onClose([&] { serviceClosedFirst = s->state() == NetworkSession::State::Open; });
    QNetworkReply *r = s->manager()->get(QNetworkRequest(m_server->url(u"/never"_s)));
    QTRY_COMPARE(m_server->requestsReceived(u"/never"_s), 1);
    const QStringList errors = ServiceContext::Control::runCloseCallbacks(ctx);
    QVERIFY(errors.isEmpty());
    QVERIFY(serviceClosedFirst);   // the service's own close ran while its session was open
    QCOMPARE(s->state(), NetworkSession::State::Closed);
    QVERIFY(r->isFinished());
    // A closed session is replaced on next use (a restarted service gets a fresh one).
    QVERIFY(ctx.network() != s);
    QCOMPARE(ctx.network()->state(), NetworkSession::State::Open);
}

void TestNetworkRules::resetMidBodyIsAnError()
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

QTEST_MAIN(TestNetworkRules)
#include "tst_networkrules.moc"
