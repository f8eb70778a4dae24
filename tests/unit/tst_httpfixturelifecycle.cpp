// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixture over real sockets: starting only on loopback, a taken port, the counters and their
// reset, pending hooks, drain, 1 000 simultaneous connections, its own thread, and the
// http-fixture service in a real host. The endpoints are in tst_httpfixture.cpp.
#include "httpfixture.h"
#include "platform.h"
#include "tests/support/hostrun.h"
#include "tests/support/httpfixturetestutil.h"
#include "tests/support/logcapture.h"

#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QRegularExpression>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>
#include <QtNetwork/QTcpSocket>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using berth::testutil::LogCapture;
using namespace berth;
using namespace berth::fixturetest;

namespace {

/// A host running one http-fixture service, as the berth binary would.
struct HostRun : berth::test::HostRun
{
    /// Loads one http-fixture service named "web" with \a shutdown, starts it and returns the
    /// port it logged (a LogCapture must be active); empty if any step failed.
    QString startFixture(const QByteArray &shutdown)
    {
        if (!load(R"({"shutdown":)" + shutdown + R"(, "services":[{"name":"web","type":"http-fixture"}]})"))
            return {};
        QSignalSpy ready(host.get(), &HostProgress::allReady);
        host->start();
        if (ready.isEmpty() && !ready.wait(10000))
            return {};
        return LogCapture::find(QRegularExpression(u"listening on http://127\\.0\\.0\\.1:(\\d+)$"_s), 1);
    }
};

} // namespace

class TestHttpFixtureLifecycle : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void refusesAddressesOffLoopback_data();
    void refusesAddressesOffLoopback();
    void reportsATakenPort();
    void fastAndCounters();
    void arrivalTimesAndReset();
    void pendingHooksAndCancel();
    void drainLetsResponsesFinish();
    void thousandConnectionsOpenAtOnce_data();
    void thousandConnectionsOpenAtOnce();
    void ownThreadServesWhileCallerBlocks();
    void ownThreadStopsCleanlyWithWorkInFlight();

    void serviceDrainsDelayedResponses();
    void serviceCancelsNeverRequests();
    void serviceReportsTakenPort();
    void serviceRefusesOtherAddresses();

private:
    std::unique_ptr<HttpFixture> m_fixture;
    std::unique_ptr<QNetworkAccessManager> m_nam;
};

void TestHttpFixtureLifecycle::init()
{
    // The fixture and a client must not warn (a warning here is a bug: a thread destroyed while
    // running, a socket notifier on the wrong thread...). The host tests log on purpose.
    if (!QByteArray(QTest::currentTestFunction()).startsWith("service"))
        QTest::failOnWarning(QRegularExpression(u".*"_s));
    m_fixture = std::make_unique<HttpFixture>();
    QVERIFY2(m_fixture->start(), qPrintable(m_fixture->errorString()));
    m_nam = std::make_unique<QNetworkAccessManager>();
}

void TestHttpFixtureLifecycle::cleanup()
{
    m_nam.reset();
    m_fixture.reset();
}

void TestHttpFixtureLifecycle::refusesAddressesOffLoopback_data()
{
    QTest::addColumn<QHostAddress>("address");
    QTest::newRow("any IPv4") << QHostAddress(QHostAddress::AnyIPv4);
    QTest::newRow("any") << QHostAddress(QHostAddress::Any);
    QTest::newRow("another loopback address") << QHostAddress(u"127.0.0.2"_s);
    QTest::newRow("a LAN address") << QHostAddress(u"192.168.1.10"_s);
}

void TestHttpFixtureLifecycle::refusesAddressesOffLoopback()
{
    QFETCH(QHostAddress, address);
    HttpFixture f;
    QVERIFY(!f.start(address));
    QVERIFY(!f.startInThread(address));
    QVERIFY2(f.errorString().contains(u"127.0.0.1 or ::1 only"_s), qPrintable(f.errorString()));
    QVERIFY(!f.isListening());
}

void TestHttpFixtureLifecycle::reportsATakenPort()
{
    HttpFixture f;
    QVERIFY(!f.start(QHostAddress(QHostAddress::LocalHost), m_fixture->port()));
    QVERIFY2(f.errorString().contains(QString::number(m_fixture->port())), qPrintable(f.errorString()));
    QVERIFY(!f.isListening());
}

