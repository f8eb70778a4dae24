// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The berth command line: help, version, services, check, config errors, the built-in demo.
#include "tests/support/berthprocess.h"

using namespace Qt::StringLiterals;

class TestE2eCli : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void helpNamesCommandsAndExitCodes_data();
    void helpNamesCommandsAndExitCodes();
    void versionPrintsVersionAndPlatform();
    void servicesListsTypesAndKeys();
    void checkAcceptsValidConfig();
    void badInputExitsTwoWithPosition_data();
    void badInputExitsTwoWithPosition();
    void demoRunsWithoutConfigAndStopsCleanly();
    void ownExecutableAddsServiceTypes();
};

void TestE2eCli::helpNamesCommandsAndExitCodes_data()
{
    QTest::addColumn<QString>("flag");
    QTest::newRow("--help") << u"--help"_s;
    QTest::newRow("-h") << u"-h"_s;
    QTest::newRow("--help-all") << u"--help-all"_s;
}

void TestE2eCli::helpNamesCommandsAndExitCodes()
{
    QFETCH(QString, flag);
    BerthProcess b;
    b.start({flag});
    QCOMPARE(b.finish(), 0);
    const QString out = b.stdOut();
    for (const char *s : {"run", "check", "services", "--config", "--trace", "0  clean stop",
                          "1  a service failed", "2  bad command line or config", "3  shutdown forced", "SIGHUP"})
        QVERIFY2(out.contains(QLatin1String(s)), s);
}

void TestE2eCli::versionPrintsVersionAndPlatform()
{
    BerthProcess b;
    b.start({u"--version"_s});
    QCOMPARE(b.finish(), 0);
    QVERIFY(QRegularExpression(u"^berth \\d+\\.\\d+\\.\\d+ \\(posix, Qt 6\\.\\d+"_s).match(b.stdOut()).hasMatch());
}

void TestE2eCli::servicesListsTypesAndKeys()
{
    BerthProcess b;
    b.start({u"services"_s});
    QCOMPARE(b.finish(), 0);
    const QString out = b.stdOut();
    QVERIFY(out.contains(u"chaos  misbehaves on purpose"_s));
    for (const char *k : {"startDelay", "startFail", "stopDelay", "stopHang", "stopBlock", "leak", "failAfter", "blockAfter", "blockFor", "throwIn (one of start|stop|event)"})
        QVERIFY2(out.contains(QLatin1String(k)), k);
}

void TestE2eCli::checkAcceptsValidConfig()
{
    BerthProcess b;
    const QString cfg = b.writeFile(u"ok.json"_s, R"({"services":[{"name":"a","type":"chaos"}]})");
    b.start({u"check"_s, u"--config"_s, cfg});
    QCOMPARE(b.finish(), 0);
    QCOMPARE(b.stdOut().trimmed(), cfg + u": ok, 1 service(s)\nshutdown: deadline 10s: drain 5s, cancel 2s, "
                                         u"join 2.75s, reserve 250ms (drain, cancel and reserve follow the deadline)"_s);
    // The effective budgets of the file checked: here the deadline alone, and one given drain.
    BerthProcess c;
    const QString short_ = c.writeFile(u"short.json"_s,
                                       R"({"shutdown":{"deadline":"2s","drain":"1.5s"},"services":[{"name":"a","type":"chaos"}]})");
    c.start({u"check"_s, u"--config"_s, short_});
    QCOMPARE(c.finish(), 0);
    QVERIFY2(c.stdOut().contains(u"shutdown: deadline 2s: drain 1.5s, cancel 250ms, join 0ms, reserve 250ms "
                                 u"(cancel and reserve follow the deadline)"_s), qPrintable(c.stdOut()));
}

