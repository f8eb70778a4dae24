// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Network session benchmarks (issue 3), all in one process and one run against one local
// HttpFixture on its own thread, so the figures compare as ratios:
//  1. requests per second at 64 concurrent requests to /fast: NetworkSession::send(), direct
//     tracked use (session.manager()->get()) and a session of 64 connections per host, each
//     against a bare QNetworkAccessManager with the same number of connections;
//  2. extra heap per tracked request in flight (mallinfo2 in a child process of this one);
//  3. peak RSS of a client holding 1 000 open connections (a child process: the server's
//     memory does not count), and abortAll + close with those 1 000 connections open;
//  4. abortAll() with 10 000 requests in flight, in the session's queue and in Qt's;
//  5. the real berth binary with http-poller at concurrency 1 000: SIGTERM while draining 200 ms
//     replies, and SIGTERM with 1 000 replies that never come and a 2 s deadline.
// Where the server runs: on a thread of this process. On 2 cores the server costs the client the
// same CPU in a thread as in a process of its own (three busy threads share two cores either way:
// client, Qt's HTTP thread, server); in this process it adds no host machinery, its counters can
// be checked directly, and every part of the run uses the same server. Memory figures are taken
// in child processes of this one, so the server's heap and RSS never count.
// Usage: bench_network [runs] [--server=thread|process] [--only=PART]
//   --server=process: the throughput rows against `berth run` hosting an http-fixture service
//   (a separate process) instead of the in-process fixture thread.
//   --only=throughput|memory|connections|abort|berth: one part (for profiling); no table.
#include "httpfixture.h"

#include <berth/networksession.h>
#include <berth/workledger.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QTimer>
#include <QtCore/QFile>
#include <QtCore/QLoggingCategory>
#include <QtCore/QProcess>
#include <QtCore/QRegularExpression>
#include <QtCore/QSocketNotifier>
#include <QtCore/QTemporaryDir>
#include <QtCore/QThread>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <malloc.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;

namespace {

// ---- small tools -------------------------------------------------------------------------------

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

/// Heap bytes in use: small blocks plus mmap'ed large ones. Covers every thread only with one
/// arena (the child processes set M_ARENA_MAX to 1 before any thread starts).
qint64 heapBytes()
{
    const struct mallinfo2 mi = mallinfo2();
    return qint64(mi.uordblks + mi.hblkhd);
}

/// A "Name:   123 kB" field of /proc/self/status, in bytes (-1 if absent).
qint64 procStatus(const char *field)
{
    QFile f(u"/proc/self/status"_s);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray text = f.readAll();
    const QByteArray key = QByteArray(field) + ':';
    const qsizetype at = text.indexOf(key);
    if (at < 0)
        return -1;
    const QByteArray value = text.mid(at + key.size(), text.indexOf('\n', at) - at - key.size()).trimmed();
    const bool kb = value.endsWith("kB");
    return value.split(' ').first().toLongLong() * (kb ? 1024 : 1);
}

/// Runs the event loop for up to \a ms: handles what arrives and wakes on it, no busy sleep.
void waitForEvents(int ms)
{
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

/// Runs the event loop until \a done() or \a timeoutMs; returns done().
bool waitUntil(const std::function<bool()> &done, int timeoutMs = 10000)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > timeoutMs)
            return false;
        waitForEvents(1);
    }
    return true;
}

/// Runs the event loop for \a ms, then deletes what was deleteLater()'d.
void spin(int ms)
{
    QElapsedTimer t;
    t.start();
    while (t.elapsed() < ms) {
        waitForEvents(1);
    }
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
}

/// Runs the event loop until the heap has not moved for 3 looks 40 ms apart (max \a maxMs).
void settleHeap(int maxMs = 2000)
{
    QElapsedTimer t;
    t.start();
    qint64 last = -1;
    int still = 0;
    while (t.elapsed() < maxMs && still < 3) {
        spin(40);
        const qint64 now = heapBytes();
        still = now == last ? still + 1 : 0;
        last = now;
    }
}

NetworkOptions sessionOptions(int maxConcurrent = 0, int connectionsPerHost = 0)
{
    NetworkOptions o;
    o.maxConcurrent = maxConcurrent;
    o.connectionsPerHost = connectionsPerHost;
    o.retry.attempts = 1;   // nothing here should be retried; a retry would skew the counts
    return o;
}

QNetworkRequest requestFor(const QUrl &url)
{
    return QNetworkRequest(url);
}

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

// ---- 1. throughput -----------------------------------------------------------------------------

using Done = std::function<void()>;
/// Starts one request; calls \a done when its answer has been read.
using StartOne = std::function<void(const Done &done)>;

int g_errors = 0;

/// Requests per second for \a total requests, \a concurrency at a time.
double rate(int total, int concurrency, const StartOne &startOne)
{
    int started = 0;
    int finished = 0;
    QEventLoop loop;
    Done done;
    done = [&] {
        ++finished;
        if (started < total) {
            ++started;
            startOne(done);
        } else if (finished == total) {
            loop.quit();
        }
    };
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < concurrency && started < total; ++i) {
        ++started;
        startOne(done);
    }
    loop.exec();
    return total / (double(t.nsecsElapsed()) / 1e9);
}

/// One connection pool of a bare manager: the manager, and the request that lands in the pool
/// (a peer verify name of its own gives one manager another pool to the same host, as the
/// session's lanes do).
using Pool = std::pair<QNetworkAccessManager *, QNetworkRequest>;