void TestHttpFixtureLifecycle::fastAndCounters()
{
    QVERIFY(m_fixture->isListening());
    QVERIFY(m_fixture->port() != 0);
    QCOMPARE(m_fixture->url(u"/fast"_s).host(), u"127.0.0.1"_s);
    const Result r = get(*m_nam, m_fixture->url(u"/fast"_s));
    QCOMPARE(r.status, 200);
    QCOMPARE(r.body, "ok\n");
    QCOMPARE(get(*m_nam, m_fixture->url(u"/fast?size=1000"_s)).body, QByteArray(1000, 'x'));
    QCOMPARE(m_fixture->requestsReceived(), 2);
    QCOMPARE(m_fixture->requestsReceived(u"/fast"_s), 2);
    QTRY_COMPARE(m_fixture->requestsCompleted(), 2);
    QCOMPARE(m_fixture->requestsAbandoned(), 0);
    QCOMPARE(m_fixture->requestsAborted(), 0);
    QCOMPARE(m_fixture->requestsPerPath(), (QHash<QString, qint64>{{u"/fast"_s, 2}}));
    QCOMPARE(m_fixture->connectionsAccepted(), 1);
    QCOMPARE(m_fixture->connectionsOpen(), 1);
    m_nam.reset();   // closes its connection
    QTRY_COMPARE(m_fixture->connectionsOpen(), 0);
    QCOMPARE(m_fixture->peakConnectionsOpen(), 1);
}

void TestHttpFixtureLifecycle::arrivalTimesAndReset()
{
    const qint64 before = QDateTime::currentMSecsSinceEpoch();
    for (int i = 0; i < 3; ++i)
        get(*m_nam, m_fixture->url(u"/fast"_s));
    const qint64 after = QDateTime::currentMSecsSinceEpoch();
    const QList<qint64> times = m_fixture->arrivalTimesMs();
    QCOMPARE(times.size(), 3);
    for (qsizetype i = 0; i < times.size(); ++i) {
        QVERIFY(times[i] >= before && times[i] <= after);
        QVERIFY(i == 0 || times[i] >= times[i - 1]);
    }
    m_fixture->reset();
    QCOMPARE(m_fixture->requestsReceived(), 0);
    QCOMPARE(m_fixture->requestsReceived(u"/fast"_s), 0);
    QCOMPARE(m_fixture->requestsCompleted(), 0);
    QCOMPARE(m_fixture->connectionsAccepted(), 0);
    QVERIFY(m_fixture->arrivalTimesMs().isEmpty());
    QVERIFY(m_fixture->requestsPerPath().isEmpty());
    QCOMPARE(m_fixture->connectionsOpen(), 1);   // the keep-alive connection stays
    QCOMPARE(m_fixture->peakConnectionsOpen(), 1);
}

