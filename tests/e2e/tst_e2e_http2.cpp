// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The real berth binary running http-poller over HTTP/2 (tests/h2server.py: TLS, ALPN "h2",
// hyper-h2) and stopped by a real SIGTERM: every stream that reached the server is answered and
// none is reset, nothing starts after the signal, and the connections close. Counted at the
// server.
#include "tests/support/berthprocess.h"
#include "tests/support/h2server.h"
#include "tests/support/slack.h"

#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>

#include <algorithm>
#include <memory>

using namespace Qt::StringLiterals;
using berth::test::within;
using namespace berth::h2test;

class TestE2eHttp2 : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void sigtermDrainsPollsOverHttp2_data();
    void sigtermDrainsPollsOverHttp2();
    void sigtermCancelsStalledStreams();

private:
    QByteArray config(const QString &path, int concurrency, const QByteArray &shutdown, const QString &output) const;
    std::unique_ptr<H2Server> m_server;
};

QByteArray TestE2eHttp2::config(const QString &path, int concurrency, const QByteArray &shutdown,
                                const QString &output) const
{
    return R"({"network": {"caBundle": ")" BERTH_SOURCE_DIR R"(/tests/data/ca.pem"}, "shutdown": )" + shutdown
        + R"(, "services": [{"name": "poller", "type": "http-poller", "config": {"url": ")"
        + m_server->url(path).toString().toUtf8() + R"(", "concurrency": )" + QByteArray::number(concurrency)
        + R"(, "interval": "0s", "output": ")" + output.toUtf8() + R"("}}]})";
}

void TestE2eHttp2::initTestCase()
{
    m_server = std::make_unique<H2Server>();
    QString why;
    BERTH_REQUIRE(m_server->available(&why), why);
    QVERIFY2(m_server->start(&why), qPrintable(why));
}

void TestE2eHttp2::sigtermDrainsPollsOverHttp2_data()
{
    QTest::addColumn<int>("maxStreams");
    QTest::newRow("server takes 100 streams per connection") << 0;
    // Qt queues what a server does not take at once, out of the session's reach: the session
    // learns the limit and spreads the polls over more connections instead.
    QTest::newRow("server takes 10 streams per connection") << 10;
}

