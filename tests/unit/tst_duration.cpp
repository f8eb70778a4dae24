// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Durations and sizes as written in the configuration ("250ms", "1.5s", "64MiB") and the typo suggestions used in
// its error messages: pure functions, no document or registry involved.
#include "config/config.h"

#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

class TestDuration : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseDuration_data();
    void parseDuration();
    void formatDuration_data();
    void formatDuration();
    void suggestClosest_data();
    void suggestClosest();
    void parseByteSize_data();
    void parseByteSize();
    void formatByteSize_data();
    void formatByteSize();
};

void TestDuration::parseDuration_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<bool>("ok");
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("error");

    QTest::newRow("milliseconds") << u"250ms"_s << true << qint64(250) << QString();
    QTest::newRow("seconds") << u"10s"_s << true << qint64(10000) << QString();
    QTest::newRow("fractional seconds") << u"1.5s"_s << true << qint64(1500) << QString();
    QTest::newRow("minutes") << u"2m"_s << true << qint64(120000) << QString();
    QTest::newRow("hours") << u"1h"_s << true << qint64(3600000) << QString();
    QTest::newRow("bare zero") << u"0"_s << true << qint64(0) << QString();
    QTest::newRow("zero with unit") << u"0ms"_s << true << qint64(0) << QString();
    QTest::newRow("fraction of a minute") << u"0.25m"_s << true << qint64(15000) << QString();
    QTest::newRow("missing unit suggests s and ms") << u"10"_s << false << qint64(0)
                                                    << u"missing unit; write \"10s\" or \"10ms\""_s;
    QTest::newRow("negative") << u"-5s"_s << false << qint64(0) << u"negative"_s;
    QTest::newRow("unknown unit") << u"5x"_s << false << qint64(0) << u"unknown unit \"x\"; use ms, s, m or h"_s;
    QTest::newRow("unit is case sensitive") << u"5S"_s << false << qint64(0) << u"unknown unit \"S\""_s;
    QTest::newRow("empty") << QString() << false << qint64(0) << u"empty duration"_s;
    QTest::newRow("junk") << u"soon"_s << false << qint64(0) << u"not a duration"_s;
    QTest::newRow("dot without digits") << u"1.s"_s << false << qint64(0) << u"not a duration"_s;
    QTest::newRow("space before unit") << u"10 s"_s << false << qint64(0) << u"unknown unit \" s\""_s;
    QTest::newRow("two units") << u"1m30s"_s << false << qint64(0) << u"unknown unit \"m30s\""_s;
    QTest::newRow("sub-millisecond") << u"1.5ms"_s << false << qint64(0) << u"whole milliseconds"_s;
    QTest::newRow("too large") << u"1000h"_s << false << qint64(0) << u"too large"_s;
}

void TestDuration::parseDuration()
{
    QFETCH(QString, text);
    QFETCH(bool, ok);
    QFETCH(qint64, ms);
    QFETCH(QString, error);
    Millis out{-1};
    QString reason;
    QCOMPARE(berth::parseDuration(text, &out, &reason), ok);
    if (ok)
        QCOMPARE(out.count(), ms);
    else
        QVERIFY2(reason.contains(error), qPrintable(reason));
}

void TestDuration::formatDuration_data()
{
    QTest::addColumn<qint64>("ms");
    QTest::addColumn<QString>("text");
    QTest::newRow("zero") << qint64(0) << u"0ms"_s;
    QTest::newRow("milliseconds") << qint64(250) << u"250ms"_s;
    QTest::newRow("fractional seconds") << qint64(1500) << u"1.5s"_s;
    QTest::newRow("two decimals") << qint64(13250) << u"13.25s"_s;
    QTest::newRow("whole seconds") << qint64(10000) << u"10s"_s;
    QTest::newRow("whole minutes") << qint64(120000) << u"2m"_s;
    QTest::newRow("seconds not minutes") << qint64(90000) << u"90s"_s;
    QTest::newRow("hours") << qint64(7200000) << u"2h"_s;
    QTest::newRow("odd milliseconds") << qint64(1001) << u"1001ms"_s;
}

void TestDuration::formatDuration()
{
    QFETCH(qint64, ms);
    QFETCH(QString, text);
    QCOMPARE(berth::formatDuration(Millis(ms)), text);
    Millis back{};
    QVERIFY(berth::parseDuration(text, &back, nullptr));
    QCOMPARE(back.count(), ms);
}

