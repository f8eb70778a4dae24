// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HTTP/2 streams the server does not take: a graceful GOAWAY (the streams above its last id
// fail, and Qt 6.4 holds others back for ever, which the session takes back), REFUSED_STREAM,
// and the requests Qt holds while the server's streams are busy, which must not be taken
// back. Against tests/h2server.py, counted at the server: each request processed once.
#include "tests/support/h2testutil.h"

#include <berth/networksession.h>
#include <berth/workledger.h>

#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace berth;
using namespace berth::nettest;
using namespace berth::h2test;

class TestNetworkGoaway : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void init();
    void serverGoawayCostsAStallNeverACall();
    void aCallHandedOverAfterTheLastStreamIsTakenBack();
    void aCallWaitingForAStreamIsNotTakenBack();
    void aRefusedStreamIsSentAgainWhateverItsMethod();

private:
    std::unique_ptr<H2Server> m_server;
};

void TestNetworkGoaway::init()
{
    startH2Server(m_server, false);   // each test starts it with the options it needs
}

void TestNetworkGoaway::serverGoawayCostsAStallNeverACall()
{
    // Servers end HTTP/2 connections gracefully after so many requests (nginx: 1 000 by
    // default): GOAWAY with the last stream they will answer. Qt 6.4 fails some streams above
    // it (ContentReSendError) and holds others back unsent for ever (seen: 22-25 of 400 calls at
    // 20 in flight, GOAWAY every 30 requests, each stalled until the transfer timeout). The
    // session takes those back a second after the GOAWAY and sends both kinds again (the server
    // never processed them), so every call is answered, long before the transfer timeout.
    QString why;
    QVERIFY2(m_server->start(&why, 0, 0, 30), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = h2Options(20);
    o.transferTimeout = std::chrono::milliseconds(120000);   // a call left hanging would outlast the test
    // A retry can land on the next connection just as it too reaches its GOAWAY: under ASan on
    // a loaded machine one call was refused 4 times in a row (1 run of 8). Room for that.
    o.retry.attempts = 8;
    NetworkSession s(Svc, &ledger, o);
    // Half of them POSTs: a request the server never processed is sent again whatever its method.
    const auto getsAndPosts = [this](NetworkSession &session) {
        Outcomes outs;
        const QUrl url = m_server->url(u"/delay?ms=20"_s);
        for (int i = 0; i < 200; ++i)
            outs.append(watch(i % 2 ? session.send(QNetworkRequest(url), "POST", QByteArray::number(i))
                                    : session.get(QNetworkRequest(url))));
        return outs;
    };
    // Which calls a GOAWAY catches is up to timing (1 run in about 30 caught no POST): rounds
    // of 200 until a POST was among them, at most 3.
    int rounds = 0, postsRetried = 0;
    while (postsRetried == 0 && rounds < 3) {
        ++rounds;
        const Outcomes outs = getsAndPosts(s);
        QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 60000);
        int retried = 0;
        for (qsizetype i = 0; i < outs.size(); ++i) {
            QVERIFY2(outs[i]->error == QNetworkReply::NoError, qPrintable(outs[i]->errorString));
            QCOMPARE(outs[i]->body, QByteArray("h2"));
            retried += outs[i]->attempts > 1 ? 1 : 0;
            postsRetried += i % 2 && outs[i]->attempts > 1 ? 1 : 0;
        }
        qInfo("round %d: %d of 200 calls sent again (%d POSTs so far); %d GOAWAY(s), %lld connection(s)", rounds,
              retried, postsRetried, m_server->goaways, qint64(m_server->protocols.size()));
        QCOMPARE(m_server->requests, 200 * rounds);   // each call processed once: nothing twice
        QTRY_COMPARE(m_server->answered, 200 * rounds);
    }
    QVERIFY(m_server->goaways >= 3);
    QVERIFY(postsRetried > 0);

    // Without retries, what a refused call says: what happened, and that it was not processed.
    NetworkOptions once = o;
    once.retry.attempts = 1;
    NetworkSession single(Svc, &ledger, once);
    const Outcomes more = getsAndPosts(single);
    QTRY_VERIFY_WITH_TIMEOUT(allDone(more), 60000);
    int refused = 0, held = 0;
    for (const auto &out : more) {
        if (out->error == QNetworkReply::NoError)
            continue;
        QCOMPARE(out->error, QNetworkReply::ContentReSendError);   // never a timeout
        QVERIFY2(out->errorString.contains(u"GOAWAY"_s) && out->errorString.contains(u"never processed"_s),
                 qPrintable(out->errorString));
        ++refused;
        held += out->errorString.contains(u"held this request back"_s) ? 1 : 0;
    }
    qInfo("without retries: %d of 200 refused, %d of them held back by Qt", refused, held);
    QVERIFY(refused > 0);
}