void TestHttpFixtureLifecycle::pendingHooksAndCancel()
{
    QList<quint64> started, ended;   // before f: its destructor still runs the hooks
    QStringList descriptions;
    HttpFixture f;
    f.setPendingHooks([&](quint64 id, const QString &what) { started << id; descriptions << what; },
                      [&](quint64 id) { ended << id; });
    QVERIFY(f.start());
    // A raw client: QNAM would send the request again on a new connection once this one closes.
    QTcpSocket never;
    never.connectToHost(QHostAddress::LocalHost, f.port());
    never.write("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    QTRY_COMPARE_WITH_TIMEOUT(started.size(), 1, 10000);
    QCOMPARE(descriptions.value(0), u"GET /never"_s);
    QVERIFY(f.cancelPending(started[0]));
    QCOMPARE(ended, started);   // synchronously, as a ledger cancel function expects
    QVERIFY(!f.cancelPending(started[0]));
    QTRY_COMPARE_WITH_TIMEOUT(never.state(), QAbstractSocket::UnconnectedState, 10000);
    QCOMPARE(f.requestsAborted(), 1);
    QCOMPARE(f.pendingResponses(), 0);
    // A delayed response ends by itself.
    QCOMPARE(get(*m_nam, f.url(u"/delay?ms=20"_s)).status, 200);
    QCOMPARE(started.size(), 2);
    QCOMPARE(ended, started);
    QCOMPARE(descriptions.value(1), u"GET /delay?ms=20"_s);
}

void TestHttpFixtureLifecycle::drainLetsResponsesFinish()
{
    // A second keep-alive connection that is idle when the drain starts.
    QTcpSocket idle;
    idle.connectToHost(QHostAddress::LocalHost, m_fixture->port());
    QVERIFY(idle.waitForConnected(10000));
    std::unique_ptr<QNetworkReply> slow(m_nam->get(QNetworkRequest(m_fixture->url(u"/delay?ms=300"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(m_fixture->pendingResponses(), 1, 10000);
    QTRY_COMPARE(m_fixture->connectionsOpen(), 2);
    m_fixture->drain();
    QVERIFY(!m_fixture->isListening());
    QTRY_COMPARE_WITH_TIMEOUT(idle.state(), QAbstractSocket::UnconnectedState, 10000);
    QTRY_VERIFY_WITH_TIMEOUT(slow->isFinished(), 10000);
    QCOMPARE(slow->error(), QNetworkReply::NoError);
    QCOMPARE(slow->readAll(), "delayed\n");
    QCOMPARE(slow->rawHeader("Connection"), "close");
    QTRY_COMPARE(m_fixture->connectionsOpen(), 0);
    QCOMPARE(m_fixture->requestsCompleted(), 1);
    QTcpSocket late;
    late.connectToHost(QHostAddress::LocalHost, m_fixture->port());
    QVERIFY(!late.waitForConnected(10000));
}

void TestHttpFixtureLifecycle::thousandConnectionsOpenAtOnce_data()
{
    QTest::addColumn<bool>("ownThread");
    QTest::newRow("caller's thread") << false;
    QTest::newRow("own thread") << true;
}

void TestHttpFixtureLifecycle::thousandConnectionsOpenAtOnce()
{
    QFETCH(bool, ownThread);
    constexpr int N = 1000;
    if (const qint64 limit = platform::raiseOpenFileLimit(); limit < 2 * N + 300)
        QSKIP(qPrintable(u"needs ~2 300 open files for the clients and the server in one process; the hard "
                         u"limit here is %1 (raise it with `ulimit -Hn` or LimitNOFILE)"_s.arg(limit)));
    HttpFixture f;
    QVERIFY(ownThread ? f.startInThread() : f.start());
    std::vector<std::unique_ptr<QTcpSocket>> clients;
    for (int i = 0; i < N; ++i) {
        clients.push_back(std::make_unique<QTcpSocket>());
        clients.back()->connectToHost(QHostAddress::LocalHost, f.port());
    }
    QTRY_COMPARE_WITH_TIMEOUT(f.connectionsOpen(), N, 60000);
    QCOMPARE(f.peakConnectionsOpen(), N);
    QCOMPARE(f.connectionsAccepted(), N);
    for (auto &c : clients) {
        QTRY_COMPARE_WITH_TIMEOUT(c->state(), QAbstractSocket::ConnectedState, 30000);
        c->write("GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    QTRY_COMPARE_WITH_TIMEOUT(f.pendingResponses(), N, 60000);
    QCOMPARE(f.requestsReceived(u"/never"_s), N);
    QCOMPARE(f.arrivalTimesMs().size(), N);
    clients.clear();
    QTRY_COMPARE_WITH_TIMEOUT(f.connectionsOpen(), 0, 60000);
    QTRY_COMPARE_WITH_TIMEOUT(f.requestsAbandoned(), N, 10000);
    QCOMPARE(f.pendingResponses(), 0);
    QCOMPARE(f.peakConnectionsOpen(), N);
}

void TestHttpFixtureLifecycle::ownThreadServesWhileCallerBlocks()
{
    HttpFixture f;
    QVERIFY(f.startInThread());
    QVERIFY(f.isListening());
    // Blocking calls on this thread: only a server on another thread can answer them.
    QTcpSocket s;
    s.connectToHost(QHostAddress::LocalHost, f.port());
    QVERIFY(s.waitForConnected(10000));
    s.write("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    QByteArray in;
    QElapsedTimer t;
    t.start();
    while (!in.endsWith("ok\n") && t.elapsed() < 20000) {
        s.waitForReadyRead(1000);
        in += s.readAll();
    }
    QVERIFY2(in.startsWith("HTTP/1.1 200 OK"), in.constData());
    QCOMPARE(f.requestsReceived(), 1);
    QCOMPARE(f.connectionsOpen(), 1);
}

void TestHttpFixtureLifecycle::ownThreadStopsCleanlyWithWorkInFlight()
{
    auto f = std::make_unique<HttpFixture>();
    QVERIFY(f->startInThread());
    QCOMPARE(get(*m_nam, f->url(u"/fast"_s)).status, 200);
    std::unique_ptr<QNetworkReply> delayed(m_nam->get(QNetworkRequest(f->url(u"/delay?ms=30000"_s))));
    std::unique_ptr<QNetworkReply> trickle(m_nam->get(QNetworkRequest(f->url(u"/trickle?bytes=100000&every=10"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(f->pendingResponses(), 2, 10000);
    f->stop();
    QVERIFY(!f->isListening());
    QCOMPARE(f->pendingResponses(), 0);
    QCOMPARE(f->requestsAborted(), 2);
    QCOMPARE(f->connectionsOpen(), 0);
    QTRY_VERIFY_WITH_TIMEOUT(delayed->isFinished() && trickle->isFinished(), 10000);
    QVERIFY(delayed->error() != QNetworkReply::NoError);
    // It starts again, and its destructor stops a running thread too.
    QVERIFY(f->startInThread());
    QCOMPARE(get(*m_nam, f->url(u"/fast"_s)).status, 200);
    std::unique_ptr<QNetworkReply> never(m_nam->get(QNetworkRequest(f->url(u"/never"_s))));
    QTRY_COMPARE_WITH_TIMEOUT(f->pendingResponses(), 1, 10000);
    f.reset();
    QTRY_VERIFY_WITH_TIMEOUT(never->isFinished(), 10000);
}

// ---- the http-fixture service ------------------------------------------------------------------

void TestHttpFixtureLifecycle::serviceDrainsDelayedResponses()
{
    LogCapture log;
    HostRun run;
    const QString port = run.startFixture(R"({"deadline":"10s","drain":"5s","cancel":"1s"})");
    QVERIFY(!port.isEmpty());
    const QUrl url(u"http://127.0.0.1:%1/delay?ms=400"_s.arg(port));
    std::unique_ptr<QNetworkReply> reply(m_nam->get(QNetworkRequest(url)));
    QTRY_COMPARE_WITH_TIMEOUT(run.host->ledger().activeCount(u"web"_s), 1, 10000);
    QCOMPARE(run.host->ledger().snapshot(u"web"_s).value(0).name, u"GET /delay?ms=400"_s);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(reply->isFinished(), 10000);
    QCOMPARE(reply->error(), QNetworkReply::NoError);
    QCOMPARE(reply->readAll(), "delayed\n");
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 10000);
    QCOMPARE(run.host->exitCode(), 0);
    const WorkCounts c = run.host->ledger().counts(u"web"_s);
    QCOMPARE(c.drained, 1);
    QCOMPARE(c.cancelled, 0);
    QCOMPARE(c.leaked, 0);
    QTcpSocket late;
    late.connectToHost(QHostAddress::LocalHost, port.toUShort());
    QVERIFY(!late.waitForConnected(10000));
}

void TestHttpFixtureLifecycle::serviceCancelsNeverRequests()
{
    LogCapture log;
    HostRun run;
    const QString port = run.startFixture(R"({"deadline":"10s","drain":"200ms","cancel":"2s"})");
    QVERIFY(!port.isEmpty());
    std::vector<std::unique_ptr<QNetworkReply>> replies;
    for (int i = 0; i < 3; ++i)
        replies.emplace_back(m_nam->get(QNetworkRequest(QUrl(u"http://127.0.0.1:%1/never?i=%2"_s.arg(port).arg(i)))));
    QTRY_COMPARE_WITH_TIMEOUT(run.host->ledger().activeCount(u"web"_s), 3, 10000);
    run.lifetime.requestStop({u"test"_s, {}});
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 10000);
    QCOMPARE(run.host->exitCode(), 0);   // cancelling on time is a clean stop
    const WorkCounts c = run.host->ledger().counts(u"web"_s);
    QCOMPARE(c.cancelled, 3);
    QCOMPARE(c.leaked, 0);
    for (const auto &r : replies) {
        QTRY_VERIFY_WITH_TIMEOUT(r->isFinished(), 10000);
        QVERIFY(r->error() != QNetworkReply::NoError);
    }
}

void TestHttpFixtureLifecycle::serviceReportsTakenPort()
{
    HostRun run;
    const QByteArray port = QByteArray::number(m_fixture->port());
    QVERIFY(run.load(R"({"services":[{"name":"web","type":"http-fixture","config":{"port":)" + port + "}}]}"));
    run.host->start();
    QTRY_VERIFY_WITH_TIMEOUT(run.host->isFinished(), 10000);
    QCOMPARE(run.host->exitCode(), 1);
    QVERIFY2(run.host->report().contains(u"127.0.0.1:"_s + QString::fromLatin1(port)), qPrintable(run.host->report()));
}

void TestHttpFixtureLifecycle::serviceRefusesOtherAddresses()
{
    ServiceRegistry registry;
    registerBuiltinServices(registry);
    const ConfigResult r = parseConfig(
        R"({"services":[{"name":"web","type":"http-fixture","config":{"address":"0.0.0.0"}}]})", u"t.json"_s, registry);
    QVERIFY(!r.ok());
    QVERIFY(!parseConfig(R"({"services":[{"name":"web","type":"http-fixture","config":{"address":"::1","port":0}}]})",
                         u"t.json"_s, registry).errors.size());
}

QTEST_GUILESS_MAIN(TestHttpFixtureLifecycle)
#include "tst_httpfixturelifecycle.moc"
