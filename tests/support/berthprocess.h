// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Drives the real `berth` binary as a child process: config files in a temporary directory,
// stderr collected line by line, real signals sent with kill().
#pragma once

#include "tests/support/order.h"   // QVERIFY_ORDER(stdErr(), {...}): the order of output

#include <QtCore/QDir>
#include <QtCore/QElapsedTimer>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtTest/QTest>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

class BerthProcess
{
public:
    BerthProcess()
    {
        m_proc.setProgram(QStringLiteral(BERTH_BINARY));
        QObject::connect(&m_proc, &QProcess::readyReadStandardError, [this] {
            m_err += QString::fromUtf8(m_proc.readAllStandardError());
        });
    }
    ~BerthProcess()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            m_proc.kill();
            m_proc.waitForFinished(5000);
        }
    }

    QString writeFile(const QString &name, const QByteArray &content)
    {
        const QString path = m_dir.filePath(name);
        QFile f(path);
        if (!f.open(QIODevice::WriteOnly) || f.write(content) != content.size())
            qFatal("cannot write %s", qPrintable(path));
        return path;
    }
    QString path(const QString &name) const { return m_dir.filePath(name); }
    void setProgram(const QString &program) { m_proc.setProgram(program); }
    /// The built-in demo (`berth run` without --config) serves and polls a free port instead of
    /// 127.0.0.1:28080, which another program may hold (BERTH_DEMO_PORT).
    void useFreeDemoPort()
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(QStringLiteral("BERTH_DEMO_PORT"), QString::number(freePort()));
        m_proc.setProcessEnvironment(env);
    }
    /// A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick for port 0).
    static quint16 freePort()
    {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) != 0
            || ::getsockname(fd, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
            qFatal("cannot find a free port");
        ::close(fd);
        return ntohs(addr.sin_port);
    }

    /// Starts `berth run --config <json written to berth.json>` plus \a extra arguments.
    void run(const QByteArray &json, const QStringList &extra = {})
    {
        const QString cfg = writeFile(QStringLiteral("berth.json"), json);
        start(QStringList{QStringLiteral("run"), QStringLiteral("--config"), cfg} + extra);
    }
    void start(const QStringList &args)
    {
        m_proc.setArguments(args);
        m_proc.start();
        QVERIFY2(m_proc.waitForStarted(5000), qPrintable(m_proc.errorString()));
    }

    /// Waits until stderr matches \a pattern (from \a from on); returns the match offset or -1.
    qsizetype waitFor(const QString &pattern, int timeoutMs = 10000, qsizetype from = 0)
    {
        const QRegularExpression re(pattern, QRegularExpression::MultilineOption);
        QElapsedTimer t;
        t.start();
        for (;;) {
            const auto m = re.match(m_err, from);
            if (m.hasMatch())
                return m.capturedStart();
            if (t.elapsed() > timeoutMs || m_proc.state() == QProcess::NotRunning)
                return -1;
            m_proc.waitForReadyRead(50);
        }
    }
    bool waitReady(int timeoutMs = 10000)
    {
        return waitFor(QStringLiteral("all \\d+ service\\(s\\) ready"), timeoutMs) >= 0;
    }
    void signal(int sig) { ::kill(pid(), sig); }
    /// Sends \a sig and waits until the process has taken it (it is no longer pending), so that
    /// the next one is a separate delivery: standard signals sent back to back coalesce.
    bool signalDelivered(int sig, int timeoutMs = 5000)
    {
        signal(sig);
        QFile status(QStringLiteral("/proc/%1/status").arg(pid()));
        QElapsedTimer t;
        t.start();
        while (t.elapsed() < timeoutMs) {
            if (!status.open(QIODevice::ReadOnly))
                return false;
            const QByteArray text = status.readAll();
            status.close();
            const qsizetype at = text.indexOf("ShdPnd:");
            const quint64 pending = text.mid(at + 7, text.indexOf('\n', at) - at - 7).trimmed().toULongLong(nullptr, 16);
            if (!(pending & (1ull << (sig - 1))))
                return true;
            QThread::yieldCurrentThread();
        }
        return false;
    }
    /// Asks for ledger dumps (SIGUSR1) until one shows \a pattern pending: a way to wait until
    /// work is really in flight without sleeping.
    bool waitForPending(const QString &pattern, int tries = 50)
    {
        for (int i = 0; i < tries; ++i) {
            signal(SIGUSR1);
            if (waitFor(pattern, 200) >= 0)
                return true;
        }
        return false;
    }
    qint64 pid() const { return m_proc.processId(); }

    /// Waits for the exit; returns the exit code, or -1 if it did not exit normally in time.
    int finish(int timeoutMs = 20000)
    {
        if (!m_proc.waitForFinished(timeoutMs))
            return -1;
        m_err += QString::fromUtf8(m_proc.readAllStandardError());
        return m_proc.exitStatus() == QProcess::NormalExit ? m_proc.exitCode() : -1;
    }
    QString stdErr() const { return m_err; }
    QString stdOut() { return QString::fromUtf8(m_proc.readAllStandardOutput()); }
    QProcess &process() { return m_proc; }

private:
    QTemporaryDir m_dir;
    QProcess m_proc;
    QString m_err;
};
