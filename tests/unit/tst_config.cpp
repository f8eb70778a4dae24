// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Validation of a parsed configuration: every error's position, key path and wording, the
// values read when valid, and loading from a file.
#include "config/config.h"
#include "builtin.h"
#include "tests/support/configtesthelpers.h"

#include <QtCore/QFile>
#include <QtCore/QTemporaryDir>
#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

namespace {

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

} // namespace

class TestConfig : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void validationErrors_data();
    void validationErrors();
    void multipleErrorsInFileOrder();
    void twoCyclesReportedDeterministically();
    void defaultsApplied();
    void allServiceKeysRead();
    void demoConfigParsesCleanly();
    void missingFileNamesPath();
    void loadFileSetsSourceAndErrorFile();
};

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
        u"unknown key \"colour\"; known keys: shutdown, network, services"_s);
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
        u"services[0].config.throwIn"_s, u"\"stpo\" is not one of \"start\", \"stop\", \"event\"; did you mean \"stop\"?"_s);
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
    row("fastExit must be a boolean", R"({
  "shutdown": { "fastExit": "yes" },
  "services": [ { "name": "a", "type": "chaos" } ]
})", 2, 29, u"shutdown.fastExit"_s, u"expected a boolean, got a string"_s);
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
    QVERIFY(s.fastExit);
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
  "shutdown": { "deadline": "30s", "intakeDelay": "5s", "drain": "10s", "cancel": "4s", "reserve": "1s",
                "fastExit": false },
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
    QVERIFY(!s.fastExit);
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
    // Against the real built-in types, which is what `berth run` uses.
    ServiceRegistry builtin;
    registerBuiltinServices(builtin);
    const ConfigResult result = parseConfig(demoConfigJson(), u"<demo>"_s, builtin);
    QVERIFY2(result.ok(), qPrintable(dump(result.errors)));
    QStringList names, types;
    for (const ServiceConfig &svc : result.config.services) {
        names.append(svc.name);
        types.append(svc.type);
    }
    QCOMPARE(names, (QStringList{u"store"_s, u"worker"_s, u"reporter"_s, u"site"_s, u"poller"_s}));
    QCOMPARE(types, (QStringList{u"chaos"_s, u"chaos"_s, u"chaos"_s, u"http-fixture"_s, u"http-poller"_s}));
    QCOMPARE(result.config.services.at(4).after, QStringList{u"site"_s});
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
    QVERIFY2(e.message.contains(u"No such file"_s, Qt::CaseInsensitive)
                 || e.message.contains(u"cannot find"_s, Qt::CaseInsensitive),
             qPrintable(e.message));
    QVERIFY2(e.toString().startsWith(path + u": cannot read the config file: "_s), qPrintable(e.toString()));
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

QTEST_GUILESS_MAIN(TestConfig)
#include "tst_config.moc"
