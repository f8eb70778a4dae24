// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The real berth binary running http-poller at concurrency 1 000 against a real HTTP server on
// 127.0.0.1 (HttpFixture, in this test process, on its own thread), stopped by a real SIGTERM.
// What reached the network is counted at the server, not only in Berth.
#include "tests/support/berthprocess.h"
#include "httpfixture.h"
#include "platform.h"
#include "tests/support/httpproxy.h"
#include "tests/support/slack.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <algorithm>
#include <utility>

using namespace Qt::StringLiterals;
using berth::test::within;
using namespace berth;

namespace {
// A sanitized debug build needs ~20x the time to abort 1 000 replies and end 167 manager
// threads: there the budgets widen and only the outcome is checked, not the timing.
#ifdef BERTH_SANITIZED
constexpr bool Sanitized = true;
#else
constexpr bool Sanitized = false;
#endif

/// The poller's result lines in \a path, and how many of them contain \a text.
std::pair<QList<QByteArray>, qsizetype> linesWith(const QString &path, const QByteArray &text)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    const QList<QByteArray> lines = f.readAll().split('\n');
    return {lines, std::count_if(lines.cbegin(), lines.cend(), [&](const QByteArray &l) { return l.contains(text); })};
}
} // namespace

class TestE2eNetwork : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void sigtermDrainsAThousandInFlightPolls();
    void sigtermCancelsAThousandStalledPollsInCancel();
    void exitWithAndWithoutTeardown_data();
    void exitWithAndWithoutTeardown();
    void demoConfigPollsItsOwnServer();
    void secretsStayOutOfOutputLogAndDump();
    void pollsThroughTheConfiguredProxy();
    void callTimeoutBoundsEachPoll();
    void maxResponseSizeCapsEachPoll();

private:
    QByteArray pollerConfig(const QString &path, const QByteArray &shutdown, const QString &output) const;
    HttpFixture *m_server = nullptr;
};

void TestE2eNetwork::initTestCase()
{
    if (const qint64 limit = platform::raiseOpenFileLimit(); limit >= 0 && limit < 1500)
        QSKIP(qPrintable(u"1 000 connections at the server need ~1 500 open files; the hard limit here is %1 "
                         u"(raise it with `ulimit -Hn` or LimitNOFILE)"_s.arg(limit)));
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestE2eNetwork::cleanupTestCase()
{
    delete m_server;
}

void TestE2eNetwork::init()
{
    // Connections of an earlier test's process must be gone before counting starts.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

QByteArray TestE2eNetwork::pollerConfig(const QString &path, const QByteArray &shutdown,
                                        const QString &output) const
{
    return R"({"shutdown": )" + shutdown + R"(, "services": [{"name": "poller", "type": "http-poller",
        "config": {"url": ")" + m_server->url(path).toString().toUtf8() + R"(", "concurrency": 1000,
                   "interval": "0s", "output": ")" + output.toUtf8() + R"("}}]})";
}

