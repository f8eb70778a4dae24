// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/lifetime_p.h"

#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <atomic>
#include <thread>

using namespace Qt::StringLiterals;
using namespace berth;

class TestLifetime : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void countsRequestsAndKeepsFirstReason();
    void reloadAndDumpCarryTheirSource();
    void externalNotesReachListenerFromAnyThread();
    void stopCarriesWhenItWasFirstNoted();
};

void TestLifetime::countsRequestsAndKeepsFirstReason()
{
    Lifetime lifetime;
    QSignalSpy spy(&lifetime, &Lifetime::stopRequested);
    lifetime.requestStop({u"SIGTERM"_s, {}});
    lifetime.requestStop({u"SIGINT"_s, std::chrono::milliseconds(5000)});
    QCOMPARE(lifetime.stopRequests(), 2);
    QCOMPARE(lifetime.firstReason().source, u"SIGTERM"_s);
    QCOMPARE(spy.size(), 2);
    QCOMPARE(spy.at(1).at(1).toInt(), 2);
    QCOMPARE(spy.at(1).at(0).value<StopReason>().platformLimit, std::chrono::milliseconds(5000));
}

void TestLifetime::reloadAndDumpCarryTheirSource()
{
    Lifetime lifetime;
    QSignalSpy reload(&lifetime, &Lifetime::reloadRequested);
    QSignalSpy dump(&lifetime, &Lifetime::dumpRequested);
    lifetime.requestReload(u"SIGHUP"_s);
    lifetime.requestDump(u"SIGUSR1"_s);
    QCOMPARE(reload.size(), 1);
    QCOMPARE(reload.first().first().toString(), u"SIGHUP"_s);
    QCOMPARE(dump.first().first().toString(), u"SIGUSR1"_s);
    QCOMPARE(lifetime.stopRequests(), 0);
}

void TestLifetime::externalNotesReachListenerFromAnyThread()
{
    Lifetime lifetime;
    std::atomic<int> last{0};
    Lifetime::Control::setExternalStopListener(lifetime, [&last](int count) { last = count; });
    std::thread t([&lifetime] {
        lifetime.noteStopFromAnyThread();
        lifetime.noteStopFromAnyThread();
    });
    t.join();
    QCOMPARE(last.load(), 2);
    QCOMPARE(lifetime.externalStopNotes(), 2);
}

void TestLifetime::stopCarriesWhenItWasFirstNoted()
{
    using Clock = std::chrono::steady_clock;
    {
        // Asked for on the owning thread only: the host's own moment counts (notedAt unset).
        Lifetime lifetime;
        lifetime.requestStop({u"tray"_s, {}});
        QCOMPARE(lifetime.firstReason().notedAt, Clock::time_point{});
    }
    // Noted on another thread first (a signal's delivery thread), seen by the owner later:
    // the request carries the first note's time, and a later note does not move it.
    Lifetime lifetime;
    QSignalSpy spy(&lifetime, &Lifetime::stopRequested);
    const auto before = Clock::now();
    std::thread([&lifetime] { lifetime.noteStopFromAnyThread(); }).join();
    const auto after = Clock::now();
    std::thread([&lifetime] { lifetime.noteStopFromAnyThread(); }).join();   // later: not taken
    lifetime.requestStop({u"SIGTERM"_s, {}});
    const StopReason r = spy.at(0).at(0).value<StopReason>();
    QVERIFY(r.notedAt >= before && r.notedAt <= after);
    QCOMPARE(lifetime.firstReason().notedAt, r.notedAt);
}

QTEST_GUILESS_MAIN(TestLifetime)
#include "tst_lifetime.moc"
