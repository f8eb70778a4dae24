// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The public readers of berth/configvalue.h, as a service uses them on its own "config" object:
// a value, an absent key, a bad value, and a size check reported at the key's file:line:column.
#include <berth/configschema.h>
#include <berth/configvalue.h>
#include <berth/serviceregistry.h>

#include "config/config.h"   // parseConfig: the host running a service's check

#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

namespace {

/// {"key": <json>} or {} when \a json is empty.
QJsonObject configWith(const QByteArray &json)
{
    return json.isEmpty() ? QJsonObject()
                          : QJsonDocument::fromJson("{\"key\": " + json + '}').object();
}

} // namespace

class TestConfigValue : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void durationValue_data();
    void durationValue();
    void byteSizeValue_data();
    void byteSizeValue();
    void checkByteSize_data();
    void checkByteSize();
    void aSizeChecksErrorNamesFileLineAndColumn();
    void aGoodSizePassesTheHostsCheck();
};

void TestConfigValue::durationValue_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("fallback");
    QTest::addColumn<qint64>("ms");

    QTest::newRow("milliseconds") << QByteArray(R"("250ms")") << qint64(1000) << qint64(250);
    QTest::newRow("fractional seconds") << QByteArray(R"("1.5s")") << qint64(0) << qint64(1500);
    QTest::newRow("zero is a value, not the fallback") << QByteArray(R"("0")") << qint64(1000) << qint64(0);
    QTest::newRow("absent key gives the fallback") << QByteArray() << qint64(1000) << qint64(1000);
    QTest::newRow("bad duration gives the fallback") << QByteArray(R"("5x")") << qint64(7) << qint64(7);
    QTest::newRow("a number is not a duration") << QByteArray("250") << qint64(7) << qint64(7);
    QTest::newRow("null gives the fallback") << QByteArray("null") << qint64(7) << qint64(7);
}

void TestConfigValue::durationValue()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, fallback);
    QFETCH(qint64, ms);
    QCOMPARE(berth::durationValue(configWith(json), u"key"_s, Millis(fallback)).count(), ms);
}

void TestConfigValue::byteSizeValue_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<qint64>("fallback");
    QTest::addColumn<qint64>("bytes");

    QTest::newRow("binary unit") << QByteArray(R"("64MiB")") << qint64(0) << qint64(64) * 1024 * 1024;
    QTest::newRow("fraction of a unit") << QByteArray(R"("1.5KiB")") << qint64(0) << qint64(1536);
    QTest::newRow("decimal unit") << QByteArray(R"("2kB")") << qint64(0) << qint64(2000);
    QTest::newRow("whole number of bytes") << QByteArray("4096") << qint64(0) << qint64(4096);
    QTest::newRow("bytes as a string") << QByteArray(R"("4096")") << qint64(0) << qint64(4096);
    QTest::newRow("zero is a value, not the fallback") << QByteArray(R"("0")") << qint64(10) << qint64(0);
    QTest::newRow("absent key gives the fallback") << QByteArray() << qint64(10) << qint64(10);
    QTest::newRow("unknown unit gives the fallback") << QByteArray(R"("64MiBs")") << qint64(10) << qint64(10);
    QTest::newRow("fractional number gives the fallback") << QByteArray("1.5") << qint64(10) << qint64(10);
    QTest::newRow("boolean gives the fallback") << QByteArray("true") << qint64(10) << qint64(10);
}

void TestConfigValue::byteSizeValue()
{
    QFETCH(QByteArray, json);
    QFETCH(qint64, fallback);
    QFETCH(qint64, bytes);
    QCOMPARE(berth::byteSizeValue(configWith(json), u"key"_s, fallback), bytes);
}

void TestConfigValue::checkByteSize_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<QString>("problem");   // empty: accepted; else a part of the message

    QTest::newRow("size with a unit") << QByteArray(R"("512KiB")") << QString();
    QTest::newRow("whole number of bytes") << QByteArray("65536") << QString();
    QTest::newRow("zero") << QByteArray(R"("0")") << QString();
    QTest::newRow("unknown unit names it") << QByteArray(R"("64MiBs")") << u"unknown unit \"MiBs\""_s;
    QTest::newRow("negative") << QByteArray(R"("-1KiB")") << u"negative sizes are not allowed"_s;
    QTest::newRow("part of a byte") << QByteArray(R"("1.3B")") << u"sizes are whole bytes"_s;
    QTest::newRow("too large") << QByteArray(R"("2048GiB")") << u"too large; the maximum is 1024GiB"_s;
    QTest::newRow("fractional number shows it")
        << QByteArray("1.5") << u"expected a size such as \"64MiB\" or a whole number of bytes, got 1.5"_s;
    QTest::newRow("boolean names the type") << QByteArray("true") << u"got a boolean"_s;
}

void TestConfigValue::checkByteSize()
{
    QFETCH(QByteArray, json);
    QFETCH(QString, problem);
    const QString got = berth::checkByteSize(configWith(json).value(u"key"_s));
    if (problem.isEmpty())
        QVERIFY2(got.isEmpty(), qPrintable(got));
    else
        QVERIFY2(got.contains(problem), qPrintable(got));
}

namespace {

/// A user's type with a size key, checked by checkByteSize, and a duration key.
ServiceRegistry cacheRegistry()
{
    using K = ConfigKey::Kind;
    ServiceRegistry registry;
    ConfigKey maxBody{u"maxBody"_s, K::String, u"largest body kept"_s, false, {}};
    maxBody.check = berth::checkByteSize;
    registry.add({u"cache"_s, u"test only"_s,
                  {maxBody, {u"ttl"_s, K::Duration, u"how long an entry lives"_s, false, {}}},
                  {}});
    return registry;
}

ConfigResult parseCache(const QByteArray &config)
{
    return parseConfig(R"({ "services": [
  { "name": "c", "type": "cache", "config": )" + config + " } ] }",
                       u"cache.json"_s, cacheRegistry());
}

} // namespace

void TestConfigValue::aSizeChecksErrorNamesFileLineAndColumn()
{
    const ConfigResult result = parseCache(R"({ "ttl": "10s", "maxBody": "64MiBs" })");
    QCOMPARE(result.errors.size(), 1);
    QCOMPARE(result.errors.first().toString(),
             u"cache.json:2:72: services[0].config.maxBody: unknown unit \"MiBs\"; write a number of bytes or "
             "a number and a unit (B, kB, KiB, MB, MiB, GB, GiB), e.g. \"512KiB\" or \"64MiB\"; \"0\" for none"_s);
}

void TestConfigValue::aGoodSizePassesTheHostsCheck()
{
    const ConfigResult result = parseCache(R"({ "ttl": "10s", "maxBody": "64MiB" })");
    QVERIFY2(result.ok(), qPrintable(result.errors.isEmpty() ? QString() : result.errors.first().toString()));
    const QJsonObject config = result.config.services.first().config;
    QCOMPARE(berth::byteSizeValue(config, u"maxBody"_s), qint64(64) * 1024 * 1024);
    QCOMPARE(berth::durationValue(config, u"ttl"_s), Millis(10000));
}

QTEST_GUILESS_MAIN(TestConfigValue)
#include "tst_configvalue.moc"