StartOne bareGet(std::vector<Pool> pools)
{
    auto outstanding = std::make_shared<std::vector<int>>(pools.size(), 0);
    return [pools, outstanding](const Done &done) {
        // The pool with the fewest outstanding requests (what the session does too).
        size_t best = 0;
        for (size_t i = 1; i < pools.size(); ++i) {
            if ((*outstanding)[i] < (*outstanding)[best])
                best = i;
        }
        ++(*outstanding)[best];
        QNetworkReply *reply = pools[best].first->get(pools[best].second);
        QObject::connect(reply, &QNetworkReply::finished, reply, [reply, best, outstanding, done] {
            --(*outstanding)[best];
            if (reply->error() != QNetworkReply::NoError)
                ++g_errors;
            reply->readAll();
            reply->deleteLater();
            done();
        });
    };
}

StartOne directGet(NetworkSession *session, const QNetworkRequest &request)
{
    return [session, request](const Done &done) {
        QNetworkReply *reply = session->manager()->get(request);
        QObject::connect(reply, &QNetworkReply::finished, reply, [reply, done] {
            if (reply->error() != QNetworkReply::NoError)
                ++g_errors;
            reply->readAll();
            reply->deleteLater();
            done();
        });
    };
}

StartOne sendGet(NetworkSession *session, const QNetworkRequest &request)
{
    return [session, request](const Done &done) {
        NetworkCall *call = session->send(request);
        QObject::connect(call, &NetworkCall::finished, call, [call, done] {
            if (call->error() != QNetworkReply::NoError)
                ++g_errors;
            (void)call->body();
            done();
        });
    };
}

struct Throughput
{
    std::vector<double> bare1, send6, direct6, send64, bare11, bareLanes;
    std::vector<double> rSend6, rDirect6, rSend64vsBare1, rSend64vsBare11, rSend64vsLanes;
    int send64Managers = 0;
};

Throughput measureThroughput(const QUrl &fast, int rounds, int perRound)
{
    constexpr int Concurrency = 64;
    const QNetworkRequest request = requestFor(fast);
    Throughput out;
    // One variant: fresh managers (fresh connections), a warm-up, then the timed requests.
    // \a pools pools of 6 connections over \a managers managers, round-robin (lane = index /
    // managers): with managers < pools, the layout the session uses.
    auto bare = [&](int managers, int poolCount) {
        std::vector<QNetworkAccessManager *> ms;
        std::vector<Pool> pools;
        for (int i = 0; i < managers; ++i)
            ms.push_back(new QNetworkAccessManager);
        for (int p = 0; p < poolCount; ++p) {
            QNetworkRequest r = request;
            if (p >= managers)
                r.setPeerVerifyName(u"lane-%1.invalid"_s.arg(p / managers));
            pools.emplace_back(ms[size_t(p % managers)], r);
        }
        const StartOne one = bareGet(pools);
        rate(128, Concurrency, one);
        const double r = rate(perRound, Concurrency, one);
        qDeleteAll(ms);
        spin(20);
        return r;
    };
    auto session = [&](int connectionsPerHost, bool direct, int *managers = nullptr) {
        WorkLedger ledger;
        auto *s = new NetworkSession(u"bench"_s, &ledger, sessionOptions(Concurrency, connectionsPerHost));
        const StartOne one = direct ? directGet(s, request) : sendGet(s, request);
        rate(128, Concurrency, one);
        const double r = rate(perRound, Concurrency, one);
        if (managers)
            *managers = s->managerCount();
        s->close();
        delete s;
        spin(20);
        return r;
    };
    for (int round = 0; round < rounds; ++round) {
        // The order rotates each round so that no variant always follows the same one.
        double b1 = 0, s6 = 0, d6 = 0, s64 = 0, b11 = 0, bl = 0;
        const std::function<void()> steps[] = {
            [&] { b1 = bare(1, 1); },
            [&] { s6 = session(6, false); },
            [&] { d6 = session(6, true); },
            [&] { s64 = session(64, false, &out.send64Managers); },
            [&] { b11 = bare(11, 11); },
            [&] { bl = bare(std::min(QThread::idealThreadCount(), 11), 11); },
        };
        for (int i = 0; i < 6; ++i)
            steps[(i + round) % 6]();
        out.bare1.push_back(b1);
        out.send6.push_back(s6);
        out.direct6.push_back(d6);
        out.send64.push_back(s64);
        out.bare11.push_back(b11);
        out.bareLanes.push_back(bl);
        out.rSend64vsLanes.push_back(s64 / bl);
        out.rSend6.push_back(s6 / b1);
        out.rDirect6.push_back(d6 / b1);
        out.rSend64vsBare1.push_back(s64 / b1);
        out.rSend64vsBare11.push_back(s64 / b11);
    }
    return out;
}

// ---- 2. memory per request in flight (child role "memory") -------------------------------------

/// Heap bytes per request: \a issue(n) makes n requests to /never, \a teardown ends them all.
double bytesPerRequest(int n, const std::function<void(int)> &issue, const std::function<void()> &teardown)
{
    issue(8);   // the manager's thread, the first connections, the session's ledger row
    settleHeap();
    const qint64 before = heapBytes();
    issue(n);
    settleHeap();
    const qint64 after = heapBytes();
    teardown();
    settleHeap(500);
    return double(after - before) / n;
}

