// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "config.h"
#include "configjson.h"

#include <berth/serviceregistry.h>

#include <QtCore/QJsonArray>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

namespace {

ServiceRegistry testRegistry()
{
    using K = ConfigKey::Kind;
    ServiceRegistry registry;
    registry.add({u"chaos"_s, u"misbehaves on purpose"_s,
                  {{u"startDelay"_s, K::Duration, {}, false, {}},
                   {u"startFail"_s, K::Bool, {}, false, {}},
                   {u"stopDelay"_s, K::Duration, {}, false, {}},
                   {u"stopHang"_s, K::Bool, {}, false, {}},
                   {u"stopBlock"_s, K::Duration, {}, false, {}},
                   {u"leak"_s, K::Integer, {}, false, {}},
                   {u"failAfter"_s, K::Duration, {}, false, {}},
                   {u"throwIn"_s, K::Enum, {}, false, {u"start"_s, u"stop"_s}},
                   {u"workEvery"_s, K::Duration, {}, false, {}},
                   {u"workDuration"_s, K::Duration, {}, false, {}}},
                  {}});
    // Exercises the schema kinds chaos does not use.
    registry.add({u"probe"_s, u"test only"_s,
                  {{u"target"_s, K::String, {}, true, {}},
                   {u"tags"_s, K::StringList, {}, false, {}},
                   {u"hosts"_s, K::StringOrList, {}, false, {}},
                   {u"ratio"_s, K::Number, {}, false, {}},
                   {u"options"_s, K::Object, {}, false, {}}},
                  {}});
    return registry;
}

/// One service "a" of type chaos; \a body starts at line 3, column 37.
QByteArray oneService(const QByteArray &body)
{
    return "{\n  \"services\": [\n    { \"name\": \"a\", \"type\": \"chaos\", " + body + " }\n  ]\n}\n";
}

/// One chaos service "a" whose "config" object holds \a body, starting at line 3, column 49.
QByteArray chaosConfig(const QByteArray &body)
{
    return oneService("\"config\": { " + body + " }");
}

ConfigResult parse(const QByteArray &json)
{
    return parseConfig(json, u"test.json"_s, testRegistry());
}

QString dump(const QList<ConfigError> &errors)
{
    QStringList lines;
    for (const ConfigError &e : errors)
        lines.append(e.toString());
    return lines.join(u'\n');
}

} // namespace

class TestConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void parseDuration_data();
    void parseDuration();
    void formatDuration_data();
    void formatDuration();
    void suggestClosest_data();
    void suggestClosest();
    void jsonPositions();
    void jsonStrings();
    void syntaxErrors_data();
    void syntaxErrors();
    void validationErrors_data();
    void validationErrors();
    void multipleErrorsInFileOrder();
    void twoCyclesReportedDeterministically();
    void defaultsApplied();
    void allServiceKeysRead();
    void demoConfigParsesCleanly();
    void missingFileNamesPath();
    void loadFileSetsSourceAndErrorFile();
    void errorToString_data();
    void errorToString();
};

void TestConfig::parseDuration_data()
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

void TestConfig::parseDuration()
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

void TestConfig::formatDuration_data()
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

void TestConfig::formatDuration()
{
    QFETCH(qint64, ms);
    QFETCH(QString, text);
    QCOMPARE(berth::formatDuration(Millis(ms)), text);
    Millis back{};
    QVERIFY(berth::parseDuration(text, &back, nullptr));
    QCOMPARE(back.count(), ms);
}

void TestConfig::suggestClosest_data()
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

void TestConfig::suggestClosest()
{
    QFETCH(QString, word);
    QFETCH(QString, expected);
    const QStringList candidates = {u"name"_s, u"type"_s, u"startDelay"_s, u"stopDelay"_s,
                                    u"workDuration"_s, u"leak"_s};
    QCOMPARE(berth::suggestClosest(word, candidates), expected);
}

void TestConfig::jsonPositions()
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

void TestConfig::jsonStrings()
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

void TestConfig::syntaxErrors_data()
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

void TestConfig::syntaxErrors()
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

