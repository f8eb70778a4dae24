// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The positioned JSON parser: where values and keys are, string decoding, syntax errors as
// parseConfig reports them (file, line:column, no key path), and how an error's position is
// written out.
#include "config/config.h"
#include "config/configjson.h"
#include "tests/support/configtesthelpers.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

class TestConfigJson : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void jsonPositions();
    void jsonStrings();
    void syntaxErrors_data();
    void syntaxErrors();
    void errorToString_data();
    void errorToString();
};

void TestConfigJson::jsonPositions()
{
    // BOM, a multi-byte character (columns count code points), nesting and arrays.
    const QByteArray text = "\xEF\xBB\xBF{\n  \"k\\u00e9y\": \"\xC3\xA9t\xC3\xA9\", \"n\": [1, {\"x\": null}],\n"
                            "\t\"b\": true\n}";
    PositionedJson doc;
    JsonSyntaxError error;
    QVERIFY2(parsePositionedJson(text, &doc, &error), qPrintable(error.message));
    const auto at = [](JsonPosition p) { return QPair<int, int>(p.line, p.column); };
    QCOMPARE(at(doc.valueAt(QString())), qMakePair(1, 1));
    QCOMPARE(at(doc.keyAt(u"k\u00e9y"_s)), qMakePair(2, 3));
    QCOMPARE(at(doc.valueAt(u"k\u00e9y"_s)), qMakePair(2, 15));
    QCOMPARE(at(doc.keyAt(u"n"_s)), qMakePair(2, 22));
    QCOMPARE(at(doc.valueAt(u"n[0]"_s)), qMakePair(2, 28));
    QCOMPARE(at(doc.valueAt(u"n[1].x"_s)), qMakePair(2, 37));
    QCOMPARE(at(doc.keyAt(u"n[1]"_s)), qMakePair(2, 31)); // elements have no key: value position
    QCOMPARE(at(doc.keyAt(u"b"_s)), qMakePair(3, 2));
    QVERIFY(!doc.valueAt(u"missing"_s).isValid());
    QCOMPARE(doc.root.toObject().value(u"n"_s).toArray().at(1).toObject().value(u"x"_s).type(),
             QJsonValue::Null);
    QCOMPARE(doc.root.toObject().value(u"k\u00e9y"_s).toString(), u"\u00e9t\u00e9"_s);
}

void TestConfigJson::jsonStrings()
{
    PositionedJson doc;
    JsonSyntaxError error;
    QVERIFY(parsePositionedJson(R"(["a\"b\\c\/d\b\f\n\r\t", "\ud83d\ude00", "\u0041", -1.5e2, 0])", &doc, &error));
    const QJsonArray array = doc.root.toArray();
    QCOMPARE(array.at(0).toString(), u"a\"b\\c/d\b\f\n\r\t"_s);
    QCOMPARE(array.at(1).toString(), QString::fromUcs4(U"\U0001F600", 1));
    QCOMPARE(array.at(2).toString(), u"A"_s);
    QCOMPARE(array.at(3).toDouble(), -150.0);
    QCOMPARE(array.at(4).toDouble(), 0.0);
}