int memoryChild(const QUrl &never, int rounds)
{
    constexpr int N = 5000;
    const QNetworkRequest request = requestFor(never);
    std::vector<double> bare, bareTimeout, direct, send;
    auto bareRun = [&](bool timeout) {
        auto *m = new QNetworkAccessManager;
        if (timeout)
            m->setTransferTimeout(int(NetworkOptions().transferTimeout.count()));
        QList<QNetworkReply *> replies;
        return bytesPerRequest(N, [&](int n) { for (int i = 0; i < n; ++i) replies.append(m->get(request)); },
                               [&] {
                                   for (QNetworkReply *r : std::as_const(replies)) {
                                       r->abort();
                                       r->deleteLater();
                                   }
                                   spin(10);
                                   delete m;
                               });
    };
    auto sessionRun = [&](bool viaSend) {
        auto *ledger = new WorkLedger;
        auto *s = new NetworkSession(u"bench"_s, ledger, sessionOptions());
        QList<QNetworkReply *> replies;
        const double per = bytesPerRequest(N, [&](int n) {
            for (int i = 0; i < n; ++i) {
                if (viaSend)
                    s->send(request);
                else
                    replies.append(s->manager()->get(request));
            }
        }, [&] {
            s->abortAll();
            for (QNetworkReply *r : std::as_const(replies))
                r->deleteLater();
            spin(10);
            s->close();
            delete s;
            delete ledger;
        });
        return per;
    };
    for (int round = 0; round < rounds; ++round) {
        bare.push_back(bareRun(false));
        bareTimeout.push_back(bareRun(true));
        direct.push_back(sessionRun(false));
        send.push_back(sessionRun(true));
    }
    std::printf("memory bare=%.1f bareTimeout=%.1f direct=%.1f send=%.1f\n", median(bare), median(bareTimeout),
                median(direct), median(send));
    std::fflush(stdout);
    return 0;
}

// ---- 3. + 4c. 1 000 open connections (child role "connections") --------------------------------

int connectionsChild(const QUrl &never)
{
    constexpr int N = 1000;
    if (HttpFixture::raiseOpenFileLimit() >= 0 && HttpFixture::raiseOpenFileLimit() < N + N / 6 + 100)
        qFatal("the open-file limit is too low for %d connections", N);
    WorkLedger ledger;
    NetworkSession session(u"bench"_s, &ledger, sessionOptions(N, N));
    const qint64 baseline = procStatus("VmRSS");
    std::printf("baseline rss=%lld\n", baseline);
    std::fflush(stdout);
    const QNetworkRequest request = requestFor(never);
    for (int i = 0; i < N; ++i)
        session.send(request);
    // The parent watches the server and writes a line once all 1 000 are open and pending there.
    QSocketNotifier go(STDIN_FILENO, QSocketNotifier::Read);
    QEventLoop loop;
    QObject::connect(&go, &QSocketNotifier::activated, &loop, &QEventLoop::quit);
    loop.exec();
    char line[64];
    (void)!::read(STDIN_FILENO, line, sizeof line);
    const qint64 hwm = procStatus("VmHWM");
    const qint64 rss = procStatus("VmRSS");
    const qint64 threads = procStatus("Threads");
    const qint64 heap = heapBytes();   // the main arena only, unless MALLOC_ARENA_MAX=1
    const qint64 stacks = procStatus("VmStk");
    const int inFlight = session.inFlight();
    const int managers = session.managerCount();
    QElapsedTimer t;
    t.start();
    session.abortAll();
    const qint64 abortNs = t.nsecsElapsed();
    t.restart();
    session.close();
    const qint64 closeNs = t.nsecsElapsed();
    std::printf("open hwm=%lld rss=%lld threads=%lld inflight=%d managers=%d abort=%lld close=%lld heap=%lld stk=%lld\n",
                hwm, rss, threads, inFlight, managers, abortNs, closeNs, heap, stacks);
    std::fflush(stdout);
    return 0;
}

// ---- 4. abortAll() with 10 000 in flight -------------------------------------------------------

struct AbortTimes
{
    std::vector<double> queued, direct, bare, bareTimeout;
};

