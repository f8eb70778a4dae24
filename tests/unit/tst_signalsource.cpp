// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// PosixSignalSource with real signals sent to this very process. kill(getpid(), sig) is
// process-directed, like `kill` from a shell or a supervisor; raise() would target the calling
// thread, which blocks the signals, and never reach the source.
#include "platform.h"
#include "posix/signalsource_posix.h"

#include "engine/lifetime_p.h"
#include "tests/support/signaltest.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QProcess>
#include <QtCore/QScopeGuard>
#include <QtCore/QStandardPaths>
#include <QtCore/QThread>
#include <QtTest/QSignalSpy>
#include <QtTest/QTest>

#include <chrono>
#include <future>
#include <optional>
#include <thread>

#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

using berth::Lifetime;
using berth::StopReason;

using namespace berth::signaltest;

class TestSignalSource : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void earlyInitBlocksStopSignalsOnly();
    void signalBecomesRequest_data();
    void signalBecomesRequest();
    void repeatedStopsCount_data();
    void repeatedStopsCount();
    void stopNoteReachesBlockedMainThread_data() { repeatedStopsCount_data(); }
    void stopNoteReachesBlockedMainThread();
    void onlyDeliveryThreadUnblocks();
    void dispositions_data();
    void dispositions();
};

void TestSignalSource::earlyInitBlocksStopSignalsOnly()
{
    // Exactly the four are added to what we inherited; SIGQUIT in particular is not.
    sigset_t expected = g_inheritedMask;
    for (int signal : kRouted)
        sigaddset(&expected, signal);
    const sigset_t before = currentThreadMask();
    for (int signal = 1; signal < 32; ++signal)
        QCOMPARE(sigismember(&before, signal), sigismember(&expected, signal));

    berth::platform::earlyInit(); // again: nothing changes
    const sigset_t after = currentThreadMask();
    for (int signal = 1; signal < 32; ++signal)
        QCOMPARE(sigismember(&after, signal), sigismember(&before, signal));
    QCOMPARE(berth::platform::name(), "posix");
}

void TestSignalSource::signalBecomesRequest_data()
{
    QTest::addColumn<int>("signal");
    QTest::addColumn<bool>("beforeInstall"); // sent between earlyInit() and installStopSources()
    QTest::addColumn<QString>("source");
    QTest::addColumn<int>("stops"); // also the expected noteStopFromAnyThread() count
    QTest::addColumn<int>("reloads");
    QTest::addColumn<int>("dumps");
    for (const bool before : {false, true}) {
        const auto row = [before](const char *name, int signal, int stops, int reloads, int dumps) {
            QTest::addRow("%s%s", name, before ? " (sent before install)" : "")
                    << signal << before << QString::fromLatin1(name).section(u' ', 0, 0) << stops
                    << reloads << dumps;
        };
        row("SIGINT stops", SIGINT, 1, 0, 0);
        row("SIGTERM stops", SIGTERM, 1, 0, 0);
        row("SIGHUP reloads", SIGHUP, 0, 1, 0);
        row("SIGUSR1 dumps", SIGUSR1, 0, 0, 1);
    }
}

void TestSignalSource::signalBecomesRequest()
{
    QFETCH(int, signal);
    QFETCH(bool, beforeInstall);
    QFETCH(QString, source);
    QFETCH(int, stops);
    QFETCH(int, reloads);
    QFETCH(int, dumps);

    Lifetime lifetime;
    const RequestSpies spies(&lifetime);
    std::unique_ptr<QObject> stopSources;
    if (beforeInstall) {
        // Every thread blocks it and nothing handles it yet: it must wait, not kill us.
        QCOMPARE(::kill(::getpid(), signal), 0);
        sigset_t pending;
        QCOMPARE(sigpending(&pending), 0);
        QVERIFY(sigismember(&pending, signal));
        stopSources = berth::platform::installStopSources(lifetime);
        QCOMPARE(spies.total(), 0); // delivered only once the event loop runs
    } else {
        stopSources = berth::platform::installStopSources(lifetime);
        QCOMPARE(::kill(::getpid(), signal), 0);
    }

    QTRY_COMPARE_WITH_TIMEOUT(spies.total(), 1, kTimeoutMs);
    QCOMPARE(spies.stops.size(), stops);
    QCOMPARE(spies.reloads.size(), reloads);
    QCOMPARE(spies.dumps.size(), dumps);
    QCOMPARE(spies.firstSource(), source);
    QCOMPARE(lifetime.stopRequests(), stops);
    if (stops) {
        QCOMPARE(spies.stops.first().at(0).value<StopReason>().platformLimit.count(), 0);
        QCOMPARE(spies.stops.first().at(1).toInt(), 1);
        QCOMPARE(lifetime.firstReason().source, source);
    }
    stopSources.reset(); // joins the delivery thread: no note can still be on its way
    QCOMPARE(lifetime.externalStopNotes(), stops);
}

void TestSignalSource::repeatedStopsCount_data()
{
    QTest::addColumn<int>("signal");
    QTest::addColumn<QString>("source");
    QTest::newRow("SIGINT (Ctrl+C)") << SIGINT << QStringLiteral("SIGINT");
    QTest::newRow("SIGTERM") << SIGTERM << QStringLiteral("SIGTERM");
}