void TestE2eHttp2::sigtermDrainsPollsOverHttp2()
{
    QFETCH(int, maxStreams);
    if (maxStreams > 0) {
        m_server = std::make_unique<H2Server>();
        QString why;
        QVERIFY2(m_server->start(&why, maxStreams), qPrintable(why));
    }
    BerthProcess berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(config(u"/delay?ms=300"_s, 50, R"({"deadline": "10s", "drain": "5s", "cancel": "2s", "reserve": "250ms"})", out));
    QVERIFY(berth.waitReady());
    // Two rounds of 50 polls in flight, then the signal while the third is.
    QElapsedTimer waited;
    waited.start();
    while (m_server->requests < 120 && waited.elapsed() < 20000)
        QTest::qWait(20);
    if (m_server->requests < 120)
        QFAIL(qPrintable(u"after 20 s at the server: %1 request(s), %2 answered, %3 reset, %4 connection(s), %5 closed "
                         u"(%6 pending at close); berth said:\n%7"_s
                             .arg(m_server->requests).arg(m_server->answered).arg(m_server->resets)
                             .arg(m_server->protocols.size()).arg(m_server->closed)
                             .arg(m_server->closedPending).arg(berth.stdErr().right(6000))));
    const qint64 signalAt = QDateTime::currentMSecsSinceEpoch();
    berth.signal(SIGTERM);
    const int code = berth.finish(20000);
    if (code != 0)   // QVERIFY2 keeps 1 KiB of its message: the whole log goes out first
        qWarning().noquote() << berth.stdErr();
    QVERIFY2(code == 0, qPrintable(u"exit %1:\n%2"_s.arg(code).arg(berth.stdErr().right(4000))));
    QVERIFY2(berth.stdErr().contains(u"exit code 0: clean stop"_s), qPrintable(berth.stdErr().right(2000)));

    // At the server: HTTP/2 only; every stream answered, none reset; every connection closed
    // with nothing pending.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->closed, int(m_server->protocols.size()), 10000);
    QVERIFY2(std::all_of(m_server->protocols.cbegin(), m_server->protocols.cend(),
                         [](const QString &p) { return p == u"h2"_s; }),
             qPrintable(m_server->protocols.join(u' ')));
    QCOMPARE(m_server->answered, m_server->requests);
    QCOMPARE(m_server->resets, 0);
    QCOMPARE(m_server->closedPending, 0);
    // None started after the signal (a poll sent just before it may arrive a moment later, and
    // the server is Python: see tst_e2e_network; polling on after the signal would bring
    // arrivals all through the 300 ms drain).
    const qint64 latest = *std::max_element(m_server->arrivals.cbegin(), m_server->arrivals.cend()) - signalAt;
    qInfo("latest arrival %lld ms after the signal; %d request(s) on %lld connection(s)", latest,
          m_server->requests, qint64(m_server->protocols.size()));
    const qint64 grace = within(100);   // wider on a sanitized berth, several times slower
    QVERIFY2(latest <= grace, qPrintable(QString::number(latest) + u"\n"_s + berth.stdErr().right(6000)));
    if (maxStreams > 0)   // 50 polls in flight, 10 per connection
        QVERIFY2(m_server->protocols.size() >= 5, qPrintable(m_server->protocols.join(u' ')));
    // One line per request, each 200 with the 2-byte body "h2".
    QFile f(out);
    QVERIFY(f.open(QIODevice::ReadOnly));
    int lines = 0;
    while (!f.atEnd()) {
        const QJsonObject o = QJsonDocument::fromJson(f.readLine()).object();
        ++lines;
        QCOMPARE(o.value(u"status"_s).toInt(), 200);
        QCOMPARE(o.value(u"bytes"_s).toInt(), 2);
    }
    QCOMPARE(lines, m_server->requests);
}

void TestE2eHttp2::sigtermCancelsStalledStreams()
{
    // 50 polls whose answers never come, a 2 s deadline: the drain ends at its budget, cancel
    // resets every stream, exit 0 (cancelling on time is a clean stop), nothing answered.
    m_server = std::make_unique<H2Server>();   // counts from zero
    QString why;
    QVERIFY2(m_server->start(&why), qPrintable(why));
    BerthProcess berth;
    berth.run(config(u"/never"_s, 50, R"({"deadline": "2s", "drain": "1s", "cancel": "500ms", "reserve": "250ms"})",
                     berth.path(u"polls.jsonl"_s)));
    QVERIFY(berth.waitReady());
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 50, 20000);
    QElapsedTimer sinceSignal;
    sinceSignal.start();
    berth.signal(SIGTERM);
    const int code = berth.finish(20000);
    const qint64 exitMs = sinceSignal.elapsed();
    if (code != 0)   // QVERIFY2 keeps 1 KiB of its message: the whole log goes out first
        qWarning().noquote() << berth.stdErr();
    QVERIFY2(code == 0, qPrintable(u"exit %1:\n%2"_s.arg(code).arg(berth.stdErr().right(4000))));
    QVERIFY2(berth.stdErr().contains(u"phase cancel: 50 pending work item(s) cancelled"_s),
             qPrintable(berth.stdErr().right(3000)));
    qInfo("exit %lld ms after SIGTERM", exitMs);
    QVERIFY2(exitMs < within(2000 + 1000), qPrintable(QString::number(exitMs)));   // the deadline, and room for a loaded machine
    // At the server: the 50 and no more, none answered; each ended by a reset or the close.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->resets + m_server->closedPending, 50, 10000);
    QCOMPARE(m_server->requests, 50);
    QCOMPARE(m_server->answered, 0);
}

QTEST_GUILESS_MAIN(TestE2eHttp2)
#include "tst_e2e_http2.moc"