AbortTimes measureAbort(HttpFixture &server, const QUrl &never, int rounds)
{
    constexpr int N = 10000;
    const QNetworkRequest request = requestFor(never);
    AbortTimes out;
    auto settled = [&] {   // the 6 connections of the round are open and waiting at the server
        waitUntil([&] { return server.pendingResponses() >= 6; });
        spin(50);
    };
    auto gone = [&] { waitUntil([&] { return server.connectionsOpen() == 0; }); };
    QElapsedTimer t;
    // A bare manager, abort() on each reply; \a timeout: with the session's 30 s transfer timeout
    // (Qt gives each reply a timer for it).
    auto bareAbort = [&](bool timeout) {
        QNetworkAccessManager m;
        if (timeout)
            m.setTransferTimeout(int(NetworkOptions().transferTimeout.count()));
        QList<QNetworkReply *> replies;
        for (int i = 0; i < N; ++i)
            replies.append(m.get(request));
        settled();
        t.start();
        for (QNetworkReply *r : std::as_const(replies))
            r->abort();
        const double ms = double(t.nsecsElapsed()) / 1e6;
        qDeleteAll(replies);
        spin(20);
        return ms;
    };
    // The four variants in a rotating order: none always runs first (or after another).
    const std::function<void()> variants[] = {
        [&] {   // default limits: 6 handed to Qt, 9 994 in the session's own queue
            WorkLedger ledger;
            NetworkSession s(u"bench"_s, &ledger, sessionOptions());
            int finished = 0;
            for (int i = 0; i < N; ++i)
                QObject::connect(s.send(request), &NetworkCall::finished, &s, [&finished] { ++finished; });
            settled();
            t.start();
            s.abortAll();
            out.queued.push_back(double(t.nsecsElapsed()) / 1e6);
            if (finished != N)
                qFatal("abortAll (send): %d of %d calls finished", finished, N);
            s.close();
            spin(20);
        },
        [&] {   // direct use: all 10 000 handed to Qt, which holds all but 6 in its own queue
            WorkLedger ledger;
            NetworkSession s(u"bench"_s, &ledger, sessionOptions());
            QList<QNetworkReply *> replies;
            for (int i = 0; i < N; ++i)
                replies.append(s.manager()->get(request));
            settled();
            t.start();
            s.abortAll();
            out.direct.push_back(double(t.nsecsElapsed()) / 1e6);
            const auto running = std::count_if(replies.cbegin(), replies.cend(), [](QNetworkReply *r) { return r->isRunning(); });
            if (running)
                qFatal("abortAll (direct): %lld replies still running", qint64(running));
            qDeleteAll(replies);
            s.close();
            spin(20);
        },
        [&] { out.bare.push_back(bareAbort(false)); },   // reference: a bare manager, abort() on each reply
        [&] { out.bareTimeout.push_back(bareAbort(true)); },   // with the session's 30 s transfer timeout
    };
    for (int round = 0; round < rounds; ++round) {
        for (int i = 0; i < 4; ++i) {
            variants[(i + round) % 4]();
            gone();
        }
    }
    return out;
}

// ---- 5a. the same drain without Berth (child role "floor") --------------------------------------

int g_termPipe[2] = {-1, -1};

/// What Qt alone needs for the drain scenario: 1 000 polls back to back on bare managers with the
/// session's pools (one manager per core, lanes of 6 connections); on SIGTERM nothing new is sent,
/// the polls in flight finish, the managers are deleted, exit 0. No ledger, no phases, no output.
int floorChild(const QUrl &url)
{
    constexpr int N = 1000;
    HttpFixture::raiseOpenFileLimit();
    if (::pipe(g_termPipe) != 0)
        qFatal("pipe failed");
    struct sigaction sa = {};
    sa.sa_handler = [](int) { const char c = 't'; (void)!::write(g_termPipe[1], &c, 1); };
    sigaction(SIGTERM, &sa, nullptr);
    const int pools = (N + 5) / 6;
    // The session's layout: one manager per core, and one per 128 connections.
    const int managersN = std::max({1, std::min(QThread::idealThreadCount(), pools), (N + 127) / 128});
    std::vector<QNetworkAccessManager *> managers;
    for (int i = 0; i < managersN; ++i)
        managers.push_back(new QNetworkAccessManager);
    std::vector<Pool> slots;   // slot i: manager i % managersN, lane i / managersN
    for (int p = 0; p < pools; ++p) {
        QNetworkRequest r(url);
        if (p >= managersN)
            r.setPeerVerifyName(u"lane-%1.invalid"_s.arg(p / managersN));
        slots.emplace_back(managers[size_t(p % managersN)], r);
    }
    bool stopping = false;
    int inFlight = 0;
    std::function<void(int)> start = [&](int slot) {
        QNetworkReply *reply = slots[size_t(slot)].first->get(slots[size_t(slot)].second);
        ++inFlight;
        QObject::connect(reply, &QNetworkReply::finished, reply, [&, reply, slot] {
            reply->readAll();
            reply->deleteLater();
            --inFlight;
            if (!stopping)
                start(slot);
            else if (inFlight == 0)
                QCoreApplication::exit(0);
        });
    };
    for (int i = 0; i < N; ++i)
        start(i % pools);
    QSocketNotifier term(g_termPipe[0], QSocketNotifier::Read);
    QObject::connect(&term, &QSocketNotifier::activated, [&] { stopping = true; term.setEnabled(false); });
    const int code = QCoreApplication::exec();
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    qDeleteAll(managers);
    return code;
}

// ---- 5. the real berth binary ------------------------------------------------------------------

QByteArray pollerConfig(const QUrl &url, const QByteArray &shutdown, const QString &output)
{
    return R"({"shutdown": )" + shutdown + R"(, "services": [{"name": "poller", "type": "http-poller",
        "config": {"url": ")" + url.toString().toUtf8() + R"(", "concurrency": 1000,
                   "interval": "0s", "output": ")" + output.toUtf8() + R"("}}]})";
}

struct E2e
{
    std::vector<double> drainMs, deadlineMs, pendingAtSignal, bareDrainMs, latestArrival, bareLatestArrival;
    bool ok = true;
    QStringList problems;
};

void prepareServer(HttpFixture &server)
{
    if (!waitUntil([&] { return server.connectionsOpen() == 0; }, 20000))
        qFatal("connections of an earlier run stay open at the server: %d", server.connectionsOpen());
    server.reset();
}