void TestConfig::validationErrors_data()
{
    QTest::addColumn<QByteArray>("json");
    QTest::addColumn<int>("line");
    QTest::addColumn<int>("column");
    QTest::addColumn<QString>("keyPath");
    QTest::addColumn<QString>("message");
    const auto row = [](const char *name, const QByteArray &json, int line, int column,
                        const QString &keyPath, const QString &message) {
        QTest::newRow(name) << json << line << column << keyPath << message;
    };

    // Unknown keys: positioned at the key, with a suggestion or the list of known keys.
    row("unknown top-level key suggests closest", R"({
  "services": [ { "name": "a", "type": "chaos" } ],
  "shutdwn": {}
})", 3, 3, u"shutdwn"_s, u"unknown key \"shutdwn\"; did you mean \"shutdown\"?"_s);
    row("unknown key without a close match lists known keys",
        R"({ "services": [ { "name": "a", "type": "chaos" } ], "colour": 1 })", 1, 53, u"colour"_s,
        u"unknown key \"colour\"; known keys: shutdown, services"_s);
    row("unknown service key suggests closest", oneService(R"("atfer": [])"), 3, 37,
        u"services[0].atfer"_s, u"did you mean \"after\"?"_s);
    row("unknown shutdown key suggests closest", R"({
  "shutdown": { "dedline": "5s" },
  "services": [ { "name": "a", "type": "chaos" } ]
})", 2, 17, u"shutdown.dedline"_s, u"unknown key \"dedline\"; did you mean \"deadline\"?"_s);
    row("unknown config key suggests among the type's keys", chaosConfig(R"("stopDelai": "1s")"), 3, 49,
        u"services[0].config.stopDelai"_s,
        u"unknown key \"stopDelai\" for type \"chaos\"; did you mean \"stopDelay\"?"_s);

    // Document shape.
    row("top level must be an object", "[]", 1, 1, QString(),
        u"expected an object at the top level, got an array"_s);
    row("services is required", R"({ "shutdown": {} })", 1, 1, u"services"_s,
        u"missing required key \"services\""_s);
    row("services must be an array", R"({ "services": {} })", 1, 15, u"services"_s,
        u"expected an array, got an object"_s);
    row("at least one service", R"({ "services": [] })", 1, 15, u"services"_s, u"no services configured"_s);
    row("service must be an object", R"({ "services": ["a"] })", 1, 16, u"services[0]"_s,
        u"expected an object, got a string"_s);

    // Names and types.
    row("service name is required", "{\n  \"services\": [\n    { \"type\": \"chaos\" }\n  ]\n}", 3, 5,
        u"services[0]"_s, u"missing required key \"name\""_s);
    row("service type is required", "{\n  \"services\": [\n    { \"name\": \"a\" }\n  ]\n}", 3, 5,
        u"services[0]"_s, u"missing required key \"type\""_s);
    row("name must be a string", R"({ "services": [ { "name": 5, "type": "chaos" } ] })", 1, 27,
        u"services[0].name"_s, u"expected a string, got a number"_s);
    row("name must not be empty", R"({ "services": [ { "name": "", "type": "chaos" } ] })", 1, 27,
        u"services[0].name"_s, u"service name must not be empty"_s);
    row("name characters are restricted", R"({ "services": [ { "name": "my service", "type": "chaos" } ] })",
        1, 27, u"services[0].name"_s, u"may only contain letters, digits, '_', '.' and '-'"_s);
    row("duplicate name names the first line", R"({
  "services": [
    { "name": "a", "type": "chaos" },
    { "name": "a", "type": "chaos" }
  ]
})", 4, 15, u"services[1].name"_s, u"duplicate service name \"a\"; first used on line 3"_s);
    row("unknown type lists known types and suggests",
        R"({ "services": [ { "name": "a", "type": "chaoss" } ] })", 1, 40, u"services[0].type"_s,
        u"unknown service type \"chaoss\"; known types: chaos, probe; did you mean \"chaos\"?"_s);

    // "after".
    row("after must be an array", oneService(R"("after": "b")"), 3, 46, u"services[0].after"_s,
        u"expected an array of service names, got a string"_s);
    row("after entries must be strings", oneService(R"("after": [1])"), 3, 47, u"services[0].after[0]"_s,
        u"expected a string, got a number"_s);
    row("after names an unknown service", R"({
  "services": [
    { "name": "store", "type": "chaos" },
    { "name": "worker", "type": "chaos", "after": ["stroe"] }
  ]
})", 4, 52, u"services[1].after[0]"_s, u"unknown service \"stroe\"; did you mean \"store\"?"_s);
    row("service after itself", oneService(R"("after": ["a"])"), 3, 47, u"services[0].after[0]"_s,
        u"service \"a\" cannot be after itself"_s);
    row("after lists a service twice", R"({ "services": [ { "name": "a", "type": "chaos" },
  { "name": "b", "type": "chaos", "after": ["a", "a"] } ] })", 2, 50, u"services[1].after[1]"_s,
        u"service \"a\" is listed twice"_s);

    // Service settings.
    row("bad duration names the reason", oneService(R"("startTimeout": "5x")"), 3, 53,
        u"services[0].startTimeout"_s, u"bad duration \"5x\": unknown unit \"x\"; use ms, s, m or h"_s);
    row("duration must be a string", oneService(R"("stopTimeout": 10)"), 3, 52, u"services[0].stopTimeout"_s,
        u"expected a duration string such as \"250ms\" or \"10s\", got a number"_s);
    row("startTimeout must be positive", oneService(R"("startTimeout": "0")"), 3, 53,
        u"services[0].startTimeout"_s, u"startTimeout must be greater than 0"_s);
    row("onFailure must be a known policy", oneService(R"("onFailure": "restrat")"), 3, 50,
        u"services[0].onFailure"_s,
        u"\"restrat\" is not one of \"stop-host\", \"restart\", \"ignore\"; did you mean \"restart\"?"_s);
    row("restartLimit must not be negative", oneService(R"("restartLimit": -1)"), 3, 53,
        u"services[0].restartLimit"_s, u"expected a non-negative whole number, got -1"_s);
    row("restartLimit must be whole", oneService(R"("restartLimit": 1.5)"), 3, 53,
        u"services[0].restartLimit"_s, u"expected a non-negative whole number, got 1.5"_s);
    row("restartDelay above restartMaxDelay", oneService(R"("restartDelay": "1m", "restartMaxDelay": "10s")"),
        3, 53, u"services[0].restartDelay"_s, u"restartDelay 1m exceeds restartMaxDelay 10s"_s);

    // The type's "config", checked against its schema.
    row("config must be an object", oneService(R"("config": [])"), 3, 47, u"services[0].config"_s,
        u"expected an object, got an array"_s);
    row("bool config key", chaosConfig(R"("startFail": "yes")"), 3, 62, u"services[0].config.startFail"_s,
        u"expected a boolean, got a string"_s);
    row("integer config key rejects fractions", chaosConfig(R"("leak": 2.5)"), 3, 57,
        u"services[0].config.leak"_s, u"expected a whole number, got 2.5"_s);
    row("duration config key without unit", chaosConfig(R"("stopDelay": "10")"), 3, 62,
        u"services[0].config.stopDelay"_s, u"bad duration \"10\": missing unit; write \"10s\" or \"10ms\""_s);
    row("enum config key lists choices", chaosConfig(R"("throwIn": "stpo")"), 3, 60,
        u"services[0].config.throwIn"_s, u"\"stpo\" is not one of \"start\", \"stop\"; did you mean \"stop\"?"_s);
    row("required config key missing is reported at config", R"({
  "services": [
    { "name": "p", "type": "probe",
      "config": { "ratio": 0.5 } }
  ]
})", 4, 17, u"services[0].config"_s, u"missing required key \"target\" for type \"probe\""_s);
    row("required config key missing without config is reported at the service", R"({
  "services": [
    { "name": "p", "type": "probe" }
  ]
})", 3, 5, u"services[0]"_s, u"missing required key \"target\" for type \"probe\""_s);
    row("string list elements must be strings", R"({ "services": [ { "name": "p", "type": "probe",
    "config": { "target": "t", "tags": ["x", 2] } } ] })", 2, 46, u"services[0].config.tags[1]"_s,
        u"expected a string, got a number"_s);
    row("string or list rejects a number", R"({ "services": [ { "name": "p", "type": "probe",
    "config": { "target": "t", "hosts": 5 } } ] })", 2, 41, u"services[0].config.hosts"_s,
        u"expected a string or an array of strings, got a number"_s);
    row("number config key", R"({ "services": [ { "name": "p", "type": "probe",
    "config": { "target": "t", "ratio": "high" } } ] })", 2, 41, u"services[0].config.ratio"_s,
        u"expected a number, got a string"_s);
    row("object config key", R"({ "services": [ { "name": "p", "type": "probe",
    "config": { "target": "t", "options": [] } } ] })", 2, 43, u"services[0].config.options"_s,
        u"expected an object, got an array"_s);

    // Shutdown budget.
    row("shutdown must be an object", R"({ "shutdown": "10s", "services": [ { "name": "a", "type": "chaos" } ] })",
        1, 15, u"shutdown"_s, u"expected an object, got a string"_s);
    row("deadline must be positive", R"({
  "shutdown": { "deadline": "0" },
  "services": [ { "name": "a", "type": "chaos" } ]
})", 2, 29, u"shutdown.deadline"_s, u"deadline must be greater than 0"_s);
    row("reserve must be below deadline", R"({
  "shutdown": { "deadline": "1s", "reserve": "1s" },
  "services": [ { "name": "a", "type": "chaos" } ]
})", 2, 46, u"shutdown.reserve"_s, u"reserve 1s must be less than deadline 1s"_s);
    row("phase budgets exceeding the deadline name the numbers", R"({
  "shutdown": { "drain": "8s", "cancel": "5s" },
  "services": [ { "name": "a", "type": "chaos" } ]
})", 2, 15, u"shutdown"_s,
        u"intakeDelay 0ms + drain 8s + cancel 5s + reserve 250ms = 13.25s exceeds deadline 10s"_s);

    // Dependency cycles: at the "after" key of the cycle's first service in the file.
    row("dependency cycle of two", R"({
  "services": [
    { "name": "a", "type": "chaos", "after": ["b"] },
    { "name": "b", "type": "chaos", "after": ["a"] }
  ]
})", 3, 37, u"services[0].after"_s, u"dependency cycle: a -> b -> a"_s);
    row("cycle starts at its first service in the file", R"({
  "services": [
    { "name": "x", "type": "chaos" },
    { "name": "c", "type": "chaos", "after": ["b"] },
    { "name": "a", "type": "chaos", "after": ["x", "c"] },
    { "name": "b", "type": "chaos", "after": ["a"] }
  ]
})", 4, 37, u"services[1].after"_s, u"dependency cycle: c -> b -> a -> c"_s);
}