void TestE2eCli::badInputExitsTwoWithPosition_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QByteArray>("config");
    QTest::addColumn<QString>("expect");
    const QByteArray typo = "{\"services\":[\n  {\"name\":\"a\",\"type\":\"chaos\",\n   \"config\":{\"stopDely\":\"1s\"}}]}";
    QTest::newRow("check: unknown key with suggestion") << QStringList{u"check"_s} << typo
        << u"bad.json:3:14: services[0].config.stopDely: unknown key \"stopDely\" for type \"chaos\"; did you mean \"stopDelay\"?"_s;
    QTest::newRow("run refuses a bad config before starting anything") << QStringList{u"run"_s} << typo
        << u"nothing was started"_s;
    QTest::newRow("bad duration") << QStringList{u"check"_s}
        << QByteArray("{\"services\":[{\"name\":\"a\",\"type\":\"chaos\",\"stopTimeout\":\"5x\"}]}")
        << u"bad.json:1:55: services[0].stopTimeout:"_s;
    QTest::newRow("dependency cycle names the services") << QStringList{u"check"_s}
        << QByteArray(R"({"services":[{"name":"a","type":"chaos","after":["b"]},{"name":"b","type":"chaos","after":["a"]}]})")
        << u"dependency cycle: a -> b -> a"_s;
    QTest::newRow("unknown command") << QStringList{u"frobnicate"_s} << QByteArray() << u"unknown command \"frobnicate\""_s;
    QTest::newRow("unknown option") << QStringList{u"run"_s, u"--bogus"_s} << QByteArray() << u"Unknown option 'bogus'"_s;
    QTest::newRow("trace into a missing directory") << QStringList{u"run"_s, u"--trace"_s, u"/nonexistent-dir/t.json"_s}
        << QByteArray() << u"--trace /nonexistent-dir/t.json: directory /nonexistent-dir does not exist"_s;
    QTest::newRow("check without --config") << QStringList{u"check"_s} << QByteArray() << u"check needs --config"_s;
    QTest::newRow("missing file names the path") << QStringList{u"check"_s, u"--config"_s, u"/nonexistent/berth.json"_s}
        << QByteArray() << u"/nonexistent/berth.json"_s;
}

void TestE2eCli::badInputExitsTwoWithPosition()
{
    QFETCH(QStringList, args);
    QFETCH(QByteArray, config);
    QFETCH(QString, expect);
    BerthProcess b;
    if (!config.isEmpty())
        args << u"--config"_s << b.writeFile(u"bad.json"_s, config);
    b.start(args);
    QCOMPARE(b.finish(), 2);
    QVERIFY2(b.stdErr().contains(expect), qPrintable(b.stdErr()));
}

void TestE2eCli::demoRunsWithoutConfigAndStopsCleanly()
{
    BerthProcess b;
    b.useFreeDemoPort();
    b.start({u"run"_s});
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    QVERIFY(b.stdErr().contains(u"config <built-in demo>"_s));
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
    QVERIFY2(b.stdErr().contains(u"exit code 0: clean stop"_s), qPrintable(b.stdErr()));
}

void TestE2eCli::ownExecutableAddsServiceTypes()
{
    BerthProcess list;
    list.setProgram(QStringLiteral(CUSTOM_BERTH_BINARY));
    list.start({u"services"_s});
    QCOMPARE(list.finish(), 0);
    const QString types = list.stdOut();
    QVERIFY2(types.contains(u"poller  the README's example service"_s) && types.contains(u"chaos  "_s), qPrintable(types));

    BerthProcess b;
    b.setProgram(QStringLiteral(CUSTOM_BERTH_BINARY));
    b.run(R"({"services":[{"name":"p","type":"poller"}]})");
    QVERIFY2(b.waitReady(), qPrintable(b.stdErr()));
    QVERIFY(b.waitForPending(u"p: job \"poll #"_s));
    b.signal(SIGTERM);
    QCOMPARE(b.finish(), 0);
    QVERIFY2(QRegularExpression(u"\\n  p +stopped +\\d+ms +\\d+ +[1-9]"_s).match(b.stdErr()).hasMatch(), qPrintable(b.stdErr()));
}

QTEST_GUILESS_MAIN(TestE2eCli)
#include "tst_e2e_cli.moc"
