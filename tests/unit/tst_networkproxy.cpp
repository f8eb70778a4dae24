// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A network session's proxy: the plan read from the config and the environment (pure), then
// real traffic through a real forward proxy on 127.0.0.1 (tests/httpproxy.py): plain HTTP,
// HTTPS and HTTP/2 through a CONNECT tunnel, credentials, a proxy that is down, and a drain.
#include "network/networksessioncontrol_p.h"
#include "tests/support/h2server.h"
#include "tests/support/httpproxy.h"
#include "config/config.h"
#include "httpfixture.h"
#include "network/networkproxy_p.h"
#include "tests/support/logcapture.h"
#include "tests/support/networktestutil.h"

#include <berth/networksession.h>
#include <berth/serviceregistry.h>
#include <berth/workledger.h>

#include <QtNetwork/QSslSocket>
#include <QtNetwork/QTcpServer>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace berth;
using namespace berth::netdetail;
using namespace berth::nettest;
using namespace berth::proxytest;
using berth::testutil::LogCapture;

namespace {

QProcessEnvironment environment(const QStringList &assignments)
{
    QProcessEnvironment env;
    for (const QString &a : assignments)
        env.insert(a.section(u'=', 0, 0), a.section(u'=', 1));
    return env;
}

/// What the plan does with \a url: "direct", or the proxy's host:port.
QString route(const ProxyPlan &plan, const QString &url)
{
    const QNetworkProxy p = plan.forUrl(QUrl(url));
    return p.type() == QNetworkProxy::NoProxy ? u"direct"_s : u"%1:%2"_s.arg(p.hostName()).arg(p.port());
}

/// One GET of \a url through a session of its own with \a options, finished.
std::shared_ptr<Outcome> getOnce(WorkLedger &ledger, const NetworkOptions &options, const QUrl &url)
{
    NetworkSession s(Svc, &ledger, options);
    auto out = watch(s.get(QNetworkRequest(url)));
    (void)QTest::qWaitFor([&] { return out->done; }, 20000);   // the caller checks done
    return out;
}

/// A port on 127.0.0.1 where nothing listens.
quint16 closedPort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost);
    return probe.serverPort();
}

} // namespace

class TestNetworkProxy : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void init();
    void cleanup();

    void planFromTheEnvironment_data();
    void planFromTheEnvironment();
    void proxyUrls_data();
    void proxyUrls();
    void noProxyEntries();
    void badVariableIsAConfigError();

    void explicitProxyCarriesEveryRequest();
    void environmentProxyForNamedHostsNotLoopback();
    void httpsAndHttp2ThroughATunnel();
    void socks5ResolvesHereSocks5hThere();
    void proxyFailuresNameTheProxy();
    void drainThroughTheProxy();

private:
    HttpFixture *m_server = nullptr;
};

void TestNetworkProxy::initTestCase()
{
    m_server = new HttpFixture;
    QVERIFY2(m_server->startInThread(), qPrintable(m_server->errorString()));
}

void TestNetworkProxy::cleanupTestCase()
{
    delete m_server;
}

void TestNetworkProxy::init()
{
    // The connections of the previous test's sessions close asynchronously at the server.
    QTRY_COMPARE_WITH_TIMEOUT(m_server->connectionsOpen(), 0, 20000);
    m_server->reset();
}

