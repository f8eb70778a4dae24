// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// PosixSignalSource with real signals sent to this very process. kill(getpid(), sig) is
// process-directed, like `kill` from a shell or a supervisor; raise() would target the calling
// thread, which blocks the signals, and never reach the source.
#include "platform.h"
#include "posix/signalsource_posix.h"

#include "engine/lifetime_p.h"

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

namespace {

constexpr int kTimeoutMs = 5000;
constexpr int kRouted[] = {SIGINT, SIGTERM, SIGHUP, SIGUSR1};
sigset_t g_inheritedMask; // main thread's mask before earlyInit(), whatever our parent left us

sigset_t currentThreadMask()
{
    sigset_t mask;
    pthread_sigmask(SIG_SETMASK, nullptr, &mask);
    return mask;
}

bool blocksAllRouted(const sigset_t &mask)
{
    for (int signal : kRouted) {
        if (!sigismember(&mask, signal))
            return false;
    }
    return true;
}

struct sigaction dispositionOf(int signal)
{
    struct sigaction action = {};
    sigaction(signal, nullptr, &action);
    return action;
}

// The same four signals as bits of a /proc "SigBlk:" mask (bit n-1 is signal n).
quint64 routedBits()
{
    quint64 bits = 0;
    for (int signal : kRouted)
        bits |= quint64(1) << (signal - 1);
    return bits;
}

std::optional<quint64> sigBlkOf(const QByteArray &statusText)
{
    for (const QByteArray &line : statusText.split('\n')) {
        if (!line.startsWith("SigBlk:"))
            continue;
        bool ok = false;
        const quint64 mask = line.mid(7).trimmed().toULongLong(&ok, 16);
        if (ok)
            return mask;
    }
    return std::nullopt;
}

// Thread ids (from /proc/self/task) that have at least one of the four signals unblocked.
QStringList threadsWithRoutedUnblocked()
{
    QStringList result;
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString &tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile status(tasks.filePath(tid) + QStringLiteral("/status"));
        if (!status.open(QIODevice::ReadOnly))
            continue; // the thread exited meanwhile
        const std::optional<quint64> blocked = sigBlkOf(status.readAll());
        if (!blocked || (*blocked & routedBits()) != routedBits())
            result.append(tid);
    }
    return result;
}

// The three Lifetime signals, spied on together.
struct RequestSpies
{
    explicit RequestSpies(Lifetime *lifetime)
        : stops(lifetime, &Lifetime::stopRequested),
          reloads(lifetime, &Lifetime::reloadRequested),
          dumps(lifetime, &Lifetime::dumpRequested)
    {
    }
    int total() const { return int(stops.size() + reloads.size() + dumps.size()); }
    QString firstSource() const
    {
        if (!stops.isEmpty())
            return stops.first().first().value<StopReason>().source;
        return (reloads.isEmpty() ? dumps : reloads).value(0).value(0).toString();
    }

    QSignalSpy stops;
    QSignalSpy reloads;
    QSignalSpy dumps;
};

} // namespace

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
    void childProcessModifierUnblocks_data();
    void childProcessModifierUnblocks();
    void childStopsOnSigterm();
    void forkChildIsReset();
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
    if (!QFileInfo::exists(QStringLiteral("/proc/self/task")))
        QSKIP("needs /proc/self/task (Linux)");

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

void TestSignalSource::childProcessModifierUnblocks_data()
{
    QTest::addColumn<bool>("useModifier");
    QTest::addColumn<quint64>("blockedInChild");
    QTest::newRow("with childProcessModifier()") << true << quint64(0);
    QTest::newRow("without (the leak it fixes)") << false << routedBits();
}

void TestSignalSource::childProcessModifierUnblocks()
{
    if (!QFileInfo::exists(QStringLiteral("/proc/self/status")))
        QSKIP("needs /proc/self/status (Linux)");
    QFETCH(bool, useModifier);
    QFETCH(quint64, blockedInChild);

    QProcess child;
    if (useModifier)
        child.setChildProcessModifier(berth::platform::childProcessModifier());
    // `exec`: without it dash runs grep in a vfork()ed child of its own and clears the mask
    // there, which would hide what the shell itself inherited from us.
    child.start(QStringLiteral("/bin/sh"),
                {QStringLiteral("-c"), QStringLiteral("exec grep SigBlk /proc/self/status")});
    QVERIFY2(child.waitForFinished(kTimeoutMs), qPrintable(child.errorString()));
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QCOMPARE(child.exitCode(), 0);
    const std::optional<quint64> blocked = sigBlkOf(child.readAllStandardOutput());
    QVERIFY(blocked.has_value());
    QCOMPARE(*blocked & routedBits(), blockedInChild);
}

void TestSignalSource::childStopsOnSigterm()
{
    const QString sleep = QStandardPaths::findExecutable(QStringLiteral("sleep"));
    if (sleep.isEmpty())
        QSKIP("no sleep(1) in PATH");

    Lifetime lifetime;
    const auto stopSources = berth::platform::installStopSources(lifetime);
    QProcess child;
    child.setChildProcessModifier(berth::platform::childProcessModifier());
    child.start(sleep, {QStringLiteral("60")});
    QVERIFY2(child.waitForStarted(kTimeoutMs), qPrintable(child.errorString()));

    // With SIGTERM still blocked it would sleep on; reset, it dies of the default action.
    QCOMPARE(::kill(pid_t(child.processId()), SIGTERM), 0);
    QVERIFY(child.waitForFinished(kTimeoutMs)); // if not, ~QProcess kills it
    QCOMPARE(child.exitStatus(), QProcess::CrashExit);
}

void TestSignalSource::forkChildIsReset()
{
    Lifetime lifetime;
    const auto stopSources = berth::platform::installStopSources(lifetime);

    const pid_t pid = ::fork();
    if (pid == 0) {
        // Child of a threaded process: async-signal-safe calls only, result in the exit code.
        sigset_t mask;
        pthread_sigmask(SIG_SETMASK, nullptr, &mask);
        int wrong = 0;
        for (int i = 0; i < 4; ++i) {
            struct sigaction action = {};
            sigaction(kRouted[i], nullptr, &action);
            if (sigismember(&mask, kRouted[i]))
                wrong |= 1 << i; // still blocked
            if (action.sa_handler != SIG_DFL)
                wrong |= 16 << i; // our handler would write into the parent's pipe
        }
        ::_exit(wrong);
    }
    QVERIFY(pid > 0);
    int status = 0;
    pid_t waited;
    while ((waited = ::waitpid(pid, &status, 0)) < 0 && errno == EINTR) { }
    QCOMPARE(waited, pid);
    QVERIFY(WIFEXITED(status));
    QCOMPARE(WEXITSTATUS(status), 0);
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