void TestConfig::validationErrors()
{
    QFETCH(QByteArray, json);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, keyPath);
    QFETCH(QString, message);
    const ConfigResult result = parse(json);
    QVERIFY2(result.errors.size() == 1, qPrintable(dump(result.errors)));
    const ConfigError &e = result.errors.first();
    QVERIFY2(e.message.contains(message), qPrintable(e.message));
    QCOMPARE(e.keyPath, keyPath);
    QCOMPARE(e.line, line);
    QCOMPARE(e.column, column);
}

void TestConfig::multipleErrorsInFileOrder()
{
    const ConfigResult result = parse(R"({
  "shutdown": { "drain": "fast" },
  "services": [
    { "name": "a", "type": "chaos", "colour": "red",
      "config": { "leak": "many", "stopDelay": "1x" } },
    { "name": "a", "typ": "chaos" }
  ]
})");
    QStringList got;
    for (const ConfigError &e : result.errors)
        got.append(u"%1:%2 %3"_s.arg(e.line).arg(e.column).arg(e.keyPath));
    const QStringList expected = {
        u"2:26 shutdown.drain"_s,
        u"4:37 services[0].colour"_s,
        u"5:27 services[0].config.leak"_s,
        u"5:48 services[0].config.stopDelay"_s,
        u"6:5 services[1]"_s,             // missing "type"
        u"6:15 services[1].name"_s,       // duplicate of line 4
        u"6:20 services[1].typ"_s,
    };
    QCOMPARE(got, expected);
    QVERIFY(result.errors.at(4).message.contains(u"missing required key \"type\""_s));
    QVERIFY(result.errors.at(5).message.contains(u"first used on line 4"_s));
    QVERIFY(result.errors.at(6).message.contains(u"did you mean \"type\"?"_s));
    QVERIFY(!result.ok());
}

