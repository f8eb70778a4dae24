// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Child processes of a process whose stop signals are routed (platform::earlyInit() blocks them
// in every thread but one): QProcess children with childProcessModifier(), a child that must
// stop on SIGTERM, and a fork()ed child, each with the signals reset. The source itself is in
// tst_signalsource.cpp.
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

class TestSignalChildren : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void childProcessModifierUnblocks_data();
    void childProcessModifierUnblocks();
    void childStopsOnSigterm();
    void forkChildIsReset();
};

void TestSignalChildren::childProcessModifierUnblocks_data()
{
    QTest::addColumn<bool>("useModifier");
    QTest::addColumn<quint64>("blockedInChild");
    QTest::newRow("with childProcessModifier()") << true << quint64(0);
    QTest::newRow("without (the leak it fixes)") << false << routedBits();
}

void TestSignalChildren::childProcessModifierUnblocks()
{
    BERTH_REQUIRE_PROC("/proc/self/status");
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

void TestSignalChildren::childStopsOnSigterm()
{
    const QString sleep = QStandardPaths::findExecutable(QStringLiteral("sleep"));
    BERTH_REQUIRE(!sleep.isEmpty(), QStringLiteral("sleep(1) is not in PATH: it comes with coreutils "
                                                  "(apt install coreutils)"));

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

void TestSignalChildren::forkChildIsReset()
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

// Not QTEST_GUILESS_MAIN: the mask must be set before QCoreApplication and before any thread.
int main(int argc, char *argv[])
{
    pthread_sigmask(SIG_SETMASK, nullptr, &g_inheritedMask);
    berth::platform::earlyInit();
    QCoreApplication app(argc, argv);
    TestSignalChildren test;
    return QTest::qExec(&test, argc, argv);
}

#include "tst_signalchildren.moc"