void TestE2eNetwork::sigtermDrainsAThousandInFlightPolls()
{
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(pollerConfig(u"/delay?ms=200"_s,
                           R"({"deadline": "5s"})", out));   // the deadline alone: the budgets follow it
    QVERIFY(berth.waitReady());
    // All 1 000 really open at the server at once, and polling back to back. (Qt may keep one
    // more idle keep-alive connection per manager than it uses at the moment: open >= 1000.)
    QTRY_VERIFY2_WITH_TIMEOUT(m_server->peakConnectionsOpen() >= 1000 && m_server->requestsReceived() >= 2000,
                              qPrintable(u"open %1, received %2, peak %3, pending %4"_s.arg(m_server->connectionsOpen())
                                             .arg(m_server->requestsReceived()).arg(m_server->peakConnectionsOpen())
                                             .arg(m_server->pendingResponses())),
                              30000);

    const qint64 signalAt = QDateTime::currentMSecsSinceEpoch();
    QElapsedTimer sinceSignal;
    sinceSignal.start();
    berth.signal(SIGTERM);
    const int code = berth.finish(20000);
    QVERIFY2(code == 0, qPrintable(u"exit %1:\n%2"_s.arg(code).arg(berth.stdErr().right(6000))));
    const qint64 exitMs = sinceSignal.elapsed();
    qInfo("exit %lld ms after SIGTERM", exitMs);

    // Every request that reached the server completed; none was abandoned or aborted.
    QTRY_COMPARE(m_server->requestsCompleted(), m_server->requestsReceived());
    QCOMPARE(m_server->requestsAbandoned(), 0);
    QCOMPARE(m_server->requestsAborted(), 0);
    // None started after the signal. A poll berth sent just before its signal thread ran may
    // arrive a moment later: on a loaded machine (the suite runs tests in parallel on 2 cores)
    // that thread can wait tens of milliseconds for a CPU. So: nothing more than 100 ms after the
    // signal (the polls take 200 ms, and back to back would bring hundreds), and say how late the
    // latest one was.
    const QList<qint64> arrivals = m_server->arrivalTimesMs();
    const qint64 grace = within(100);
    const qint64 latest = arrivals.isEmpty() ? 0 : *std::max_element(arrivals.cbegin(), arrivals.cend()) - signalAt;
    const qint64 late = std::count_if(arrivals.cbegin(), arrivals.cend(), [&](qint64 t) { return t > signalAt + grace; });
    qInfo("latest arrival %lld ms after the signal", latest);
    QVERIFY2(late == 0, qPrintable(u"%1 request(s) arrived more than %2 ms after the signal (latest %3 ms)"_s
                                       .arg(late).arg(grace).arg(latest)));
    // Berth wrote one line per request, all answered 200.
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    qint64 lines = 0, ok = 0;
    while (!f.atEnd()) {
        const QJsonObject o = QJsonDocument::fromJson(f.readLine()).object();
        ++lines;
        ok += o.value(u"status"_s).toInt() == 200 ? 1 : 0;
    }
    QCOMPARE(lines, m_server->requestsReceived());
    QCOMPARE(ok, lines);
    QVERIFY2(berth.stdErr().contains(u"exit code 0: clean stop"_s), qPrintable(berth.stdErr().right(2000)));
    // shutdown.fastExit (the default): the 1 000 idle connections were left to the kernel,
    // which closed them at exit.
    QVERIFY2(berth.stdErr().contains(u"exit 0 without teardown (shutdown.fastExit)"_s), qPrintable(berth.stdErr().right(2000)));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 10000);
    // The issue's target is 250 ms; timing targets are measured in tests/benchmarks (median of
    // several runs). Here only a bound no loaded machine misses: well inside the drain budget.
    if (!Sanitized)
        QVERIFY2(exitMs < within(3000), qPrintable(QString::number(exitMs)));
}

void TestE2eNetwork::sigtermCancelsAThousandStalledPollsInCancel()
{
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(pollerConfig(u"/never"_s, Sanitized
                               ? R"({"deadline": "30s", "drain": "1s", "cancel": "25s", "reserve": "250ms"})"
                               : R"({"deadline": "2s", "drain": "1s", "cancel": "500ms", "reserve": "250ms"})", out));
    QVERIFY(berth.waitReady());
    QTRY_VERIFY_WITH_TIMEOUT(m_server->requestsReceived(u"/never"_s) == 1000, 30000);
    QCOMPARE(m_server->pendingResponses(), 1000);
    QCOMPARE(m_server->connectionsOpen(), 1000);

    QElapsedTimer sinceSignal;
    sinceSignal.start();
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(60000), 0);   // cancelling on time is a clean stop
    const qint64 exitMs = sinceSignal.elapsed();
    qInfo("exit %lld ms after SIGTERM", exitMs);
    const QString err = berth.stdErr();
    // Cancelled in the cancel phase (after the 1 s drain), counted in the report, none leaked.
    QVERIFY2(err.contains(u"phase cancel: 1000 pending work item(s) cancelled"_s), qPrintable(err.right(3000)));
    const QRegularExpression row(uR"(\n  poller\s+stopped\s+\d+ms\s+0\s+0\s+1000\s+0\s)"_s);
    QVERIFY2(row.match(err).hasMatch(), qPrintable(err.right(3000)));
    QVERIFY2(err.contains(u"pending at exit: none"_s), qPrintable(err.right(3000)));
    // At the server: all 1 000 went away unanswered, no request came after them.
    QTRY_COMPARE(m_server->requestsAbandoned(), 1000);
    QCOMPARE(m_server->requestsReceived(), 1000);
    QTRY_COMPARE(m_server->connectionsOpen(), 0);
    QVERIFY2(exitMs >= 1000, qPrintable(QString::number(exitMs)));   // the drain budget was given
    if (!Sanitized)
        QVERIFY2(exitMs < within(2000 + 1000), qPrintable(QString::number(exitMs)));   // see the benchmark for the tight figure
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll().count("aborted (the host cancelled it while stopping)"), 1000);
}

