// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The phases' budgets from one deadline: what a config leaves out follows the deadline (a
// deadline alone always works, from 500ms up), what it gives is kept, and what does not fit
// is a config error naming the numbers.
#include "builtin.h"
#include "config/config.h"

#include <berth/serviceregistry.h>

#include <QtTest/QTest>

using namespace berth;
using namespace Qt::StringLiterals;

namespace {
using ms = std::chrono::milliseconds;

ConfigResult parseShutdown(const QByteArray &shutdown)
{
    static ServiceRegistry registry = [] {
        ServiceRegistry r;
        registerBuiltinServices(r);
        return r;
    }();
    return parseConfig(R"({"shutdown": )" + shutdown + R"(, "services": [{"name": "a", "type": "chaos"}]})",
                       u"budgets.json"_s, registry);
}
} // namespace

class TestShutdownBudgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void budgets_data();
    void budgets();
    void aDeadlineAloneIsAValidConfig_data();
    void aDeadlineAloneIsAValidConfig();
    void givenValuesThatDoNotFitAreAnError_data();
    void givenValuesThatDoNotFitAreAnError();
    void describedForBerthCheck();
};

void TestShutdownBudgets::budgets_data()
{
    QTest::addColumn<QByteArray>("shutdown");
    QTest::addColumn<int>("deadline");   // the deadline of this stop (a supervisor's may be shorter)
    QTest::addColumn<int>("intake");
    QTest::addColumn<int>("drain");
    QTest::addColumn<int>("cancel");
    QTest::addColumn<int>("join");
    QTest::addColumn<int>("reserve");
    const auto row = [](const char *name, const QByteArray &s, int d, int i, int dr, int c, int j, int r) {
        QTest::newRow(name) << s << d << i << dr << c << j << r;
    };
    row("the default deadline splits as the fixed defaults did", "{}", 10000, 0, 5000, 2000, 2750, 250);
    row("2s alone: drain half, cancel a fifth", R"({"deadline": "2s"})", 2000, 0, 1000, 400, 350, 250);
    row("500ms alone: the reserve is at most a quarter", R"({"deadline": "500ms"})", 500, 0, 250, 100, 25, 125);
    row("30s alone", R"({"deadline": "30s"})", 30000, 0, 15000, 6000, 8750, 250);
    row("the intake delay comes first", R"({"deadline": "10s", "intakeDelay": "2s"})", 10000, 2000, 4000,
        1600, 2150, 250);
    row("a given drain is kept, cancel follows", R"({"deadline": "10s", "drain": "8s"})", 10000, 0, 8000,
        1750, 0, 250);
    row("a given cancel keeps its room", R"({"deadline": "2s", "cancel": "1s"})", 2000, 0, 750, 1000, 0, 250);
    row("all given", R"({"deadline": "10s", "drain": "3s", "cancel": "1s", "reserve": "500ms"})", 10000, 0,
        3000, 1000, 5500, 500);
    row("a supervisor's 4s: what follows the deadline follows it", R"({"deadline": "10s"})", 4000, 0, 2000,
        800, 950, 250);
    row("a supervisor's 2s: a given drain is cut to what is left", R"({"deadline": "10s", "drain": "5s"})",
        2000, 0, 1750, 0, 0, 250);
}

void TestShutdownBudgets::budgets()
{
    QFETCH(QByteArray, shutdown);
    QFETCH(int, deadline);
    const ConfigResult parsed = parseShutdown(shutdown);
    QVERIFY2(parsed.errors.isEmpty(), qPrintable(parsed.errors.value(0).toString()));
    const ShutdownBudgets b = shutdownBudgets(parsed.config.shutdown, ms(deadline));
    QTEST(int(b.intakeDelay.count()), "intake");
    QTEST(int(b.drain.count()), "drain");
    QTEST(int(b.cancel.count()), "cancel");
    QTEST(int(b.join.count()), "join");
    QTEST(int(b.reserve.count()), "reserve");
    QCOMPARE(b.intakeDelay + b.drain + b.cancel + b.join + b.reserve, ms(deadline));
}

void TestShutdownBudgets::aDeadlineAloneIsAValidConfig_data()
{
    QTest::addColumn<QByteArray>("deadline");
    for (const char *d : {"500ms", "750ms", "1s", "2s", "5s", "1m"})
        QTest::newRow(d) << QByteArray(d);
}

void TestShutdownBudgets::aDeadlineAloneIsAValidConfig()
{
    QFETCH(QByteArray, deadline);
    const ConfigResult parsed = parseShutdown(R"({"deadline": ")" + deadline + R"("})");
    QVERIFY2(parsed.errors.isEmpty(), qPrintable(parsed.errors.value(0).toString()));
    const ShutdownConfig &s = parsed.config.shutdown;
    // The validated config holds the budgets for its own deadline, each phase with time.
    const ShutdownBudgets b = shutdownBudgets(s, s.deadline);
    QCOMPARE(s.drain, b.drain);
    QCOMPARE(s.cancel, b.cancel);
    QVERIFY(b.drain > ms(0) && b.cancel > ms(0) && b.join > ms(0) && b.reserve > ms(0));
    QVERIFY(b.drain > b.cancel);
}

void TestShutdownBudgets::givenValuesThatDoNotFitAreAnError_data()
{
    QTest::addColumn<QByteArray>("shutdown");
    QTest::addColumn<QString>("message");
    QTest::newRow("a drain past the deadline") << QByteArray(R"({"deadline": "2s", "drain": "5s"})")
        << u"intakeDelay 0ms + drain 5s + reserve 250ms = 5.25s exceeds deadline 2s"_s;
    QTest::newRow("drain and cancel past the deadline") << QByteArray(R"({"drain": "8s", "cancel": "5s"})")
        << u"intakeDelay 0ms + drain 8s + cancel 5s + reserve 250ms = 13.25s exceeds deadline 10s"_s;
    QTest::newRow("an intake delay past the deadline") << QByteArray(R"({"deadline": "1s", "intakeDelay": "1s"})")
        << u"intakeDelay 1s + reserve 250ms = 1.25s exceeds deadline 1s"_s;
}

void TestShutdownBudgets::givenValuesThatDoNotFitAreAnError()
{
    QFETCH(QByteArray, shutdown);
    QFETCH(QString, message);
    const ConfigResult parsed = parseShutdown(shutdown);
    QCOMPARE(parsed.errors.size(), 1);
    QVERIFY2(parsed.errors.first().toString().contains(message), qPrintable(parsed.errors.first().toString()));
}

void TestShutdownBudgets::describedForBerthCheck()
{
    const ConfigResult alone = parseShutdown(R"({"deadline": "2s"})");
    QCOMPARE(describeBudgets(alone.config.shutdown, ms(2000)),
             u"deadline 2s: drain 1s, cancel 400ms, join 350ms, reserve 250ms (drain, cancel and reserve "
             u"follow the deadline)"_s);
    const ConfigResult given = parseShutdown(R"({"deadline": "10s", "intakeDelay": "1s", "drain": "3s"})");
    QCOMPARE(describeBudgets(given.config.shutdown, ms(10000)),
             u"deadline 10s: intake 1s, drain 3s, cancel 1.8s, join 3.95s, reserve 250ms (cancel and reserve "
             u"follow the deadline)"_s);
}

QTEST_GUILESS_MAIN(TestShutdownBudgets)
#include "tst_shutdownbudgets.moc"
