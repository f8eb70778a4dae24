// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's pure rules, without a server: the redirect decision, URL redaction,
// Retry-After parsing, backoff, idempotent methods, and the checks of the "network" config
// block and of the http-poller's config (reported with file, line and key).
#include <berth/networksession.h>
#include <berth/serviceregistry.h>

#include "config/config.h"
#include "network/networksession_p.h"
#include "httpfixture.h"
#include "httppoller.h"

#include <QtCore/QDateTime>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QSet>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace std::chrono_literals;
using namespace berth;

class TestNetworkHelpers : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void laneNames_data();
    void laneNames();
    void redirectDecision_data();
    void redirectDecision();
    void redactUrl_data();
    void redactUrl();
    void retryAfterParsing_data();
    void retryAfterParsing();
    void backoffIsFullJitterUnderCap();
    void idempotentMethods();
    void networkConfigIsValidated_data();
    void networkConfigIsValidated();
    void pollerConfigIsChecked_data();
    void pollerConfigIsChecked();
    void pollResultLineIsJson_data();
    void pollResultLineIsJson();
};

void TestNetworkHelpers::redirectDecision_data()
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

void TestNetworkHelpers::redirectDecision()
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

void TestNetworkHelpers::redactUrl_data()
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

void TestNetworkHelpers::redactUrl()
{
    QFETCH(QString, url);
    QFETCH(QString, expected);
    QCOMPARE(NetworkSession::redact(QUrl(url), NetworkSession::builtinRedactedQuery() + QStringList{u"tenant"_s}), expected);
}

void TestNetworkHelpers::retryAfterParsing_data()
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

void TestNetworkHelpers::retryAfterParsing()
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

void TestNetworkHelpers::backoffIsFullJitterUnderCap()
{
    QCOMPARE(net::backoffDelay(1, 100ms, 10s, 0.0).count(), 0);
    QCOMPARE(net::backoffDelay(1, 100ms, 10s, 0.999999).count(), 99);
    QCOMPARE(net::backoffDelay(3, 100ms, 10s, 0.5).count(), 200);     // ceiling 400
    QCOMPARE(net::backoffDelay(20, 100ms, 10s, 0.5).count(), 5000);   // ceiling capped at 10 s
    QCOMPARE(net::backoffDelay(200, 100ms, 10s, 1.0).count(), 10000);
}

void TestNetworkHelpers::idempotentMethods()
{
    for (const char *v : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "get"})
        QVERIFY2(net::isIdempotent(v), v);
    for (const char *v : {"POST", "PATCH", "CONNECT"})
        QVERIFY2(!net::isIdempotent(v), v);
}