void TestE2eNetwork::exitWithAndWithoutTeardown_data()
{
    QTest::addColumn<QByteArray>("fastExit");
    QTest::addColumn<bool>("withoutTeardown");
    QTest::newRow("default") << QByteArray() << true;
    QTest::newRow("fastExit true") << QByteArray(R"(, "fastExit": true)") << true;
    QTest::newRow("fastExit false") << QByteArray(R"(, "fastExit": false)") << false;
}

void TestE2eNetwork::exitWithAndWithoutTeardown()
{
    // Either way: exit 0 with the report, every result line in the output file, and every
    // connection closed at the server (by the kernel at exit, or by close tearing it down).
    QFETCH(QByteArray, fastExit);
    QFETCH(bool, withoutTeardown);
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(R"({"shutdown": {"deadline": "10s")" + fastExit + R"(}, "services": [{"name": "poller",
        "type": "http-poller", "config": {"url": ")" + m_server->url(u"/delay?ms=50"_s).toString().toUtf8()
              + R"(", "concurrency": 50, "interval": "0s", "output": ")" + out.toUtf8() + R"("}}]})");
    QVERIFY(berth.waitReady());
    QTRY_VERIFY_WITH_TIMEOUT(m_server->requestsCompleted() >= 200 && m_server->connectionsOpen() >= 50, 20000);
    berth.signal(SIGTERM);
    const int code = berth.finish(20000);
    const QString err = berth.stdErr();
    QVERIFY2(code == 0, qPrintable(u"exit %1:\n%2"_s.arg(code).arg(err.right(3000))));
    QVERIFY2(err.contains(u"pending at exit: none"_s), qPrintable(err.right(3000)));
    QCOMPARE(err.contains(u"exit 0 without teardown (shutdown.fastExit)"_s), withoutTeardown);
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 10000);
    QTRY_COMPARE(m_server->requestsCompleted(), m_server->requestsReceived());
    const auto [lines, answered] = linesWith(out, R"("status":200)");
    QCOMPARE(qint64(answered), m_server->requestsReceived());
}

void TestE2eNetwork::demoConfigPollsItsOwnServer()
{
    BerthProcess berth;
    berth.useFreeDemoPort();
    berth.start({u"run"_s});
    QVERIFY(berth.waitReady());
    QVERIFY2(berth.waitFor(u"listening on http://127\\.0\\.0\\.1:\\d+"_s) >= 0, qPrintable(berth.stdErr()));
    QVERIFY2(berth.waitFor(uR"("status":200)"_s, 10000) >= 0, qPrintable(berth.stdErr()));
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(), 0);
}

void TestE2eNetwork::secretsStayOutOfOutputLogAndDump()
{
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    const QString trace = berth.path(u"trace.json"_s);
    const QString dump = berth.path(u"dump.json"_s);
    QUrl url = m_server->url(u"/delay?ms=300&token=T0KEN&tenant=TENANT"_s);
    url.setUserInfo(u"u:PA55W0RD"_s);
    berth.run(R"({"network": {"redactQuery": ["tenant"]}, "services": [{"name": "poller", "type": "http-poller",
        "config": {"url": ")" + url.toString().toUtf8() + R"(", "interval": "0s", "output": ")" + out.toUtf8()
                  + R"(", "headers": {"Authorization": "Bearer AUTHSECRET", "Cookie": "sid=COOKIESECRET"}}}]})",
              {u"--trace"_s, trace, u"--dump"_s, dump});
    QVERIFY(berth.waitReady());
    QVERIFY(berth.waitForPending(u"reply \"GET http"_s));
    QTRY_VERIFY(m_server->requestsCompleted() >= 2);
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(), 0);
    QString everything = berth.stdErr();
    for (const QString &file : {out, trace, dump}) {
        QFile f(file);
        QVERIFY2(f.open(QIODevice::ReadOnly), qPrintable(file));
        everything += QString::fromUtf8(f.readAll());
    }
    QVERIFY(everything.contains(u"token=REDACTED"_s));
    for (const char *secret : {"T0KEN", "TENANT", "PA55W0RD", "AUTHSECRET", "COOKIESECRET"})
        QVERIFY2(!everything.contains(QLatin1String(secret)), secret);
}