void TestNetworkProxy::cleanup()
{
    for (const char *v : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"})
        qunsetenv(v);
}

void TestNetworkProxy::planFromTheEnvironment_data()
{
    QTest::addColumn<QString>("proxy");        // the "proxy" option ("": environment)
    QTest::addColumn<QStringList>("noProxy");  // the "noProxy" option
    QTest::addColumn<QStringList>("env");
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("expected");
    const QStringList none;
    const QStringList both{u"http_proxy=http://p1:3128"_s, u"HTTPS_PROXY=p2:8080"_s};
    QTest::newRow("nothing set") << QString() << none << none << u"http://a.example/"_s << u"direct"_s;
    QTest::newRow("http_proxy") << QString() << none << both << u"http://a.example/"_s << u"p1:3128"_s;
    QTest::newRow("HTTPS_PROXY (upper case, no scheme)") << QString() << none << both << u"https://a.example/"_s << u"p2:8080"_s;
    QTest::newRow("lower case first") << QString() << none
        << QStringList{u"https_proxy=http://low:1"_s, u"HTTPS_PROXY=http://up:2"_s} << u"https://a.example/"_s << u"low:1"_s;
    QTest::newRow("https only") << QString() << none << QStringList{u"HTTPS_PROXY=http://p2:8080"_s}
                                << u"http://a.example/"_s << u"direct"_s;
    QTest::newRow("all_proxy") << QString() << none << QStringList{u"ALL_PROXY=socks5h://s:1080"_s}
                               << u"https://a.example/"_s << u"s:1080"_s;
    QTest::newRow("default port") << QString() << none << QStringList{u"http_proxy=http://p1"_s}
                                  << u"http://a.example/"_s << u"p1:80"_s;
    QTest::newRow("loopback name") << QString() << none << both << u"http://localhost:8080/"_s << u"direct"_s;
    QTest::newRow("loopback v4") << QString() << none << both << u"https://127.0.0.5/"_s << u"direct"_s;
    QTest::newRow("loopback v6") << QString() << none << both << u"http://[::1]:80/"_s << u"direct"_s;
    const QStringList withNo = both + QStringList{u"NO_PROXY=corp.example, .svc,*.internal,10.0.0.0/8,h.example:8443,[fd00::1]"_s};
    QTest::newRow("no_proxy domain") << QString() << none << withNo << u"http://corp.example/"_s << u"direct"_s;
    QTest::newRow("no_proxy subdomain") << QString() << none << withNo << u"https://git.corp.example/"_s << u"direct"_s;
    QTest::newRow("no_proxy not a suffix") << QString() << none << withNo << u"http://notcorp.example/"_s << u"p1:3128"_s;
    QTest::newRow("no_proxy leading dot") << QString() << none << withNo << u"http://api.ns.svc/"_s << u"direct"_s;
    QTest::newRow("no_proxy star dot") << QString() << none << withNo << u"http://x.internal/"_s << u"direct"_s;
    QTest::newRow("no_proxy cidr") << QString() << none << withNo << u"http://10.1.2.3/"_s << u"direct"_s;
    QTest::newRow("no_proxy outside cidr") << QString() << none << withNo << u"http://11.1.2.3/"_s << u"p1:3128"_s;
    QTest::newRow("no_proxy port") << QString() << none << withNo << u"https://h.example:8443/"_s << u"direct"_s;
    QTest::newRow("no_proxy other port") << QString() << none << withNo << u"https://h.example/"_s << u"p2:8080"_s;
    QTest::newRow("no_proxy v6") << QString() << none << withNo << u"http://[fd00::1]/"_s << u"direct"_s;
    QTest::newRow("no_proxy *") << QString() << none << (both + QStringList{u"no_proxy=*"_s})
                                << u"https://a.example/"_s << u"direct"_s;
    QTest::newRow("noProxy option adds") << QString() << QStringList{u"a.example"_s} << both
                                         << u"https://a.example/"_s << u"direct"_s;
    QTest::newRow("none ignores the environment") << u"none"_s << none << both << u"https://a.example/"_s << u"direct"_s;
    QTest::newRow("explicit, both schemes") << u"http://u:pw@px:3128"_s << none << QStringList{u"no_proxy=a.example"_s}
                                            << u"https://a.example/"_s << u"px:3128"_s;
    QTest::newRow("explicit covers loopback") << u"http://px:3128"_s << none << none << u"http://127.0.0.1:8080/"_s
                                              << u"px:3128"_s;
    QTest::newRow("explicit with noProxy") << u"http://px:3128"_s << QStringList{u"127.0.0.1"_s} << none
                                           << u"http://127.0.0.1:8080/"_s << u"direct"_s;
}

void TestNetworkProxy::planFromTheEnvironment()
{
    QFETCH(QString, proxy);
    QFETCH(QStringList, noProxy);
    QFETCH(QStringList, env);
    QFETCH(QString, url);
    QFETCH(QString, expected);
    NetworkOptions o;
    o.proxy = proxy;
    o.noProxy = noProxy;
    QString error;
    const ProxyPlan plan = ProxyPlan::make(o, environment(env), &error);
    QVERIFY2(error.isEmpty(), qPrintable(error));
    QCOMPARE(route(plan, url), expected);
    QVERIFY2(!plan.describe().contains(u"pw"_s), qPrintable(plan.describe()));
}

void TestNetworkProxy::proxyUrls_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<QString>("expected");   // the description, or the error
    QTest::newRow("http") << u"http://proxy.example:3128"_s << u"http://proxy.example:3128"_s;
    QTest::newRow("no scheme") << u"proxy.example:3128"_s << u"http://proxy.example:3128"_s;
    QTest::newRow("credentials hidden") << u"http://me:s3cret@proxy.example:3128/"_s << u"http://me:***@proxy.example:3128"_s;
    QTest::newRow("encoded password") << u"http://me:p%40ss@p:1"_s << u"http://me:***@p:1"_s;
    QTest::newRow("socks5") << u"socks5://s.example"_s << u"socks5://s.example:1080"_s;
    QTest::newRow("socks5h") << u"socks5h://s.example:9050"_s << u"socks5h://s.example:9050"_s;
    QTest::newRow("https") << u"https://p:443"_s << u"https:// proxies (TLS to the proxy) are not supported"_s;
    QTest::newRow("ftp") << u"ftp://p:21"_s << u"unsupported proxy scheme \"ftp\""_s;
    QTest::newRow("path") << u"http://p:1/pac.js"_s << u"a proxy URL has no path (\"/pac.js\")"_s;
    QTest::newRow("no host") << u"http://me:s3cret@:1"_s << u"\"http://***@:1\" is not a proxy URL"_s;
    QTest::newRow("empty") << u" "_s << u"empty; expected a proxy URL"_s;
}