void TestDuration::suggestClosest_data()
{
    QTest::addColumn<QString>("word");
    QTest::addColumn<QString>("expected");
    QTest::newRow("one typo") << u"stopDelai"_s << u"stopDelay"_s;
    QTest::newRow("swapped letters") << u"tyep"_s << u"type"_s;
    QTest::newRow("case only") << u"StartDelay"_s << u"startDelay"_s;
    QTest::newRow("long word allows more edits") << u"workDurashun"_s << u"workDuration"_s;
    QTest::newRow("nothing close") << u"colour"_s << QString();
    QTest::newRow("one letter is never a typo") << u"x"_s << QString();
}

void TestDuration::suggestClosest()
{
    QFETCH(QString, word);
    QFETCH(QString, expected);
    const QStringList candidates = {u"name"_s, u"type"_s, u"startDelay"_s, u"stopDelay"_s,
                                    u"workDuration"_s, u"leak"_s};
    QCOMPARE(berth::suggestClosest(word, candidates), expected);
}

void TestDuration::parseByteSize_data()
{
    QTest::addColumn<QString>("text");
    QTest::addColumn<qint64>("bytes");   // -1: refused
    QTest::addColumn<QString>("error");
    QTest::newRow("bytes") << u"1000"_s << qint64(1000) << QString();
    QTest::newRow("bytes with unit") << u"1000B"_s << qint64(1000) << QString();
    QTest::newRow("zero") << u"0"_s << qint64(0) << QString();
    QTest::newRow("KiB") << u"512KiB"_s << qint64(512 * 1024) << QString();
    QTest::newRow("kB") << u"2kB"_s << qint64(2000) << QString();
    QTest::newRow("MiB") << u"64MiB"_s << qint64(64 * 1024 * 1024) << QString();
    QTest::newRow("MB") << u"3MB"_s << qint64(3000000) << QString();
    QTest::newRow("GiB") << u"2GiB"_s << qint64(2ll * 1024 * 1024 * 1024) << QString();
    QTest::newRow("GB") << u"1GB"_s << qint64(1000000000) << QString();
    QTest::newRow("fraction") << u"1.5MiB"_s << qint64(1572864) << QString();
    QTest::newRow("space before unit") << u"10 MiB"_s << qint64(10 * 1024 * 1024) << QString();
    QTest::newRow("largest") << u"1024GiB"_s << qint64(1024ll * 1024 * 1024 * 1024) << QString();
    QTest::newRow("negative") << u"-1"_s << qint64(-1) << u"negative sizes are not allowed"_s;
    QTest::newRow("unknown unit") << u"12XB"_s << qint64(-1) << u"unknown unit \"XB\"; write a number of bytes"_s;
    QTest::newRow("unit is case sensitive") << u"5mib"_s << qint64(-1) << u"unknown unit \"mib\""_s;
    QTest::newRow("junk") << u"big"_s << qint64(-1) << u"not a size"_s;
    QTest::newRow("empty") << QString() << qint64(-1) << u"not a size"_s;
    QTest::newRow("part of a byte") << u"1.3B"_s << qint64(-1) << u"whole bytes"_s;
    QTest::newRow("too large") << u"1025GiB"_s << qint64(-1) << u"too large"_s;
    QTest::newRow("far too large") << u"99999999999999999GiB"_s << qint64(-1) << u"too large"_s;
}

void TestDuration::parseByteSize()
{
    QFETCH(QString, text);
    QFETCH(qint64, bytes);
    QFETCH(QString, error);
    qint64 out = -7;
    QString reason;
    QCOMPARE(berth::parseByteSize(text, &out, &reason), bytes >= 0);
    if (bytes >= 0)
        QCOMPARE(out, bytes);
    else
        QVERIFY2(reason.contains(error), qPrintable(reason));
}

void TestDuration::formatByteSize_data()
{
    QTest::addColumn<qint64>("bytes");
    QTest::addColumn<QString>("text");
    QTest::newRow("one") << qint64(1) << u"1 byte"_s;
    QTest::newRow("bytes") << qint64(100000) << u"100000 bytes"_s;
    QTest::newRow("KiB") << qint64(65536) << u"64KiB"_s;
    QTest::newRow("MiB") << qint64(64ll * 1024 * 1024) << u"64MiB"_s;
    QTest::newRow("GiB") << qint64(3ll * 1024 * 1024 * 1024) << u"3GiB"_s;
    QTest::newRow("not whole") << qint64(1536 * 1024 + 1) << u"1572865 bytes"_s;
}

void TestDuration::formatByteSize()
{
    QFETCH(qint64, bytes);
    QFETCH(QString, text);
    QCOMPARE(berth::formatByteSize(bytes), text);
}

QTEST_GUILESS_MAIN(TestDuration)
#include "tst_duration.moc"