/// SIGTERM while 1 000 polls of 200 ms are pending: every one completes, none starts late.
double drainRun(HttpFixture &server, E2e &e, bool bare = false)
{
    prepareServer(server);
    Child berth(bare ? QCoreApplication::applicationFilePath() : QStringLiteral(BERTH_BINARY));
    const QString out = berth.path(u"polls.jsonl"_s);
    if (bare) {
        berth.start({u"--role=floor"_s, server.url(u"/delay?ms=200"_s).toString()});
    } else {
        berth.run(pollerConfig(server.url(u"/delay?ms=200"_s),
                               R"({"deadline": "10s", "drain": "5s", "cancel": "2s", "reserve": "250ms"})", out));
        if (!berth.waitReady())
            qFatal("berth did not start: %s", qPrintable(berth.stdErr().right(2000)));
    }
    // Polling back to back with all 1 000 connections open: 1 000 polls in flight at the client
    // at every moment, most of them pending at the server (the rest on their way).
    if (!waitUntil([&] { return server.requestsReceived() >= 2000 && server.peakConnectionsOpen() >= 1000; }, 30000))
        qFatal("drain: polling did not start (received %lld, peak open %d)", server.requestsReceived(),
               server.peakConnectionsOpen());
    waitForEvents(300);
    if (!bare)
        e.pendingAtSignal.push_back(server.pendingResponses());
    const qint64 signalAt = QDateTime::currentMSecsSinceEpoch();
    QElapsedTimer t;
    t.start();
    berth.signal(SIGTERM);
    const int code = berth.finish();
    const double ms = double(t.nsecsElapsed()) / 1e6;
    if (qEnvironmentVariableIsSet("BENCH_VERBOSE"))
        std::fprintf(stderr, "--- drain run, %.0f ms:\n%s\n", ms, qPrintable(berth.stdErr().right(3000)));
    waitUntil([&] { return server.requestsCompleted() + server.requestsAbandoned() + server.requestsAborted()
                           >= server.requestsReceived(); }, 5000);
    const QList<qint64> arrivals = server.arrivalTimesMs();
    // Signalled in steady state, some polls sent just before the signal are still on their way
    // (in the client's HTTP threads or the busy server's backlog): as in tst_e2e_network, an
    // arrival more than 100 ms after the signal counts as sent after it (back to back, hundreds
    // would arrive). The latest arrival is reported.
    const auto late = std::count_if(arrivals.cbegin(), arrivals.cend(), [&](qint64 a) { return a > signalAt + 100; });
    const qint64 latest = arrivals.isEmpty() ? 0 : *std::max_element(arrivals.cbegin(), arrivals.cend()) - signalAt;
    (bare ? e.bareLatestArrival : e.latestArrival).push_back(double(latest));
    if (code != 0 || server.requestsAbandoned() || server.requestsAborted() || late) {
        e.ok = false;
        e.problems << QString((bare ? u"bare drain: exit %1,"_s : u"drain: exit %1,"_s) + u" abandoned %2, aborted %3, started after the signal %4"_s).arg(code)
                          .arg(server.requestsAbandoned()).arg(server.requestsAborted()).arg(qint64(late));
    }
    return ms;
}

/// SIGTERM with 1 000 polls that never get an answer and a 2 s deadline: aborted in cancel.
double deadlineRun(HttpFixture &server, E2e &e)
{
    prepareServer(server);
    Child berth;
    const QString out = berth.path(u"polls.jsonl"_s);
    berth.run(pollerConfig(server.url(u"/never"_s),
                           R"({"deadline": "2s", "drain": "1s", "cancel": "500ms", "reserve": "250ms"})", out));
    if (!berth.waitReady())
        qFatal("berth did not start: %s", qPrintable(berth.stdErr().right(2000)));
    if (!waitUntil([&] { return server.pendingResponses() >= 1000; }, 30000))
        qFatal("deadline: never 1000 pending (pending %d)", server.pendingResponses());
    QElapsedTimer t;
    t.start();
    berth.signal(SIGTERM);
    const int code = berth.finish();
    const double ms = double(t.nsecsElapsed()) / 1e6;
    waitUntil([&] { return server.requestsAbandoned() >= 1000; }, 5000);
    if (code != 0 || server.requestsAbandoned() != 1000 || server.requestsReceived() != 1000
        || !berth.stdErr().contains(u"phase cancel: 1000 pending work item(s) cancelled"_s)) {
        e.ok = false;
        e.problems << u"deadline: exit %1, abandoned %2, received %3"_s.arg(code)
                          .arg(server.requestsAbandoned()).arg(server.requestsReceived());
    }
    return ms;
}

// ---- the server in a process of its own (throughput only, --server=process) ---------------------

std::unique_ptr<Child> startServerProcess(QUrl *base)
{
    auto child = std::make_unique<Child>();
    child->run(R"({"services": [{"name": "fixture", "type": "http-fixture", "config": {"port": 0}}]})");
    const auto m = child->waitFor(u"listening on (http://127\\.0\\.0\\.1:\\d+)"_s);
    if (!m.hasMatch())
        qFatal("berth run with http-fixture did not listen: %s", qPrintable(child->stdErr().right(2000)));
    *base = QUrl(m.captured(1));
    return child;
}

// ---- the table ---------------------------------------------------------------------------------

void row(const char *figure, const QString &value, const QString &target, const QString &verdict)
{
    std::printf("  %-58s %16s  %-12s %s\n", figure, qPrintable(value), qPrintable(target), qPrintable(verdict));
}