void TestConfig::twoCyclesReportedDeterministically()
{
    const QByteArray json = R"({ "services": [
  { "name": "e", "type": "chaos" },
  { "name": "c", "type": "chaos", "after": ["d"] },
  { "name": "a", "type": "chaos", "after": ["b", "e"] },
  { "name": "d", "type": "chaos", "after": ["c"] },
  { "name": "b", "type": "chaos", "after": ["a"] }
] })";
    const ConfigResult first = parse(json);
    QCOMPARE(dump(first.errors), u"test.json:3:35: services[1].after: dependency cycle: c -> d -> c\n"
                                 "test.json:4:35: services[2].after: dependency cycle: a -> b -> a"_s);
    QCOMPARE(dump(parse(json).errors), dump(first.errors));
}

void TestConfig::defaultsApplied()
{
    const ConfigResult result = parse(R"({ "services": [ { "name": "a", "type": "chaos" } ] })");
    QVERIFY2(result.ok(), qPrintable(dump(result.errors)));
    const ShutdownConfig defaults;
    const ShutdownConfig &s = result.config.shutdown;
    QCOMPARE(s.deadline, defaults.deadline);
    QCOMPARE(s.intakeDelay, defaults.intakeDelay);
    QCOMPARE(s.drain, defaults.drain);
    QCOMPARE(s.cancel, defaults.cancel);
    QCOMPARE(s.reserve, defaults.reserve);
    QCOMPARE(result.config.services.size(), 1);
    const ServiceConfig &svc = result.config.services.first();
    const ServiceConfig expected;
    QCOMPARE(svc.name, u"a"_s);
    QCOMPARE(svc.type, u"chaos"_s);
    QVERIFY(svc.after.isEmpty());
    QCOMPARE(svc.startTimeout, expected.startTimeout);
    QCOMPARE(svc.stopTimeout, expected.stopTimeout);
    QCOMPARE(svc.onFailure, FailurePolicy::StopHost);
    QCOMPARE(svc.restartDelay, expected.restartDelay);
    QCOMPARE(svc.restartMaxDelay, expected.restartMaxDelay);
    QCOMPARE(svc.restartLimit, 0);
    QVERIFY(svc.config.isEmpty());
    QVERIFY(result.config.sourceFile.isEmpty());
}

