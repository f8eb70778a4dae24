// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/watchdog.h"

#include <QtTest/QTest>

#include <atomic>
#include <string>

using namespace std::chrono;
using namespace berth;

class TestWatchdog : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void firesAtDeadlineEvenIfThisThreadIsBlocked();
    void disarmPreventsFiring();
    void armNeverMovesDeadlineLater();
    void externalStopArmsDefaultBudget();
    void thirdExternalStopForcesAtOnce();
};

namespace {
struct Probe
{
    std::atomic<int> fired{0};
    std::atomic<Watchdog::Clock::rep> at{0};
    std::string why;
    std::function<void(const char *)> fn()
    {
        return [this](const char *w) {
            why = w;
            at = Watchdog::Clock::now().time_since_epoch().count();
            ++fired;
        };
    }
    milliseconds firedAfter(Watchdog::Clock::time_point t0) const
    {
        return duration_cast<milliseconds>(Watchdog::Clock::time_point(Watchdog::Clock::duration(at.load())) - t0);
    }
};

// Blocks the calling thread (as a misbehaving service blocks the event loop) until \a cond.
template <typename F>
void spinUntil(F cond, milliseconds limit)
{
    const auto end = Watchdog::Clock::now() + limit;
    while (!cond() && Watchdog::Clock::now() < end) {
    }
}
} // namespace

void TestWatchdog::firesAtDeadlineEvenIfThisThreadIsBlocked()
{
    Probe p;
    Watchdog w(p.fn());
    const auto t0 = Watchdog::Clock::now();
    w.arm(t0 + milliseconds(150));
    spinUntil([&] { return p.fired.load() > 0; }, milliseconds(5000));
    QCOMPARE(p.fired.load(), 1);
    QCOMPARE(p.why, std::string("shutdown deadline reached"));
    QVERIFY(p.firedAfter(t0) >= milliseconds(150));
}

void TestWatchdog::disarmPreventsFiring()
{
    Probe p;
    {
        Watchdog w(p.fn());
        w.arm(Watchdog::Clock::now() + milliseconds(50));
        w.disarm();
        QVERIFY(!w.isArmed());
        w.arm(Watchdog::Clock::now());   // ignored once disarmed
        w.noteStopRequest(3);
        // A second watchdog armed for the same moment fires: by then the first would have.
        Probe sentinel;
        Watchdog s(sentinel.fn());
        s.arm(Watchdog::Clock::now() + milliseconds(50));
        QTRY_COMPARE_WITH_TIMEOUT(sentinel.fired.load(), 1, 5000);
    }
    QCOMPARE(p.fired.load(), 0);
}

void TestWatchdog::armNeverMovesDeadlineLater()
{
    Probe p;
    Watchdog w(p.fn());
    const auto t0 = Watchdog::Clock::now();
    w.arm(t0 + milliseconds(100));
    w.arm(t0 + milliseconds(60000));
    QTRY_COMPARE_WITH_TIMEOUT(p.fired.load(), 1, 5000);
    QVERIFY(p.firedAfter(t0) < milliseconds(5000));
}

void TestWatchdog::externalStopArmsDefaultBudget()
{
    Probe p;
    Watchdog w(p.fn());
    w.setDefaultBudget(milliseconds(120));
    QVERIFY(!w.isArmed());
    const auto t0 = Watchdog::Clock::now();
    w.noteStopRequest(1);
    QVERIFY(w.isArmed());
    QTRY_COMPARE_WITH_TIMEOUT(p.fired.load(), 1, 5000);
    QVERIFY(p.firedAfter(t0) >= milliseconds(120));
}

void TestWatchdog::thirdExternalStopForcesAtOnce()
{
    Probe p;
    Watchdog w(p.fn());
    w.setDefaultBudget(seconds(60));
    w.noteStopRequest(1);
    w.noteStopRequest(2);
    QCOMPARE(p.fired.load(), 0);   // and had the second fired later, why would not name the third
    w.noteStopRequest(3);
    QTRY_COMPARE_WITH_TIMEOUT(p.fired.load(), 1, 5000);
    QCOMPARE(p.why, std::string("third stop request"));
}

QTEST_GUILESS_MAIN(TestWatchdog)
#include "tst_watchdog.moc"