void TestNetworkProxy::proxyUrls()
{
    QFETCH(QString, text);
    QFETCH(QString, expected);
    QString error;
    const QNetworkProxy p = ProxyPlan::parseProxyUrl(text, &error);
    const QString got = error.isEmpty() ? ProxyPlan::describeProxy(p) : error;
    QVERIFY2(got.startsWith(expected), qPrintable(got));
    QVERIFY2(!got.contains(u"s3cret"_s) && !got.contains(u"p%40ss"_s), qPrintable(got));
}

void TestNetworkProxy::noProxyEntries()
{
    QString why;
    for (const QString &ok : {u"*"_s, u"example.com"_s, u".svc"_s, u"*.internal"_s, u"10.0.0.0/8"_s, u"::1"_s,
                              u"[fd00::1]:8443"_s, u"h.example:8443"_s, u"192.168.1.7"_s})
        QVERIFY2(ProxyPlan::checkNoProxyEntry(ok, &why), qPrintable(ok + u": "_s + why));
    for (const QString &bad : {u""_s, u"http://a.example"_s, u"a b"_s, u"a.example:http"_s, u"10.0.0.0/40"_s,
                               u"a.*.example"_s, u"[fd00::1"_s, u"h:0"_s}) {
        QVERIFY2(!ProxyPlan::checkNoProxyEntry(bad, &why), qPrintable(bad));
        QVERIFY2(why.contains(u"is not a host name"_s), qPrintable(why));
    }
}

void TestNetworkProxy::badVariableIsAConfigError()
{
    // The host refuses to start, naming the variable and the services that read it; a service
    // with a proxy of its own (or "none") does not care.
    qputenv("HTTPS_PROXY", "https://me:s3cret@proxy.example:443");
    ServiceRegistry types;
    types.add(HttpFixtureService::type());
    const QByteArray json = R"({"services": [
        {"name": "a", "type": "http-fixture"},
        {"name": "b", "type": "http-fixture", "network": {"proxy": "none"}},
        {"name": "c", "type": "http-fixture"}]})";
    const ConfigResult r = parseConfig(json, u"test.json"_s, types);
    QCOMPARE(r.errors.size(), 1);
    const QString e = r.errors.first().toString();
    QVERIFY2(e.startsWith(u"test.json:2:"_s) && e.contains(u"environment variable HTTPS_PROXY: https:// proxies"_s)
                 && e.contains(u"service(s) a, c"_s) && !e.contains(u"s3cret"_s),
             qPrintable(e));
    qputenv("HTTPS_PROXY", "http://proxy.example:3128");
    QVERIFY(parseConfig(json, u"test.json"_s, types).ok());
}

