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
#include "tests/support/benchnet.h"
#include "platform.h"

#include <berth/networksession.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QTimer>
#include <QtCore/QFile>
#include <QtCore/QLoggingCategory>
#include <QtCore/QRegularExpression>
#include <QtCore/QThread>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <malloc.h>
#include <memory>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;
using namespace benchnet;

namespace benchnet {

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
bool waitUntil(const std::function<bool()> &done, int timeoutMs)
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
void settleHeap(int maxMs)
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

NetworkOptions sessionOptions(int maxConcurrent, int connectionsPerHost)
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

} // namespace benchnet

namespace {

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
    if (argc > 3 && qstrcmp(argv[1], "--role=calls") == 0)
        return callsChild(argv[2], atoi(argv[3]));
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
    if (platform::raiseOpenFileLimit() >= 0 && platform::raiseOpenFileLimit() < 3000)
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
    // The median of 20 rounds moved by +-3 % from one set to the next here; 40 narrow that by ~1/sqrt(2).
    const int tpRounds = 8 * runs;
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
    const auto cpu = [](const std::vector<Cost> &v, double Cost::*field) {
        std::vector<double> x;
        for (const Cost &c : v)
            x.push_back(c.*field);
        return median(x);
    };
    if (part("throughput"))
        std::fprintf(stderr, "CPU per request, µs (median): owning thread bare1 %.1f, send6 %.1f, direct6 %.1f; "
                             "whole process bare1 %.1f, send6 %.1f, direct6 %.1f\n",
                     cpu(tp.cpuBare1, &Cost::threadUs), cpu(tp.cpuSend6, &Cost::threadUs),
                     cpu(tp.cpuDirect6, &Cost::threadUs), cpu(tp.cpuBare1, &Cost::processUs),
                     cpu(tp.cpuSend6, &Cost::processUs), cpu(tp.cpuDirect6, &Cost::processUs));

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
        // The order rotates, so that no variant always follows the same one.
        for (int k = 0; k < 3; ++k) {
            switch ((i + k) % 3) {
            case 0: e2e.drainMs.push_back(drainRun(server, e2e)); break;
            case 1: e2e.teardownDrainMs.push_back(drainRun(server, e2e, Drainer::BerthTeardown)); break;
            default: e2e.bareDrainMs.push_back(drainRun(server, e2e, Drainer::Bare)); break;
            }
        }
        e2e.deadlineMs.push_back(deadlineRun(server, e2e));
        std::fprintf(stderr, "berth run %d: drain %.0f ms, %.0f after the last answer could come (fastExit false %.0f, %.0f; "
                             "bare Qt %.0f, %.0f), deadline %.0f ms\n", i + 1, e2e.drainMs.back(), e2e.ownMs.back(),
                     e2e.teardownDrainMs.back(), e2e.teardownOwnMs.back(), e2e.bareDrainMs.back(),
                     e2e.bareOwnMs.back(), e2e.deadlineMs.back());
    }
    if (part("berth"))
        std::fprintf(stderr, "e2e done at %.1f s: drain median %.0f ms (%.0f after the last answer could come), "
                             "fastExit false %.0f (%.0f), bare Qt %.0f (%.0f)\n",
                     total.elapsed() / 1000.0, median(e2e.drainMs), median(e2e.ownMs), median(e2e.teardownDrainMs),
                     median(e2e.teardownOwnMs), median(e2e.bareDrainMs), median(e2e.bareOwnMs));

    if (!only.isEmpty())
        return 0;

    // ---- the table
    const double mib = 1024.0 * 1024.0;
    std::printf("berth network benchmarks (throughput: median of %d alternating rounds; memory %d; abort %d; berth binary %d; server: %s)\n",
                tpRounds, std::min(runs, 3), std::max(3, runs), e2eRuns, serverProcess ? "berth run http-fixture process" : "in-process thread");
    std::printf("  %-58s %16s  %-12s %s\n", "figure", "value", "target", "ratio / verdict");
    row("bare QNAM, 1 manager (6 connections): req/s", u"%1"_s.arg(median(tp.bare1), 0, 'f', 0), u"-"_s, u"reference"_s);
    row(qPrintable(u"session send(), 6 per host (%1 manager(s)): req/s"_s.arg(tp.send6Managers)),
        u"%1"_s.arg(median(tp.send6), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare  %2"_s.arg(median(tp.rSend6), 0, 'f', 3).arg(pass(median(tp.rSend6) >= 0.97)));
    row("session manager()->get(), tracked: req/s", u"%1"_s.arg(median(tp.direct6), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare  %2"_s.arg(median(tp.rDirect6), 0, 'f', 3).arg(pass(median(tp.rDirect6) >= 0.97)));
    for (const auto &[what, field] : {std::pair{"owning thread", &Cost::threadUs}, std::pair{"whole process", &Cost::processUs}}) {
        const double b = cpu(tp.cpuBare1, field), sd = cpu(tp.cpuSend6, field), dd = cpu(tp.cpuDirect6, field);
        row(qPrintable(u"CPU per request, %1: bare / send() / direct"_s.arg(QLatin1StringView(what))),
            u"%1/%2/%3 us"_s.arg(b, 0, 'f', 0).arg(sd, 0, 'f', 0).arg(dd, 0, 'f', 0), u"-"_s,
            u"send() x%1 of bare; direct x%2"_s.arg(b > 0 ? sd / b : 0, 0, 'f', 2).arg(b > 0 ? dd / b : 0, 0, 'f', 2));
    }
    row(qPrintable(u"bare QNAM, %1 manager(s), 11 pools (66 connections): req/s"_s.arg(std::min(QThread::idealThreadCount(), 11))),
        u"%1"_s.arg(median(tp.bareLanes), 0, 'f', 0), u"-"_s, u"reference (the session's layout)"_s);
    row("bare QNAM, 11 managers (66 connections): req/s", u"%1"_s.arg(median(tp.bare11), 0, 'f', 0), u"-"_s, u"reference"_s);
    row(qPrintable(u"session send(), 64 per host (%1 manager(s)): req/s"_s.arg(tp.send64Managers)),
        u"%1"_s.arg(median(tp.send64), 0, 'f', 0), u">= 0.97"_s,
        u"x%1 of bare, same layout  %2;  x%3 of 11 managers; x%4 of 1 pool"_s.arg(median(tp.rSend64vsLanes), 0, 'f', 3)
            .arg(pass(median(tp.rSend64vsLanes) >= 0.97)).arg(median(tp.rSend64vsBare11), 0, 'f', 3)
            .arg(median(tp.rSend64vsBare1), 0, 'f', 3));
    row("heap per request in flight: bare QNAM (Qt defaults)", u"%1 B"_s.arg(memBare, 0, 'f', 0), u"-"_s, u"reference"_s);
    row("heap per request in flight: bare QNAM + 30 s timeout, no proxy", u"%1 B"_s.arg(memBareTimeout, 0, 'f', 0), u"-"_s,
        u"reference (the session's settings)"_s);
    row("extra heap per tracked request: manager()->get()", u"%1 B"_s.arg(memDirect - memBareTimeout, 0, 'f', 0), u"<= 256 B"_s,
        u"x%1 of target  %2;  +%3 B vs Qt defaults"_s.arg((memDirect - memBareTimeout) / 256, 0, 'f', 2)
            .arg(pass(memDirect - memBareTimeout <= 256)).arg(memDirect - memBare, 0, 'f', 0));
    // Most of these calls wait in the session's queue, without a reply: the figure is what a
    // call costs in all, set against a request Qt would hold in its own queue instead.
    row("heap per call: send() (6 sent, rest in session queue)", u"%1 B"_s.arg(memSend, 0, 'f', 0), u"-"_s,
        u"x%1 of a request queued in bare Qt"_s.arg(memSend / memBare, 0, 'f', 3));
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
    row("the same, with the session's 30 s timeout and no proxy", u"%1 ms"_s.arg(median(ab.bareTimeout), 0, 'f', 1), u"-"_s,
        u"reference (the session's settings: a timer per reply in Qt)"_s);
    row("abortAll() + close(), 1 000 connections open", u"%1 ms"_s.arg(openAbortMs + openCloseMs, 0, 'f', 1), u"<= 100 ms"_s,
        u"abortAll %1 ms + close %2 ms  %3"_s.arg(openAbortMs, 0, 'f', 1).arg(openCloseMs, 0, 'f', 1)
            .arg(pass(openAbortMs + openCloseMs <= 100)));
    row("bare Qt client: SIGTERM -> exit, same drain, same pools", u"%1 ms"_s.arg(median(e2e.bareDrainMs), 0, 'f', 0), u"-"_s,
        u"reference: what Qt alone needs here"_s);
    row("berth: SIGTERM -> exit, draining 1 000 x 200 ms polls", u"%1 ms"_s.arg(median(e2e.drainMs), 0, 'f', 0), u"<= 250 ms"_s,
        u"x%1 of target  %2;  x%3 of bare Qt"_s.arg(median(e2e.drainMs) / 250, 0, 'f', 2).arg(pass(median(e2e.drainMs) <= 250))
            .arg(median(e2e.drainMs) / median(e2e.bareDrainMs), 0, 'f', 2));
    row("  of which after the last answer could come", u"%1 ms"_s.arg(median(e2e.ownMs), 0, 'f', 0),
        u"(<= 50 ms)"_s, u"x%1 of 250 - 200 ms  %2;  bare Qt %3 ms"_s.arg(median(e2e.ownMs) / 50, 0, 'f', 2)
                            .arg(pass(median(e2e.ownMs) <= 50)).arg(median(e2e.bareOwnMs), 0, 'f', 0));
    row("berth, \"fastExit\": false (close tears the connections down)", u"%1 ms"_s.arg(median(e2e.teardownDrainMs), 0, 'f', 0),
        u"-"_s, u"x%1 of fastExit;  %2 ms after the last answer could come"_s
                    .arg(median(e2e.teardownDrainMs) / median(e2e.drainMs), 0, 'f', 2).arg(median(e2e.teardownOwnMs), 0, 'f', 0));
    row("berth: SIGTERM -> exit, 1 000 never-answered, 2 s deadline", u"%1 ms"_s.arg(median(e2e.deadlineMs), 0, 'f', 0),
        u"<= 2 050 ms"_s, u"x%1 of the deadline  %2"_s.arg(median(e2e.deadlineMs) / 2000, 0, 'f', 3)
                            .arg(pass(median(e2e.deadlineMs) <= 2050)));
    auto list = [](const std::vector<double> &v) {
        QStringList s;
        for (double x : v)
            s << QString::number(x, 'f', 0);
        return s.join(u' ');
    };
    std::printf("  berth runs (ms): drain %s; fastExit false %s; bare Qt drain %s; deadline %s; all exit 0 and counted right "
                "at the server: %s\n", qPrintable(list(e2e.drainMs)), qPrintable(list(e2e.teardownDrainMs)),
                qPrintable(list(e2e.bareDrainMs)), qPrintable(list(e2e.deadlineMs)),
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