void TestSignalSource::repeatedStopsCount()
{
    QFETCH(int, signal);
    QFETCH(QString, source);

    Lifetime lifetime;
    QSignalSpy stopSpy(&lifetime, &Lifetime::stopRequested);
    auto stopSources = berth::platform::installStopSources(lifetime);

    // One at a time: a standard signal sent again while still pending is merged by the kernel.
    for (int count = 1; count <= 3; ++count) {
        QCOMPARE(::kill(::getpid(), signal), 0);
        QTRY_COMPARE_WITH_TIMEOUT(stopSpy.size(), count, kTimeoutMs);
        QCOMPARE(stopSpy.at(count - 1).at(0).value<StopReason>().source, source);
        QCOMPARE(stopSpy.at(count - 1).at(1).toInt(), count);
    }
    QCOMPARE(lifetime.stopRequests(), 3);
    stopSources.reset(); // joins the delivery thread: every note has been made
    QCOMPARE(lifetime.externalStopNotes(), 3);
}

void TestSignalSource::stopNoteReachesBlockedMainThread()
{
    QFETCH(int, signal);

    Lifetime lifetime;
    QSignalSpy stopSpy(&lifetime, &Lifetime::stopRequested);
    std::promise<bool> noted;
    std::future<bool> notedOnOtherThread = noted.get_future();
    const std::thread::id mainThread = std::this_thread::get_id();
    Lifetime::Control::setExternalStopListener(lifetime, [&noted, mainThread](int count) {
        if (count == 1)
            noted.set_value(std::this_thread::get_id() != mainThread);
    });
    const auto stopSources = berth::platform::installStopSources(lifetime);

    // The main thread now waits without running its event loop, as if it were stuck.
    QCOMPARE(::kill(::getpid(), signal), 0);
    QCOMPARE(notedOnOtherThread.wait_for(std::chrono::milliseconds(kTimeoutMs)),
             std::future_status::ready);
    QVERIFY(notedOnOtherThread.get());
    QCOMPARE(lifetime.externalStopNotes(), 1);
    QCOMPARE(stopSpy.size(), 0);
    QTRY_COMPARE_WITH_TIMEOUT(stopSpy.size(), 1, kTimeoutMs);
}

void TestSignalSource::onlyDeliveryThreadUnblocks()
{
    BERTH_REQUIRE_PROC("/proc/self/task");

    Lifetime lifetime;
    const auto stopSources = berth::platform::installStopSources(lifetime);

    // Threads made after earlyInit(), of both kinds, inherit the block; they stay for the scan.
    std::promise<void> release;
    const std::shared_future<void> released = release.get_future().share();
    std::promise<bool> stdThreadBlocks;
    std::promise<bool> qThreadBlocks;
    const auto parked = [released](std::promise<bool> *blocks) {
        return [released, blocks] {
            blocks->set_value(blocksAllRouted(currentThreadMask()));
            released.wait();
        };
    };
    std::thread worker(parked(&stdThreadBlocks));
    std::unique_ptr<QThread> qthread(QThread::create(parked(&qThreadBlocks)));
    qthread->start();
    const auto joinThreads = qScopeGuard([&] {
        release.set_value();
        worker.join();
        qthread->wait();
    });
    QVERIFY(stdThreadBlocks.get_future().get());
    QVERIFY(qThreadBlocks.get_future().get());
    QVERIFY(blocksAllRouted(currentThreadMask()));

    // The delivery thread shows up once it has unblocked the signals for itself.
    QStringList unblocked;
    QTRY_COMPARE_WITH_TIMEOUT((unblocked = threadsWithRoutedUnblocked()).size(), 1, kTimeoutMs);
    QVERIFY(unblocked.first() != QString::number(::getpid())); // not the main thread
    const QDir tasks(QStringLiteral("/proc/self/task"));
    QVERIFY(tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot).size() >= 4); // + delivery thread
}

void TestSignalSource::dispositions_data()
{
    QTest::addColumn<int>("signal");
    QTest::addColumn<bool>("handled");
    QTest::newRow("SIGINT") << SIGINT << true;
    QTest::newRow("SIGTERM") << SIGTERM << true;
    QTest::newRow("SIGHUP") << SIGHUP << true;
    QTest::newRow("SIGUSR1") << SIGUSR1 << true;
    QTest::newRow("SIGQUIT untouched (core dump)") << SIGQUIT << false;
}

void TestSignalSource::dispositions()
{
    QFETCH(int, signal);
    QFETCH(bool, handled);

    const struct sigaction before = dispositionOf(signal);
    Lifetime lifetime;
    auto stopSources = berth::platform::installStopSources(lifetime);
    const struct sigaction installed = dispositionOf(signal);
    if (handled) {
        QVERIFY(installed.sa_handler != SIG_DFL);
        QVERIFY(installed.sa_handler != SIG_IGN);
        QVERIFY(installed.sa_flags & SA_RESTART);
        QVERIFY(!(installed.sa_flags & SA_SIGINFO));
    } else {
        QVERIFY(installed.sa_handler == before.sa_handler);
        QCOMPARE(installed.sa_flags, before.sa_flags);
    }

    stopSources.reset();
    const struct sigaction after = dispositionOf(signal);
    QVERIFY(after.sa_handler == (handled ? SIG_DFL : before.sa_handler));
    const sigset_t mask = currentThreadMask();
    const bool inherited = sigismember(&g_inheritedMask, signal);
    QCOMPARE(bool(sigismember(&mask, signal)), handled || inherited); // earlyInit()'s block stays
}

// Not QTEST_GUILESS_MAIN: the mask must be set before QCoreApplication and before any thread.
int main(int argc, char *argv[])
{
    pthread_sigmask(SIG_SETMASK, nullptr, &g_inheritedMask);
    berth::platform::earlyInit();
    QCoreApplication app(argc, argv);
    TestSignalSource test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_signalsource.moc"