void TestConfig::allServiceKeysRead()
{
    const ConfigResult result = parse(R"({
  "shutdown": { "deadline": "30s", "intakeDelay": "5s", "drain": "10s", "cancel": "4s", "reserve": "1s" },
  "services": [
    { "name": "db", "type": "chaos" },
    { "name": "api-1.v2_x", "type": "chaos", "after": ["db"], "startTimeout": "2m",
      "stopTimeout": "1.5s", "onFailure": "restart", "restartDelay": "500ms",
      "restartMaxDelay": "1h", "restartLimit": 3,
      "config": { "startFail": true, "leak": 2, "throwIn": "stop", "stopBlock": "0" } }
  ]
})");
    QVERIFY2(result.ok(), qPrintable(dump(result.errors)));
    const ShutdownConfig &s = result.config.shutdown;
    QCOMPARE(s.deadline, Millis(30000));
    QCOMPARE(s.intakeDelay, Millis(5000));
    QCOMPARE(s.drain, Millis(10000));
    QCOMPARE(s.cancel, Millis(4000));
    QCOMPARE(s.reserve, Millis(1000));
    const ServiceConfig &svc = result.config.services.at(1);
    QCOMPARE(svc.name, u"api-1.v2_x"_s);
    QCOMPARE(svc.after, QStringList{u"db"_s});
    QCOMPARE(svc.startTimeout, Millis(120000));
    QCOMPARE(svc.stopTimeout, Millis(1500));
    QCOMPARE(svc.onFailure, FailurePolicy::Restart);
    QCOMPARE(svc.restartDelay, Millis(500));
    QCOMPARE(svc.restartMaxDelay, Millis(3600000));
    QCOMPARE(svc.restartLimit, 3);
    QCOMPARE(svc.config.value(u"leak"_s).toInt(), 2);
    QCOMPARE(svc.config.value(u"throwIn"_s).toString(), u"stop"_s);
    QCOMPARE(svc.config.value(u"startFail"_s).toBool(), true);
}