void TestNetworkGoaway::aCallHandedOverAfterTheLastStreamIsTakenBack()
{
    // One call at a time, GOAWAY after every 3rd request: the end of the 3rd stream is what
    // frees the room for the 4th, which is handed to Qt on the connection that is going away,
    // after its last stream ended. Qt 6.4 can hold it there for ever (CI, under ASan: 118 s, to
    // the transfer timeout). Taken back, it goes out again on a new connection: another
    // manager's, as the server keeps the old one open for 3 s and Qt would hold it there again
    // (the old pool is in quarantine for 3 graces), so no call needs more than 2 attempts.
    QString why;
    QVERIFY2(m_server->start(&why, 0, 0, 3, 0, 3000), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = h2Options(1);
    o.transferTimeout = std::chrono::milliseconds(120000);
    o.retry.attempts = 4;
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 9, m_server->url(u"/delay?ms=50"_s));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 60000);
    int again = 0;
    for (const auto &out : outs) {
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
        QVERIFY2(out->attempts <= 2, qPrintable(QString::number(out->attempts)));
        again += out->attempts > 1 ? 1 : 0;
    }
    qInfo("%d of 9 calls sent again; %d GOAWAY(s), %lld connection(s)", again, m_server->goaways,
          qint64(m_server->protocols.size()));
    QVERIFY(m_server->goaways >= 2);
    QVERIFY(again >= 1);
    QCOMPARE(m_server->requests, 9);   // each processed once
}

void TestNetworkGoaway::aCallWaitingForAStreamIsNotTakenBack()
{
    // The other side of the take-back above: requests Qt holds while all the server's streams
    // are busy (10 here, each for longer than the grace) wait for a stream, and go out when one
    // frees. None is taken back, sent twice or reset.
    QString why;
    QVERIFY2(m_server->start(&why, 10), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = h2Options(25);
    o.retry.attempts = 3;   // a take-back would show as a second attempt
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 25, m_server->url(u"/delay?ms=%1"_s.arg(SlowBuild ? 3000 : 1500)));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(outs), 60000);
    for (const auto &out : outs) {
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
        QCOMPARE(out->attempts, 1);
    }
    QCOMPARE(m_server->requests, 25);
    QTRY_COMPARE(m_server->answered, 25);
    QCOMPARE(m_server->resets, 0);
}

void TestNetworkGoaway::aRefusedStreamIsSentAgainWhateverItsMethod()
{
    // A loaded server sheds streams with RST_STREAM REFUSED_STREAM: closed before any processing,
    // so any request on it may be sent again (RFC 9113, 8.7), a POST too. Here the server takes
    // 4 requests at a time and refuses the rest. 4 slow GETs take them all first, so the 6 POSTs
    // and 2 GETs that follow are refused while those are pending (the session hands them over a
    // few at a time, as it does beyond what a connection has been seen to carry: the first POST
    // at least is refused). Every call gets through, and the server processes each exactly once.
    QString why;
    QVERIFY2(m_server->start(&why, 0, 0, 0, 4), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = h2Options(12);
    o.retry.attempts = 100;   // each refused attempt counts
    o.retry.cap = std::chrono::milliseconds(200);
    NetworkSession s(Svc, &ledger, o);
    Outcomes gets, posts;
    for (int i = 0; i < 4; ++i)
        gets.append(watch(s.get(QNetworkRequest(m_server->url(u"/delay?ms=%1"_s.arg(SlowBuild ? 3000 : 1000))))));
    QTRY_COMPARE_WITH_TIMEOUT(m_server->requests, 4, 20000);
    const QUrl url = m_server->url(u"/delay?ms=50"_s);
    for (int i = 0; i < 6; ++i)
        posts.append(watch(s.send(QNetworkRequest(url), "POST", "order " + QByteArray::number(i))));
    gets.append(watch(s.get(QNetworkRequest(url))));
    gets.append(watch(s.get(QNetworkRequest(url))));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(gets) && allDone(posts), 60000);
    for (const auto &out : gets + posts) {
        QVERIFY2(out->error == QNetworkReply::NoError, qPrintable(out->errorString));
        QCOMPARE(out->body, QByteArray("h2"));
    }
    int postsSentAgain = 0;
    for (const auto &out : posts)
        postsSentAgain += out->attempts > 1 ? 1 : 0;
    qInfo("%d stream(s) refused; %d of 6 POSTs sent again", m_server->refused, postsSentAgain);
    QVERIFY(postsSentAgain >= 1);
    QCOMPARE(m_server->requests, 12);   // processed once each
    QTRY_COMPARE(m_server->answered, 12);

    // Without retries, what a refused call says: what happened, and that it was not processed.
    NetworkOptions once = o;
    once.retry.attempts = 1;
    NetworkSession single(Svc, &ledger, once);
    const int refusedBefore = m_server->refused;
    Outcomes more;
    for (int i = 0; i < 12; ++i)
        more.append(watch(single.send(QNetworkRequest(url), "POST", "x")));
    QTRY_VERIFY_WITH_TIMEOUT(allDone(more), 60000);
    int refused = 0;
    for (const auto &out : more) {
        if (out->error == QNetworkReply::NoError)
            continue;
        QCOMPARE(out->error, QNetworkReply::ContentReSendError);
        QVERIFY2(out->errorString.startsWith(u"POST https://127.0.0.1:"_s)
                     && out->errorString.contains(u"REFUSED_STREAM"_s) && out->errorString.contains(u"never processed"_s),
                 qPrintable(out->errorString));
        ++refused;
    }
    QVERIFY(refused > 0);
    QCOMPARE(refused, m_server->refused - refusedBefore);   // each refusal at the server, one failed call
}

QTEST_GUILESS_MAIN(TestNetworkGoaway)
#include "tst_networkgoaway.moc"