void TestNetworkHelpers::networkConfigIsValidated_data()
{
    QTest::addColumn<QByteArray>("network");
    QTest::addColumn<QString>("expected");
    QTest::newRow("ok") << QByteArray(R"({"transferTimeout": "5s", "retry": {"attempts": 5}})") << QString();
    QTest::newRow("tls off") << QByteArray(R"({"insecure": true})") << u"services[0].network.insecure: TLS certificate verification cannot be turned off"_s;
    QTest::newRow("unknown key") << QByteArray(R"({"maxConcurency": 4})") << u"did you mean \"maxConcurrent\""_s;
    QTest::newRow("bad duration") << QByteArray(R"({"transferTimeout": "5x"})") << u"services[0].network.transferTimeout: bad duration"_s;
    QTest::newRow("call timeout") << QByteArray(R"({"callTimeout": "10s"})") << QString();
    QTest::newRow("bad call timeout") << QByteArray(R"({"callTimeout": "ten"})") << u"services[0].network.callTimeout: bad duration"_s;
    QTest::newRow("bad attempts") << QByteArray(R"({"retry": {"attempts": 0}})") << u"services[0].network.retry.attempts: expected a whole number from 1 to 100"_s;
    QTest::newRow("base over cap") << QByteArray(R"({"retry": {"base": "2m", "cap": "1m"}})") << u"base 2m exceeds cap 1m"_s;
    QTest::newRow("bad status") << QByteArray(R"({"retry": {"statuses": [200]}})") << u"retry.statuses[0]: expected an HTTP status"_s;
    QTest::newRow("rate") << QByteArray(R"({"rateLimit": {"perSecond": 0}})") << u"rateLimit.perSecond: expected a number of requests per second greater than 0"_s;
    QTest::newRow("redirects") << QByteArray(R"({"redirects": "always"})") << u"\"always\" is not one of"_s;
    QTest::newRow("ca missing") << QByteArray(R"({"caBundle": "/nonexistent/ca.pem"})") << u"network.caBundle: cannot read /nonexistent/ca.pem"_s;
    QTest::newRow("cache needs dir") << QByteArray(R"({"cache": {"maxMiB": 5}})") << u"network.cache: missing required key \"dir\""_s;
    QTest::newRow("proxy ok") << QByteArray(R"({"proxy": "http://me:pw@proxy.example:3128", "noProxy": [".corp", "10.0.0.0/8"]})") << QString();
    QTest::newRow("proxy none") << QByteArray(R"({"proxy": "none"})") << QString();
    QTest::newRow("proxy scheme") << QByteArray(R"({"proxy": "https://me:s3cret@p:443"})")
                                  << u"services[0].network.proxy: https:// proxies (TLS to the proxy) are not supported"_s;
    QTest::newRow("proxy garbage") << QByteArray(R"({"proxy": "http://me:s3cret@"})")
                                   << u"services[0].network.proxy: \"http://***@\" is not a proxy URL"_s;
    QTest::newRow("noProxy entry") << QByteArray(R"({"noProxy": ["a.example", "http://b.example"]})")
                                   << u"services[0].network.noProxy[1]: \"http://b.example\" is not a host name"_s;
    QTest::newRow("size cap") << QByteArray(R"({"maxResponseSize": "512KiB"})") << QString();
    QTest::newRow("size cap in bytes") << QByteArray(R"({"maxResponseSize": 0})") << QString();
    QTest::newRow("bad size cap") << QByteArray(R"({"maxResponseSize": "12XB"})")
                                  << u"services[0].network.maxResponseSize: unknown unit \"XB\""_s;
    QTest::newRow("negative size cap") << QByteArray(R"({"maxResponseSize": -1})")
                                       << u"services[0].network.maxResponseSize: negative sizes are not allowed"_s;
    QTest::newRow("size cap type") << QByteArray(R"({"maxResponseSize": true})")
                                   << u"services[0].network.maxResponseSize: expected a size such as \"64MiB\""_s;
    QTest::newRow("noProxy type") << QByteArray(R"({"noProxy": "a.example"})") << u"services[0].network.noProxy: expected"_s;
}

void TestNetworkHelpers::networkConfigIsValidated()
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
    QVERIFY2(!r.errors.first().toString().contains(u"s3cret"_s), qPrintable(r.errors.first().toString()));
    QVERIFY2(r.errors.first().toString().startsWith(u"test.json:1:"_s), qPrintable(r.errors.first().toString()));
}

void TestNetworkHelpers::pollerConfigIsChecked_data()
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

void TestNetworkHelpers::pollerConfigIsChecked()
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

void TestNetworkHelpers::pollResultLineIsJson_data()
{
    // The poller's output line, built by hand: whatever the URL and error text hold, it parses
    // as JSON to the same values, and its time is what QDateTime makes of the same instant.
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("url");
    QTest::addColumn<QString>("error");
    QTest::addColumn<int>("attempts");
    const qint64 t = QDateTime(QDate(2026, 11, 30), QTime(23, 59, 59, 7), Qt::UTC).toMSecsSinceEpoch();
    QTest::newRow("plain") << t << u"http://127.0.0.1:8080/delay?ms=200"_s << QString() << 1;
    QTest::newRow("next second") << t + 993 << u"http://h/"_s << QString() << 1;
    QTest::newRow("retried, with an error") << t + 10 << u"http://h/x"_s
                                            << u"GET http://h/x: HTTP 503 Service Unavailable"_s << 3;
    QTest::newRow("quotes, backslash, breaks, controls") << t << u"http://h/a\"b\\c"_s
                                                         << u"line\nbreak\r\ttab \x01\x1f \"q\""_s << 2;
    QTest::newRow("non-ASCII") << t << u"http://h/caf\u00e9"_s << u"\u30a8\u30e9\u30fc \U0001F600"_s << 1;
    QTest::newRow("before 1970") << qint64(-1500) << u"http://h/"_s << QString() << 1;
}

void TestNetworkHelpers::pollResultLineIsJson()
{
    QFETCH(qint64, ms);
    QFETCH(QString, url);
    QFETCH(QString, error);
    QFETCH(int, attempts);
    const QByteArray line = pollResultLine(ms, url, 200, 201.5, 1234, attempts, error);
    QVERIFY2(!line.contains('\n'), line.constData());
    QJsonParseError pe;
    const QJsonDocument doc = QJsonDocument::fromJson(line, &pe);
    QVERIFY2(pe.error == QJsonParseError::NoError, qPrintable(pe.errorString() + u": "_s + QString::fromUtf8(line)));
    const QJsonObject o = doc.object();
    QCOMPARE(o.value(u"time"_s).toString(),
             QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs));
    QCOMPARE(o.value(u"url"_s).toString(), url);
    QCOMPARE(o.value(u"status"_s).toInt(), 200);
    QCOMPARE(o.value(u"latencyMs"_s).toDouble(), 201.5);
    QCOMPARE(o.value(u"bytes"_s).toInteger(), 1234);
    QCOMPARE(o.contains(u"attempts"_s), attempts > 1);
    if (attempts > 1)
        QCOMPARE(o.value(u"attempts"_s).toInt(), attempts);
    QCOMPARE(o.contains(u"error"_s), !error.isEmpty());
    QCOMPARE(o.value(u"error"_s).toString(), error);
}

void TestNetworkHelpers::laneNames_data()
{
    // A lane's peer verify name: none on lane 0; for HTTPS the host in other letter cases (so
    // verification and SNI, which compare case-insensitively, still check the real host).
    QTest::addColumn<QString>("url");
    QTest::addColumn<int>("lanes");
    QTest::addColumn<QStringList>("names");   // lanes 0, 1, 2, ...
    QTest::newRow("http") << u"http://127.0.0.1:8080/x"_s << netdetail::MaxLanes
                          << QStringList{QString(), u"lane-1.berth.invalid"_s, u"lane-2.berth.invalid"_s};
    QTest::newRow("https host") << u"https://ab.io/"_s << 1 + (1 << 4)
                                << QStringList{QString(), u"ab.io"_s, u"Ab.io"_s, u"aB.io"_s, u"AB.io"_s, u"ab.Io"_s};
    QTest::newRow("https ip") << u"https://127.0.0.1/"_s << 2 << QStringList{QString(), u"127.0.0.1"_s};
    QTest::newRow("https long host") << u"https://example.internal/"_s << netdetail::MaxLanes
                                     << QStringList{QString(), u"example.internal"_s, u"Example.internal"_s};
}

void TestNetworkHelpers::laneNames()
{
    QFETCH(QString, url);
    QFETCH(int, lanes);
    QFETCH(QStringList, names);
    const QUrl u(url);
    QCOMPARE(netdetail::lanesFor(u, false), lanes);
    QCOMPARE(netdetail::lanesFor(u, true), 1);   // the caller's own peer name: one pool
    QSet<QString> distinct;
    for (int lane = 0; lane < names.size(); ++lane) {
        QCOMPARE(netdetail::laneName(u, lane), names.at(lane));
        distinct.insert(netdetail::laneName(u, lane));
        if (u.scheme() == u"https"_s && lane > 0)
            QCOMPARE(netdetail::laneName(u, lane).toLower(), u.host());
    }
    QCOMPARE(distinct.size(), names.size());   // each lane is a pool of its own
}

QTEST_MAIN(TestNetworkHelpers)
#include "tst_networkhelpers.moc"