void TestConfig::demoConfigParsesCleanly()
{
    const ConfigResult result = parseConfig(demoConfigJson(), u"<demo>"_s, testRegistry());
    QVERIFY2(result.ok(), qPrintable(dump(result.errors)));
    QStringList names;
    for (const ServiceConfig &svc : result.config.services) {
        names.append(svc.name);
        QCOMPARE(svc.type, u"chaos"_s);
    }
    QCOMPARE(names, (QStringList{u"store"_s, u"worker"_s, u"reporter"_s, u"heartbeat"_s}));
    QCOMPARE(result.config.services.at(1).after, QStringList{u"store"_s});
    QCOMPARE(result.config.services.at(2).after, (QStringList{u"worker"_s, u"store"_s}));
    QCOMPARE(result.config.shutdown.deadline, Millis(10000));
    QCOMPARE(result.config.shutdown.drain, Millis(3000));
    QCOMPARE(result.config.shutdown.cancel, Millis(2000));
}

void TestConfig::missingFileNamesPath()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"absent.json"_s);
    const ConfigResult result = loadConfigFile(path, testRegistry());
    QCOMPARE(result.errors.size(), 1);
    const ConfigError &e = result.errors.first();
    QCOMPARE(e.file, path);
    QCOMPARE(e.line, 0);
    QVERIFY2(e.message.contains(u'"' + path + u'"'), qPrintable(e.message));
    QVERIFY2(e.message.contains(u"No such file"_s, Qt::CaseInsensitive)
                 || e.message.contains(u"cannot find"_s, Qt::CaseInsensitive),
             qPrintable(e.message));
    QVERIFY(e.toString().startsWith(path + u": cannot read config file"_s));
    QCOMPARE(result.config.sourceFile, path);
}

void TestConfig::loadFileSetsSourceAndErrorFile()
{
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    const QString path = dir.filePath(u"berth.json"_s);
    QFile file(path);
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("{ \"services\": [ { \"name\": \"a\", \"type\": \"chaos\", \"stopTimeout\": \"0\" } ] }\n");
    file.close();
    ConfigResult result = loadConfigFile(path, testRegistry());
    QVERIFY2(result.ok(), qPrintable(dump(result.errors)));
    QCOMPARE(result.config.sourceFile, path);
    QCOMPARE(result.config.services.first().stopTimeout, Millis(0));

    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write("{ \"services\": [ { \"name\": \"a\", \"type\": \"chaos\" } ], }\n");
    file.close();
    result = loadConfigFile(path, testRegistry());
    QCOMPARE(result.errors.size(), 1);
    QCOMPARE(result.errors.first().toString(),
             path + u":1:51: trailing comma before '}' is not allowed"_s);
    QCOMPARE(result.config.sourceFile, path);
}

void TestConfig::errorToString_data()
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

void TestConfig::errorToString()
{
    QFETCH(QString, file);
    QFETCH(int, line);
    QFETCH(int, column);
    QFETCH(QString, keyPath);
    QFETCH(QString, expected);
    const ConfigError e{file, line, column, keyPath, u"bad duration \"5x\""_s};
    QCOMPARE(e.toString(), expected);
}

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