QString pass(bool ok) { return ok ? u"pass"_s : u"MISS"_s; }

} // namespace

int main(int argc, char **argv)
{
    // A child role measures the heap with mallinfo2(), which sees one arena: all threads use it.
    const bool memoryRole = argc > 2 && qstrcmp(argv[1], "--role=memory") == 0;
    if (memoryRole)
        mallopt(M_ARENA_MAX, 1);
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"berth.*.info=false\nberth.*.warning=false\nqt.network.*=false"_s);
    if (memoryRole)
        return memoryChild(QUrl(QString::fromLatin1(argv[2])), argc > 3 ? std::max(1, atoi(argv[3])) : 3);
    if (argc > 2 && qstrcmp(argv[1], "--role=connections") == 0)
        return connectionsChild(QUrl(QString::fromLatin1(argv[2])));
    if (argc > 2 && qstrcmp(argv[1], "--role=floor") == 0)
        return floorChild(QUrl(QString::fromLatin1(argv[2])));

    int runs = 5;
    bool serverProcess = false;
    QByteArray only;
    for (int i = 1; i < argc; ++i) {
        if (qstrcmp(argv[i], "--server=process") == 0)
            serverProcess = true;
        else if (qstrncmp(argv[i], "--only=", 7) == 0)
            only = argv[i] + 7;
        else if (qstrcmp(argv[i], "--server=thread") != 0)
            runs = std::max(1, atoi(argv[i]));
    }
    const int e2eRuns = std::max(3, runs);
    if (HttpFixture::raiseOpenFileLimit() >= 0 && HttpFixture::raiseOpenFileLimit() < 3000)
        qFatal("the open-file limit is too low for 1 000 connections at the server and the client");
    HttpFixture server;
    if (!server.startInThread())
        qFatal("HttpFixture: %s", qPrintable(server.errorString()));
    QElapsedTimer total;
    total.start();

    auto part = [&](const char *name) { return only.isEmpty() || only == name; };

    // 1. Throughput.
    std::unique_ptr<Child> serverChild;
    QUrl fast = server.url(u"/fast"_s);
    if (serverProcess) {
        QUrl base;
        serverChild = startServerProcess(&base);
        fast = base.resolved(QUrl(u"/fast"_s));
    }
    // Short rounds, many of them, alternating: a shared machine drifts less within one round.
    const int tpRounds = 4 * runs;
    const Throughput tp = part("throughput") ? measureThroughput(fast, tpRounds, 2000) : Throughput{};
    serverChild.reset();
    if (g_errors)
        qFatal("%d requests to /fast failed", g_errors);
    std::fprintf(stderr, "throughput done at %.1f s: bare1 %.0f, send6 %.0f, direct6 %.0f, send64 %.0f, bare11 %.0f, "
                         "bare 11 lanes %.0f req/s; ratios (median per round): send6 %.3f direct6 %.3f "
                         "send64/lanes %.3f send64/11 %.3f\n",
                 total.elapsed() / 1000.0, median(tp.bare1), median(tp.send6), median(tp.direct6),
                 median(tp.send64), median(tp.bare11), median(tp.bareLanes), median(tp.rSend6),
                 median(tp.rDirect6), median(tp.rSend64vsLanes), median(tp.rSend64vsBare11));

    // 2. Memory per request, in a fresh process (one malloc arena, nothing else in its heap).
    double memBare = 0, memBareTimeout = 0, memDirect = 0, memSend = 0;
    if (part("memory")) {
        Child client(QCoreApplication::applicationFilePath());
        client.start({u"--role=memory"_s, server.url(u"/never"_s).toString(), QString::number(std::min(runs, 3))});
        if (client.finish(60000) != 0)
            qFatal("memory client failed: %s", qPrintable(client.stdErr().right(2000)));
        const auto m = QRegularExpression(uR"(memory bare=(\S+) bareTimeout=(\S+) direct=(\S+) send=(\S+))"_s).match(client.stdOut());
        if (!m.hasMatch())
            qFatal("memory client said: %s", qPrintable(client.stdOut()));
        memBare = m.captured(1).toDouble();
        memBareTimeout = m.captured(2).toDouble();
        memDirect = m.captured(3).toDouble();
        memSend = m.captured(4).toDouble();
    }
    prepareServer(server);
    std::fprintf(stderr, "memory done at %.1f s: bare %.0f, bare+timeout %.0f, direct %.0f, send %.0f B per request\n",
                 total.elapsed() / 1000.0, memBare, memBareTimeout, memDirect, memSend);

    // 3. 1 000 open connections, the client in a process of its own.
    qint64 baseRss = 0, hwm = 0, rss = 0, threads = 0, openAtServer = 0;
    double openAbortMs = 0, openCloseMs = 0;
    if (part("connections")) {
        Child client(QCoreApplication::applicationFilePath());
        client.start({u"--role=connections"_s, server.url(u"/never"_s).toString()});
        const auto b = client.waitFor(u"baseline rss=(\\d+)"_s, 15000, true);
        if (!b.hasMatch())
            qFatal("connections client: %s", qPrintable(client.stdErr().right(2000)));
        baseRss = b.captured(1).toLongLong();
        if (!waitUntil([&] { return server.pendingResponses() >= 1000 && server.connectionsOpen() >= 1000; }, 30000))
            qFatal("connections: only %d pending, %d open at the server", server.pendingResponses(), server.connectionsOpen());
        openAtServer = server.connectionsOpen();
        spin(200);   // let the client settle with everything open
        client.write("go\n");
        if (client.finish(30000) != 0)
            qFatal("connections client failed: %s", qPrintable(client.stdErr().right(2000)));
        const auto m = QRegularExpression(uR"(open hwm=(\d+) rss=(\d+) threads=(\d+) inflight=(\d+) managers=(\d+) abort=(\d+) close=(\d+))"_s)
                           .match(client.stdOut());
        if (!m.hasMatch())
            qFatal("connections client said: %s", qPrintable(client.stdOut()));
        hwm = m.captured(1).toLongLong();
        rss = m.captured(2).toLongLong();
        threads = m.captured(3).toLongLong();
        openAbortMs = m.captured(6).toDouble() / 1e6;
        openCloseMs = m.captured(7).toDouble() / 1e6;
        std::fprintf(stderr, "connections: in flight %s, managers %s, baseline %.1f MiB, peak %.1f MiB, abortAll %.1f ms, close %.1f ms\n",
                     qPrintable(m.captured(4)), qPrintable(m.captured(5)), baseRss / 1048576.0, hwm / 1048576.0,
                     openAbortMs, openCloseMs);
    }
    prepareServer(server);
    std::fprintf(stderr, "connections done at %.1f s\n", total.elapsed() / 1000.0);

    // 4. abortAll() with 10 000 requests.
    const AbortTimes ab = part("abort") ? measureAbort(server, server.url(u"/never"_s), std::max(3, runs)) : AbortTimes{};
    std::fprintf(stderr, "abort done at %.1f s: queued %.1f, direct %.1f, bare %.1f, bare+timeout %.1f ms\n",
                 total.elapsed() / 1000.0, median(ab.queued), median(ab.direct), median(ab.bare), median(ab.bareTimeout));

    // 5. The real binary.
    E2e e2e;
    for (int i = 0; part("berth") && i < e2eRuns; ++i) {
        e2e.drainMs.push_back(drainRun(server, e2e));
        e2e.bareDrainMs.push_back(drainRun(server, e2e, true));
        e2e.deadlineMs.push_back(deadlineRun(server, e2e));
        std::fprintf(stderr, "berth run %d: drain %.0f ms (bare Qt %.0f ms), deadline %.0f ms\n", i + 1,
                     e2e.drainMs.back(), e2e.bareDrainMs.back(), e2e.deadlineMs.back());
    }
    std::fprintf(stderr, "e2e done at %.1f s\n", total.elapsed() / 1000.0);

    if (!only.isEmpty())
        return 0;

    // ---- the table
    const double mib = 1024.0 * 1024.0;
    std::printf("berth network benchmarks (throughput: median of %d alternating rounds; memory %d; abort %d; berth binary %d; server: %s)\n",
                tpRounds, std::min(runs, 3), std::max(3, runs), e2eRuns, serverProcess ? "berth run http-fixture process" : "in-process thread");
    std::printf("  %-58s %16s  %-12s %s\n", "figure", "value", "target", "ratio / verdict");
    row("bare QNAM, 1 manager (6 connections): req/s", u"%1"_s.arg(median(tp.bare1), 0, 'f', 0), u"-"_s, u"reference"_s);
    row("session send(), 6 per host (1 manager): req/s", u"%1"_s.arg(median(tp.send6), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare  %2"_s.arg(median(tp.rSend6), 0, 'f', 3).arg(pass(median(tp.rSend6) >= 0.97)));
    row("session manager()->get(), tracked: req/s", u"%1"_s.arg(median(tp.direct6), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare  %2"_s.arg(median(tp.rDirect6), 0, 'f', 3).arg(pass(median(tp.rDirect6) >= 0.97)));
    row(qPrintable(u"bare QNAM, %1 manager(s), 11 pools (66 connections): req/s"_s.arg(std::min(QThread::idealThreadCount(), 11))),
        u"%1"_s.arg(median(tp.bareLanes), 0, 'f', 0), u"-"_s, u"reference (the session's layout)"_s);
    row("bare QNAM, 11 managers (66 connections): req/s", u"%1"_s.arg(median(tp.bare11), 0, 'f', 0), u"-"_s, u"reference"_s);
    row(qPrintable(u"session send(), 64 per host (%1 manager(s)): req/s"_s.arg(tp.send64Managers)),
        u"%1"_s.arg(median(tp.send64), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare, same layout  %2;  x%3 of 11 managers; x%4 of 1 pool"_s.arg(median(tp.rSend64vsLanes), 0, 'f', 3)
            .arg(pass(median(tp.rSend64vsLanes) >= 0.97)).arg(median(tp.rSend64vsBare11), 0, 'f', 3)
            .arg(median(tp.rSend64vsBare1), 0, 'f', 3));
    row("heap per request in flight: bare QNAM (Qt defaults)", u"%1 B"_s.arg(memBare, 0, 'f', 0), u"-"_s, u"reference"_s);
    row("heap per request in flight: bare QNAM + 30 s transfer timeout", u"%1 B"_s.arg(memBareTimeout, 0, 'f', 0), u"-"_s,
        u"reference (the session's settings)"_s);
    row("extra heap per tracked request: manager()->get()", u"%1 B"_s.arg(memDirect - memBareTimeout, 0, 'f', 0), u"<= 256 B"_s,
        u"x%1 of target  %2;  +%3 B vs Qt defaults"_s.arg((memDirect - memBareTimeout) / 256, 0, 'f', 2)
            .arg(pass(memDirect - memBareTimeout <= 256)).arg(memDirect - memBare, 0, 'f', 0));
    row("extra heap per call: send() (6 sent, rest in session queue)", u"%1 B"_s.arg(memSend - memBare, 0, 'f', 0), u"(<= 256 B)"_s,
        u"x%1 of target  %2;  %3 B per call in all"_s.arg((memSend - memBare) / 256, 0, 'f', 2)
            .arg(pass(memSend - memBare <= 256)).arg(memSend, 0, 'f', 0));
    row("client RSS before the 1 000 requests", u"%1 MiB"_s.arg(baseRss / mib, 0, 'f', 1), u"-"_s, u"baseline"_s);
    row("client peak RSS, 1 000 connections open", u"%1 MiB"_s.arg(hwm / mib, 0, 'f', 1), u"<= 40 MiB"_s,
        u"x%1 of target  %2;  now %3 MiB, %4 threads, %5 open at server"_s.arg(hwm / mib / 40, 0, 'f', 2)
            .arg(pass(hwm <= 40 * mib)).arg(rss / mib, 0, 'f', 1).arg(threads).arg(openAtServer));
    row("abortAll(), 10 000 send() (6 in Qt, rest session-queued)", u"%1 ms"_s.arg(median(ab.queued), 0, 'f', 1), u"<= 100 ms"_s,
        u"x%1 of target  %2"_s.arg(median(ab.queued) / 100, 0, 'f', 2).arg(pass(median(ab.queued) <= 100)));
    row("abortAll(), 10 000 manager()->get() (held by Qt)", u"%1 ms"_s.arg(median(ab.direct), 0, 'f', 1), u"<= 100 ms"_s,
        u"x%1 of target  %2;  x%3 of bare + timeout; x%4 of bare"_s.arg(median(ab.direct) / 100, 0, 'f', 2)
            .arg(pass(median(ab.direct) <= 100)).arg(median(ab.direct) / median(ab.bareTimeout), 0, 'f', 2)
            .arg(median(ab.direct) / median(ab.bare), 0, 'f', 2));
    row("abort() on each of 10 000 bare QNAM replies", u"%1 ms"_s.arg(median(ab.bare), 0, 'f', 1), u"-"_s, u"reference"_s);
    row("the same, with the session's 30 s transfer timeout", u"%1 ms"_s.arg(median(ab.bareTimeout), 0, 'f', 1), u"-"_s,
        u"reference (the session's settings: a timer per reply in Qt)"_s);
    row("abortAll() + close(), 1 000 connections open", u"%1 ms"_s.arg(openAbortMs + openCloseMs, 0, 'f', 1), u"<= 100 ms"_s,
        u"abortAll %1 ms + close %2 ms  %3"_s.arg(openAbortMs, 0, 'f', 1).arg(openCloseMs, 0, 'f', 1)
            .arg(pass(openAbortMs + openCloseMs <= 100)));
    row("bare Qt client: SIGTERM -> exit, same drain, same pools", u"%1 ms"_s.arg(median(e2e.bareDrainMs), 0, 'f', 0), u"-"_s,
        u"reference: what Qt alone needs here"_s);
    row("berth: SIGTERM -> exit, draining 1 000 x 200 ms polls", u"%1 ms"_s.arg(median(e2e.drainMs), 0, 'f', 0), u"<= 250 ms"_s,
        u"x%1 of target  %2;  x%3 of bare Qt"_s.arg(median(e2e.drainMs) / 250, 0, 'f', 2).arg(pass(median(e2e.drainMs) <= 250))
            .arg(median(e2e.drainMs) / median(e2e.bareDrainMs), 0, 'f', 2));
    row("berth: SIGTERM -> exit, 1 000 never-answered, 2 s deadline", u"%1 ms"_s.arg(median(e2e.deadlineMs), 0, 'f', 0),
        u"<= 2 050 ms"_s, u"x%1 of the deadline  %2"_s.arg(median(e2e.deadlineMs) / 2000, 0, 'f', 3)
                            .arg(pass(median(e2e.deadlineMs) <= 2050)));
    auto list = [](const std::vector<double> &v) {
        QStringList s;
        for (double x : v)
            s << QString::number(x, 'f', 0);
        return s.join(u' ');
    };
    std::printf("  berth runs (ms): drain %s; bare Qt drain %s; deadline %s; all exit 0 and counted right at the server: %s\n",
                qPrintable(list(e2e.drainMs)), qPrintable(list(e2e.bareDrainMs)), qPrintable(list(e2e.deadlineMs)),
                e2e.ok ? "yes" : "NO");
    std::printf("  drain runs: polls pending at the server at the signal (of 1 000 in flight): %s\n",
                qPrintable(list(e2e.pendingAtSignal)));
    std::printf("  drain runs: latest arrival at the server after the signal (ms): berth %s; bare Qt %s\n",
                qPrintable(list(e2e.latestArrival)), qPrintable(list(e2e.bareLatestArrival)));
    for (const QString &p : std::as_const(e2e.problems))
        std::printf("  problem: %s\n", qPrintable(p));
    std::printf("  (whole run %.1f s)\n", total.elapsed() / 1000.0);
    return e2e.ok ? 0 : 1;
}
