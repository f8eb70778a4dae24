// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/trace.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

using namespace Qt::StringLiterals;
using namespace berth;

class TestTrace : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void spansAndInstantsInMicroseconds();
    void writeToReportsUnwritablePath();
};

void TestTrace::spansAndInstantsInMicroseconds()
{
    Trace trace;
    trace.setLaneName(0, u"host"_s);
    trace.setLaneName(1, u"store"_s);
    trace.span(1, u"stop"_s, u"shutdown"_s, 100, 350, u"stopped"_s);
    trace.instant(0, u"stop requested"_s, 90, u"SIGTERM"_s);
    QJsonParseError error;
    const QJsonObject doc = QJsonDocument::fromJson(trace.toJson(), &error).object();
    QCOMPARE(error.error, QJsonParseError::NoError);
    QCOMPARE(doc.value(u"displayTimeUnit"_s).toString(), u"ms"_s);
    const QJsonArray events = doc.value(u"traceEvents"_s).toArray();
    QJsonObject span, instant, laneName;
    for (const auto &v : events) {
        const QJsonObject o = v.toObject();
        if (o.value(u"ph"_s) == u"X"_s)
            span = o;
        else if (o.value(u"ph"_s) == u"i"_s)
            instant = o;
        else if (o.value(u"name"_s) == u"thread_name"_s && o.value(u"tid"_s).toInt() == 1)
            laneName = o;
    }
    QCOMPARE(span.value(u"ts"_s).toDouble(), 100000.0);
    QCOMPARE(span.value(u"dur"_s).toDouble(), 250000.0);
    QCOMPARE(span.value(u"tid"_s).toInt(), 1);
    QCOMPARE(span.value(u"args"_s).toObject().value(u"detail"_s).toString(), u"stopped"_s);
    QCOMPARE(instant.value(u"ts"_s).toDouble(), 90000.0);
    QCOMPARE(instant.value(u"s"_s).toString(), u"t"_s);
    QCOMPARE(laneName.value(u"args"_s).toObject().value(u"name"_s).toString(), u"store"_s);
}

void TestTrace::writeToReportsUnwritablePath()
{
    Trace trace;
    QString error;
    QVERIFY(!trace.writeTo(u"/nonexistent-dir/trace.json"_s, &error));
    QVERIFY2(error.startsWith(u"/nonexistent-dir/trace.json: "_s), qPrintable(error));
    QTemporaryDir dir;
    QVERIFY(trace.writeTo(dir.filePath(u"t.json"_s), &error));
}

QTEST_GUILESS_MAIN(TestTrace)
#include "tst_trace.moc"
