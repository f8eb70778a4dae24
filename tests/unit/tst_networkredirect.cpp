// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// NetworkSession's redirects against a real HTTP server on 127.0.0.1 (HttpFixture): a chain
// followed and capped, credentials left behind across origins, the method rules, the request's own
// policy, and a hop while draining. TLS, secrets, cookies, the disk cache and close are in
// tst_networkrules.cpp; the pure redirect rule in tst_networkhelpers.cpp.
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
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <utility>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;
using namespace berth::nettest;

class TestNetworkRedirect : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();

    void redirectChainFollowedAndCapped();
    void redirectAcrossOriginsLeavesCredentialsBehind();
    void redirectMethodRules();
    void redirectPolicyOfTheRequestWins();
    void redirectWhileDrainingIsFollowed();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkRedirect::initTestCase()
{
    platform::raiseOpenFileLimit();
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkRedirect::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkRedirect::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

namespace {
QJsonObject echoOf(const Outcome &o)
{
    return QJsonDocument::fromJson(o.body).object();
}
} // namespace

void TestNetworkRedirect::redirectChainFollowedAndCapped()
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

void TestNetworkRedirect::redirectAcrossOriginsLeavesCredentialsBehind()
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

void TestNetworkRedirect::redirectMethodRules()
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

void TestNetworkRedirect::redirectPolicyOfTheRequestWins()
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

void TestNetworkRedirect::redirectWhileDrainingIsFollowed()
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
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY(queued->done);
    QVERIFY(!queued->sent);
    QTRY_VERIFY_WITH_TIMEOUT(hop->done, 10000);
    QCOMPARE(hop->status, 200);
    QCOMPARE(echoOf(*hop)[u"path"_s].toString(), u"/echo"_s);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 0);
    QCOMPARE(ledger.counts(Svc).completed, 1);
}

QTEST_MAIN(TestNetworkRedirect)
#include "tst_networkredirect.moc"