void TestNetworkProxy::explicitProxyCarriesEveryRequest()
{
    HttpProxy proxy;
    QString why;
    QVERIFY2(proxy.start(&why, u"me:s3cret"_s), qPrintable(why));
    LogCapture log;
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.proxy = proxy.url(u"me:s3cret"_s);
    NetworkSession s(Svc, &ledger, o);
    const QUrl url = m_server->url(u"/fast"_s);
    const Outcomes outs = getMany(s, 3, url);
    QNetworkReply *direct = s.manager()->get(QNetworkRequest(url));   // direct use goes through it too
    QTRY_VERIFY(allDone(outs) && direct->isFinished());
    for (const auto &out : outs)
        QVERIFY2(out->status == 200, qPrintable(out->errorString));
    QCOMPARE(direct->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt(), 200);
    // At the proxy: four requests in absolute form, each with the credentials (Qt sends them
    // after the proxy's 407 challenge on each new connection).
    QCOMPARE(proxy.requests.size(), 4);
    QVERIFY(proxy.requests.contains(u"GET "_s + url.toString()));
    QVERIFY(proxy.auth.size() == 4 && proxy.auth.count(u"me:s3cret"_s) == 4);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 4);
    // The log says which proxy, never its password.
    QVERIFY2(log.text().contains(u"svc: proxy http://me:***@127.0.0.1:%1 for http and https"_s.arg(proxy.port)),
             qPrintable(log.text()));
    QVERIFY2(!log.text().contains(u"s3cret"_s), qPrintable(log.text()));
    QVERIFY(!ledger.dumpText().contains(u"s3cret"_s));
}

void TestNetworkProxy::environmentProxyForNamedHostsNotLoopback()
{
    HttpProxy proxy;
    QString why;
    QVERIFY2(proxy.start(&why), qPrintable(why));
    // Upper case, which Qt alone ignores. berth-proxied.test exists only for the proxy (which
    // reaches every host at 127.0.0.1): an answer means the request went through it.
    qputenv("HTTP_PROXY", proxy.url().toUtf8());
    WorkLedger ledger;
    NetworkSession s(Svc, &ledger, quickOptions());
    QUrl named = m_server->url(u"/fast"_s);
    named.setHost(u"berth-proxied.test"_s);
    auto viaProxy = watch(s.get(QNetworkRequest(named)));
    QTRY_VERIFY(viaProxy->done);
    QVERIFY2(viaProxy->status == 200, qPrintable(viaProxy->errorString));
    QCOMPARE(proxy.requests, QStringList{u"GET "_s + named.toString()});
    // Loopback goes straight to the server.
    auto local = watch(s.get(QNetworkRequest(m_server->url(u"/fast"_s))));
    QTRY_VERIFY(local->done);
    QCOMPARE(local->status, 200);
    QCOMPARE(proxy.requests.size(), 1);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 2);
}

void TestNetworkProxy::httpsAndHttp2ThroughATunnel()
{
    BERTH_REQUIRE_TLS();
    h2test::H2Server h2;
    QString why;
    BERTH_REQUIRE(h2.available(&why), why);
    QVERIFY2(h2.start(&why), qPrintable(why));
    HttpProxy proxy;
    QVERIFY2(proxy.start(&why), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.proxy = proxy.url();
    o.caBundle = QStringLiteral(BERTH_SOURCE_DIR "/tests/data/ca.pem");
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 5, h2.url(u"/fast"_s));
    QTRY_VERIFY(allDone(outs));
    for (const auto &out : outs) {
        QVERIFY2(out->status == 200, qPrintable(out->errorString));
        QCOMPARE(out->body, QByteArray("h2"));   // HTTP/2 inside the tunnel; TLS verified end to end
    }
    QVERIFY(!proxy.tunnels.isEmpty());
    QCOMPARE(proxy.tunnels.first(), u"127.0.0.1:%1"_s.arg(h2.port));
    QVERIFY(proxy.requests.isEmpty());
    QCOMPARE(h2.requests, 5);
}

