// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What the parts of bench_network share: the small tools, the child process, the results and the parts.
#pragma once

#include "httpfixture.h"

#include <berth/networksession.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QFile>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QTemporaryDir>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkRequest>

#include <functional>
#include <memory>
#include <signal.h>
#include <sys/prctl.h>
#include <utility>
#include <vector>

namespace benchnet {

using namespace Qt::StringLiterals;

// ---- small tools (bench_network.cpp) -----------------------------------------------------------

double median(std::vector<double> v);
qint64 heapBytes();
qint64 procStatus(const char *field);
void waitForEvents(int ms);
bool waitUntil(const std::function<bool()> &done, int timeoutMs = 10000);
void spin(int ms);
void settleHeap(int maxMs = 2000);
berth::NetworkOptions sessionOptions(int maxConcurrent = 0, int connectionsPerHost = 0);
QNetworkRequest requestFor(const QUrl &url);

/// The real berth binary (or this benchmark in a client role) in a child process.
class Child
{
public:
    explicit Child(const QString &program = QStringLiteral(BERTH_BINARY))
    {
        m_proc.setProgram(program);
        // A benchmark that stops on qFatal() runs no destructor: its children must not live on
        // and load the machine for the next run.
        m_proc.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
        QObject::connect(&m_proc, &QProcess::readyReadStandardError, [this] {
            m_err += QString::fromUtf8(m_proc.readAllStandardError());
        });
        QObject::connect(&m_proc, &QProcess::readyReadStandardOutput, [this] {
            m_out += QString::fromUtf8(m_proc.readAllStandardOutput());
        });
    }
    ~Child()
    {
        if (m_proc.state() != QProcess::NotRunning) {
            m_proc.kill();
            m_proc.waitForFinished(5000);
        }
    }
    void run(const QByteArray &json)
    {
        QFile f(m_dir.filePath(u"berth.json"_s));
        if (!f.open(QIODevice::WriteOnly) || f.write(json) != json.size())
            qFatal("cannot write %s", qPrintable(f.fileName()));
        f.close();
        start({u"run"_s, u"--config"_s, f.fileName()});
    }
    void start(const QStringList &args, const QProcessEnvironment &env = QProcessEnvironment::systemEnvironment())
    {
        m_proc.setProcessEnvironment(env);
        m_proc.setArguments(args);
        m_proc.start();
        if (!m_proc.waitForStarted(5000))
            qFatal("cannot start %s: %s", qPrintable(m_proc.program()), qPrintable(m_proc.errorString()));
    }
    /// Waits until stderr (or stdout) matches \a pattern; returns the match, or an invalid one.
    QRegularExpressionMatch waitFor(const QString &pattern, int timeoutMs = 15000, bool onStdout = false)
    {
        const QRegularExpression re(pattern, QRegularExpression::MultilineOption);
        QElapsedTimer t;
        t.start();
        for (;;) {
            const auto m = re.match(onStdout ? m_out : m_err);
            if (m.hasMatch() || t.elapsed() > timeoutMs || m_proc.state() == QProcess::NotRunning)
                return m;
            m_proc.waitForReadyRead(20);
            if (onStdout)   // waitForReadyRead may have taken only one channel's data
                m_out += QString::fromUtf8(m_proc.readAllStandardOutput());
        }
    }
    bool waitReady() { return waitFor(u"all \\d+ service\\(s\\) ready"_s).hasMatch(); }
    void signal(int sig) { ::kill(pid_t(m_proc.processId()), sig); }
    qint64 pid() const { return m_proc.processId(); }
    void write(const QByteArray &data) { m_proc.write(data); m_proc.waitForBytesWritten(1000); }
    /// The exit code, or -1 when it did not exit normally within \a timeoutMs.
    int finish(int timeoutMs = 20000)
    {
        if (!m_proc.waitForFinished(timeoutMs))
            return -1;
        m_err += QString::fromUtf8(m_proc.readAllStandardError());
        m_out += QString::fromUtf8(m_proc.readAllStandardOutput());
        return m_proc.exitStatus() == QProcess::NormalExit ? m_proc.exitCode() : -1;
    }
    QString path(const QString &name) const { return m_dir.filePath(name); }
    const QString &stdErr() const { return m_err; }
    const QString &stdOut() const { return m_out; }

private:
    QTemporaryDir m_dir;
    QProcess m_proc;
    QString m_err;
    QString m_out;
};

/// One connection pool of a bare manager: the manager, and the request that lands in the pool
/// (a peer verify name of its own gives one manager another pool to the same host, as the
/// session's lanes do).
using Pool = std::pair<QNetworkAccessManager *, QNetworkRequest>;

/// Requests that failed in the throughput part (bench_network_client.cpp).
extern int g_errors;

// ---- the results ------------------------------------------------------------------------------

/// CPU time per request, in µs.
struct Cost
{
    double threadUs = 0;    // on the thread that owns the managers (and the session)
    double processUs = 0;   // the whole process: that thread, Qt's HTTP threads and the server
};

struct Throughput
{
    std::vector<Cost> cpuBare1, cpuSend6, cpuDirect6;
    std::vector<double> bare1, send6, direct6, send64, bare11, bareLanes;
    std::vector<double> rSend6, rDirect6, rSend64vsBare1, rSend64vsBare11, rSend64vsLanes;
    int send64Managers = 0;
    int send6Managers = 0;
};

struct AbortTimes
{
    std::vector<double> queued, direct, bare, bareTimeout;
};

struct E2e
{
    std::vector<double> drainMs, deadlineMs, pendingAtSignal, bareDrainMs, latestArrival, bareLatestArrival;
    /// Exit after the last answer could have come: the drain time less (the latest arrival at
    /// the server after the signal, or 0, + the 200 ms every request waits there).
    std::vector<double> ownMs, bareOwnMs;
    /// The same drain with "fastExit": false: close tears the 1 000 connections down itself.
    std::vector<double> teardownDrainMs, teardownOwnMs;
    bool ok = true;
    QStringList problems;
};

// ---- the parts --------------------------------------------------------------------------------

// bench_network_client.cpp: in this process, or in a child role of this benchmark.
Throughput measureThroughput(const QUrl &fast, int rounds, int perRound);
int memoryChild(const QUrl &never, int rounds);
int connectionsChild(const QUrl &never);
int callsChild(const QByteArray &variant, int n);
AbortTimes measureAbort(berth::HttpFixture &server, const QUrl &never, int rounds);

// bench_network_berth.cpp: the real berth binary, its bare-Qt floor, the server in a process.
int floorChild(const QUrl &url);
void prepareServer(berth::HttpFixture &server);
/// Who drains: berth (fastExit, the default), berth with "fastExit": false, or bare Qt.
enum class Drainer { Berth, BerthTeardown, Bare };
double drainRun(berth::HttpFixture &server, E2e &e, Drainer who = Drainer::Berth);
double deadlineRun(berth::HttpFixture &server, E2e &e);
std::unique_ptr<Child> startServerProcess(QUrl *base);

} // namespace benchnet