void TestConfigJson::syntaxErrors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("message");

    QTest::newRow("trailing comma in object") << QByteArray("{\n  \"a\": 1,\n}") << 2 << 9
                                              << u"trailing comma before '}' is not allowed"_s;
    QTest::newRow("trailing comma in array") << QByteArray("{ \"a\": [1, 2, ] }") << 1 << 13
                                             << u"trailing comma before ']' is not allowed"_s;
    QTest::newRow("unterminated string at end") << QByteArray("{ \"a\": \"abc") << 1 << 8
                                                << u"unterminated string"_s;
    QTest::newRow("unterminated string at line end") << QByteArray("{ \"a\": \"abc\n}") << 1 << 8
                                                     << u"unterminated string"_s;
    QTest::newRow("duplicate key names both lines") << QByteArray("{\n  \"a\": 1,\n\n  \"a\": 2\n}") << 4 << 3
                                                    << u"duplicate key \"a\" on line 4; it is already defined on line 2"_s;
    QTest::newRow("line comment") << QByteArray("{\n  // note\n  \"a\": 1\n}") << 2 << 3
                                  << u"comments are not allowed in JSON"_s;
    QTest::newRow("block comment") << QByteArray("{ \"a\": 1 /* x */ }") << 1 << 10
                                   << u"comments are not allowed in JSON"_s;
    QTest::newRow("missing comma between members") << QByteArray("{\n  \"a\": 1\n  \"b\": 2\n}") << 3 << 3
                                                   << u"expected ',' or '}' after object member, found character '\"'"_s;
    QTest::newRow("missing comma between elements") << QByteArray("[1 2]") << 1 << 4
                                                    << u"expected ',' or ']' after array element"_s;
    QTest::newRow("missing colon") << QByteArray("{ \"a\" 1 }") << 1 << 7 << u"expected ':' after object key"_s;
    QTest::newRow("single quotes") << QByteArray("{ \"a\": 'x' }") << 1 << 8
                                   << u"strings must use double quotes"_s;
    QTest::newRow("unquoted key") << QByteArray("{ a: 1 }") << 1 << 3 << u"expected a key in double quotes"_s;
    QTest::newRow("capitalised literal") << QByteArray("{ \"a\": True }") << 1 << 8
                                         << u"\"True\" is not valid JSON; write \"true\""_s;
    QTest::newRow("bare word") << QByteArray("{ \"a\": chaos }") << 1 << 8
                               << u"unexpected word \"chaos\"; strings must be in double quotes"_s;
    QTest::newRow("unquoted duration") << QByteArray("{ \"a\": 10s }") << 1 << 10
                                       << u"unexpected character 's' after a number"_s;
    QTest::newRow("leading zero") << QByteArray("[012]") << 1 << 2 << u"leading zeros"_s;
    QTest::newRow("dot without digits") << QByteArray("[1.]") << 1 << 4 << u"expected a digit after '.'"_s;
    QTest::newRow("empty document") << QByteArray(" \n ") << 2 << 2 << u"empty document"_s;
    QTest::newRow("unclosed object") << QByteArray("{\n  \"a\": {\n    \"b\": 1\n") << 4 << 1
                                     << u"the object opened at line 2, column 8 is not closed"_s;
    QTest::newRow("unclosed array") << QByteArray("[1,") << 1 << 4
                                    << u"the array opened at line 1, column 1 is not closed"_s;
    QTest::newRow("nesting depth is limited") << QByteArray(300, '[') << 1 << 258 << u"nesting is deeper than 256"_s;
    QTest::newRow("content after document") << QByteArray("{}\n{}") << 2 << 1
                                            << u"unexpected character '{' after the end of the document"_s;
    QTest::newRow("invalid escape") << QByteArray("[\"a\\qb\"]") << 1 << 4 << u"invalid escape '\\q'"_s;
    QTest::newRow("unpaired surrogate") << QByteArray("[\"\\ud83d!\"]") << 1 << 3
                                        << u"not followed by a low surrogate"_s;
    QTest::newRow("raw tab in string") << QByteArray("[\"a\tb\"]") << 1 << 4
                                       << u"control character U+0009 in string"_s;
    QTest::newRow("invalid UTF-8") << QByteArray("[\"ok\",\n \"\xC3(\"]") << 2 << 3 << u"invalid UTF-8 (byte 0xC3)"_s;
    QTest::newRow("columns count characters not bytes") << QByteArray("{ \"\xC3\xA9\xC3\xA9\": , }") << 1 << 9
                                                        << u"expected a value, found character ','"_s;
}

void TestConfigJson::syntaxErrors()
{
    QFETCH(QByteArray, json);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, message);
    const ConfigResult result = parse(json);
    QCOMPARE(result.errors.size(), 1);
    const ConfigError &e = result.errors.first();
    QVERIFY2(e.message.contains(message), qPrintable(e.message));
    QCOMPARE(e.file, u"test.json"_s);
    QCOMPARE(e.line, line);
    QCOMPARE(e.column, column);
    QCOMPARE(e.keyPath, QString());
}

void TestConfigJson::errorToString_data()
{
    QTest::addColumn<QString>("file");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("keyPath");
    QTest::addColumn<QString>("expected");
    QTest::newRow("everything") << u"berth.json"_s << 12 << 7 << u"services[1].config.stopDelay"_s
                                << u"berth.json:12:7: services[1].config.stopDelay: bad duration \"5x\""_s;
    QTest::newRow("syntax error has no key path") << u"berth.json"_s << 3 << 1 << QString()
                                                  << u"berth.json:3:1: bad duration \"5x\""_s;
    QTest::newRow("no position") << u"berth.json"_s << 0 << 0 << QString()
                                 << u"berth.json: bad duration \"5x\""_s;
    QTest::newRow("no file") << QString() << 2 << 4 << u"shutdown"_s
                             << u"2:4: shutdown: bad duration \"5x\""_s;
}

void TestConfigJson::errorToString()
{
    QFETCH(QString, file);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, keyPath);
    QFETCH(QString, expected);
    const ConfigError e{file, line, column, keyPath, u"bad duration \"5x\""_s};
    QCOMPARE(e.toString(), expected);
}

QTEST_GUILESS_MAIN(TestConfigJson)
#include "tst_configjson.moc"