void TestNetworkProxy::socks5ResolvesHereSocks5hThere()
{
    HttpProxy socks;
    QString why;
    QVERIFY2(socks.start(&why, u"me:s3cret"_s, true), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 1;
    // socks5h: the name goes to the proxy, which alone knows berth-proxied.test.
    o.proxy = socks.url(u"me:s3cret"_s, u"socks5h"_s);
    QUrl named = m_server->url(u"/fast"_s);
    named.setHost(u"berth-proxied.test"_s);
    auto out = getOnce(ledger, o, named);
    QVERIFY2(out->status == 200, qPrintable(out->errorString));
    QCOMPARE(socks.tunnels, QStringList{u"berth-proxied.test:%1"_s.arg(named.port())});
    // socks5: the name is resolved here, and the proxy is given the address.
    o.proxy = socks.url(u"me:s3cret"_s, u"socks5"_s);
    QUrl local = m_server->url(u"/fast"_s);
    local.setHost(u"localhost"_s);
    out = getOnce(ledger, o, local);
    QVERIFY2(out->status == 200, qPrintable(out->errorString));
    QCOMPARE(socks.tunnels.size(), 2);
    const QString port = u":%1"_s.arg(local.port());   // an address, whichever localhost is here
    QVERIFY2(socks.tunnels.last() == u"127.0.0.1"_s + port
                 || socks.tunnels.last() == u"[0000:0000:0000:0000:0000:0000:0000:0001]"_s + port,
             qPrintable(socks.tunnels.last()));
    QCOMPARE(socks.auth.count(u"me:s3cret"_s), 2);
    // Wrong credentials: the proxy is named, the password is not.
    o.proxy = socks.url(u"me:wrong"_s, u"socks5h"_s);
    out = getOnce(ledger, o, named);
    QVERIFY(out->done && out->status == 0);
    QVERIFY2(out->errorString.contains(u"(through proxy socks5h://me:***@127.0.0.1:%1"_s.arg(socks.port))
                 && !out->errorString.contains(u"wrong"_s),
             qPrintable(out->errorString));
    QCOMPARE(socks.refused, 1);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 2);
}

void TestNetworkProxy::proxyFailuresNameTheProxy()
{
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.retry.attempts = 1;
    const quint16 dead = closedPort();
    o.proxy = u"http://me:s3cret@127.0.0.1:%1"_s.arg(dead);
    {
        auto out = getOnce(ledger, o, m_server->url(u"/fast"_s));
        // Qt 6.4 reports a proxy that refuses the connection as ConnectionRefusedError.
        QVERIFY2(out->error == QNetworkReply::ConnectionRefusedError
                     || out->error == QNetworkReply::ProxyConnectionRefusedError, qPrintable(out->errorString));
        QVERIFY2(out->errorString.contains(u"RefusedError (through proxy http://me:***@127.0.0.1:%1)"_s.arg(dead))
                     && !out->errorString.contains(u"s3cret"_s),
                 qPrintable(out->errorString));
    }
    HttpProxy proxy;
    QString why;
    QVERIFY2(proxy.start(&why, u"me:s3cret"_s), qPrintable(why));
    for (const QString &userInfo : {QString(), u"me:wrong"_s}) {
        o.proxy = proxy.url(userInfo);
        auto out = getOnce(ledger, o, m_server->url(u"/fast"_s));
        QVERIFY(out->done);
        QCOMPARE(out->error, QNetworkReply::ProxyAuthenticationRequiredError);
        QVERIFY2(out->errorString.contains(userInfo.isEmpty() ? u"it asks for credentials"_s
                                                              : u"it refused the credentials"_s)
                     && !out->errorString.contains(u"wrong"_s),
                 qPrintable(out->errorString));
    }
    QVERIFY(proxy.refused >= 2);
    QCOMPARE(m_server->requestsReceived(u"/fast"_s), 0);
}

void TestNetworkProxy::drainThroughTheProxy()
{
    // The stop is the same through a proxy: what is in flight finishes, what waits never leaves.
    HttpProxy proxy;
    QString why;
    QVERIFY2(proxy.start(&why), qPrintable(why));
    WorkLedger ledger;
    NetworkOptions o = quickOptions();
    o.proxy = proxy.url();
    o.maxConcurrent = o.connectionsPerHost = 10;
    NetworkSession s(Svc, &ledger, o);
    const Outcomes outs = getMany(s, 30, m_server->url(u"/delay?ms=300"_s));
    QTRY_COMPARE(m_server->requestsReceived(u"/delay"_s), 10);
    NetworkSession::Control::beginDrain(s);
    QTRY_VERIFY(allDone(outs));
    const auto answered = std::count_if(outs.cbegin(), outs.cend(), [](const auto &out) { return out->status == 200; });
    QCOMPARE(answered, 10);
    QCOMPARE(proxy.requests.size(), 10);
    QCOMPARE(m_server->requestsReceived(u"/delay"_s), 10);
    NetworkSession::Control::close(s);
    QCOMPARE(s.state(), NetworkSession::State::Closed);
}

QTEST_MAIN(TestNetworkProxy)
#include "tst_networkproxy.moc"