void TestE2eNetwork::pollsThroughTheConfiguredProxy()
{
    // The config's proxy (with credentials the proxy demands) carries every poll; the log says
    // which proxy without its password; SIGTERM drains through it as it does without one.
    proxytest::HttpProxy proxy;
    QString why;
    QVERIFY2(proxy.start(&why, u"me:PR0XYPASS"_s), qPrintable(why));
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(R"({"network": {"proxy": ")" + proxy.url(u"me:PR0XYPASS"_s).toUtf8() + R"("},
        "services": [{"name": "poller", "type": "http-poller", "config": {"url": ")"
              + m_server->url(u"/delay?ms=100"_s).toString().toUtf8() + R"(", "concurrency": 20,
        "interval": "0s", "output": ")" + out.toUtf8() + R"("}}]})");
    QVERIFY(berth.waitReady());
    QTRY_VERIFY_WITH_TIMEOUT(m_server->requestsCompleted() >= 40, 20000);
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(), 0);
    QTRY_COMPARE(proxy.requests.size(), m_server->requestsReceived());
    QCOMPARE(proxy.auth.count(u"me:PR0XYPASS"_s), proxy.auth.size());
    QCOMPARE(m_server->requestsCompleted(), m_server->requestsReceived());
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    const QByteArray lines = f.readAll();
    QCOMPARE(lines.count("\"status\":200"), m_server->requestsReceived());
    const QString err = berth.stdErr();
    QVERIFY2(err.contains(u"poller: proxy http://me:***@127.0.0.1:%1 for http and https"_s.arg(proxy.port)),
             qPrintable(err.left(3000)));
    QVERIFY2(!err.contains(u"PR0XYPASS"_s) && !lines.contains("PR0XYPASS"), qPrintable(err.left(3000)));
}

void TestE2eNetwork::callTimeoutBoundsEachPoll()
{
    // network.callTimeout from the config file reaches the poller's calls: a server that never
    // answers costs each poll 300 ms, and the poller goes on polling.
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(R"({"network": {"callTimeout": "300ms"}, "services": [{"name": "poller", "type": "http-poller",
        "config": {"url": ")" + m_server->url(u"/never"_s).toString().toUtf8() + R"(", "interval": "0s",
        "output": ")" + out.toUtf8() + R"("}}]})");
    QVERIFY(berth.waitReady());
    QTRY_VERIFY_WITH_TIMEOUT(m_server->requestsReceived(u"/never"_s) >= 3, 10000);
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(), 0);
    const auto [lines, timedOut] = linesWith(out, "not done within its deadline of 300 ms (attempt 1 was still in flight)");
    QVERIFY2(timedOut >= 2, qPrintable(QString::fromUtf8(lines.value(0))));
    QTRY_COMPARE(m_server->requestsAbandoned(), m_server->requestsReceived());
}

void TestE2eNetwork::maxResponseSizeCapsEachPoll()
{
    // network.maxResponseSize from a service's own network block: an answer over it fails the
    // poll with a line that says so, the poller goes on, and a stop is clean.
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(R"({"services": [{"name": "poller", "type": "http-poller", "network": {"maxResponseSize": "1KiB"},
        "config": {"url": ")" + m_server->url(u"/fast?size=1025"_s).toString().toUtf8() + R"(", "interval": "0s",
        "output": ")" + out.toUtf8() + R"("}}]})");
    QVERIFY(berth.waitReady());
    QTRY_VERIFY_WITH_TIMEOUT(m_server->requestsReceived(u"/fast"_s) >= 3, 10000);
    berth.signal(SIGTERM);
    QCOMPARE(berth.finish(), 0);
    const auto [lines, capped] = linesWith(out, "the answer is larger than the call's cap of 1KiB (maxResponseSize): it announced 1025 bytes");
    QVERIFY2(capped >= 3, qPrintable(QString::fromUtf8(lines.value(0))));
}

QTEST_MAIN(TestE2eNetwork)
#include "tst_e2e_network.moc"
