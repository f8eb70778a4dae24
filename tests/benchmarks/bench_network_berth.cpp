// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// bench_network part 5: the real berth binary, the same drain in bare Qt (child role "floor"), the server process.
#include "tests/support/benchnet.h"
#include "platform.h"

#include <QtCore/QCoreApplication>
#include <QtCore/QDateTime>
#include <QtCore/QElapsedTimer>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkReply>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <memory>
#include <signal.h>
#include <unistd.h>
#include <sys/resource.h>
#include <QtCore/QDir>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;

namespace benchnet {

// ---- 5a. the same drain without Berth (child role "floor") --------------------------------------

static int g_termPipe[2] = {-1, -1};

/// Polls in flight in the drain runs: 1 000 (the issue's figure); BENCH_DRAIN_CONCURRENCY sets
/// another, to see how the drain scales with the load on the machine's cores.
static int drainConcurrency()
{
    bool ok = false;
    const int n = qEnvironmentVariableIntValue("BENCH_DRAIN_CONCURRENCY", &ok);
    return ok && n > 0 ? n : 1000;
}

/// What Qt alone needs for the drain scenario: 1 000 polls back to back on bare managers with the
/// session's pools (one manager per core, lanes of 6 connections); on SIGTERM nothing new is sent,
/// the polls in flight finish, the managers are deleted, exit 0. No ledger, no phases, no output.
int floorChild(const QUrl &url)
{
    const int N = drainConcurrency();
    platform::raiseOpenFileLimit();
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

static QByteArray pollerConfig(const QUrl &url, const QByteArray &shutdown, const QString &output,
                               int concurrency = 1000)
{
    return R"({"shutdown": )" + shutdown + R"(, "services": [{"name": "poller", "type": "http-poller",
        "config": {"url": ")" + url.toString().toUtf8() + R"(", "concurrency": )" + QByteArray::number(concurrency) + R"(,
                   "interval": "0s", "output": ")" + output.toUtf8() + R"("}}]})";
}

static double tv(const timeval &v) { return double(v.tv_sec) * 1e6 + double(v.tv_usec); }
static double childCpuUs() { rusage r{}; getrusage(RUSAGE_CHILDREN, &r); return tv(r.ru_utime) + tv(r.ru_stime); }
static double selfCpuUs() { rusage r{}; getrusage(RUSAGE_SELF, &r); return tv(r.ru_utime) + tv(r.ru_stime); }
static double taskCpuUs(qint64 pid)
{
    double ns = 0;
    const QDir dir(u"/proc/%1/task"_s.arg(pid));
    for (const QString &task : dir.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile f(dir.filePath(task + u"/schedstat"_s));
        if (f.open(QIODevice::ReadOnly))
            ns += f.readAll().split(' ').value(0).toDouble();
    }
    return ns / 1000;
}

void prepareServer(HttpFixture &server)
{
    if (!waitUntil([&] { return server.connectionsOpen() == 0; }, 20000))
        qFatal("connections of an earlier run stay open at the server: %d", server.connectionsOpen());
    server.reset();
}

/// SIGTERM while 1 000 polls of 200 ms are pending: every one completes, none starts late.
double drainRun(HttpFixture &server, E2e &e, Drainer who)
{
    const bool bare = who == Drainer::Bare;
    prepareServer(server);
    Child berth(bare ? QCoreApplication::applicationFilePath() : QStringLiteral(BERTH_BINARY));
    const QString out = berth.path(u"polls.jsonl"_s);
    if (bare) {
        berth.start({u"--role=floor"_s, server.url(u"/delay?ms=200"_s).toString()});
    } else {
        berth.run(pollerConfig(server.url(u"/delay?ms=200"_s),
                               who == Drainer::BerthTeardown
                                   ? R"({"deadline": "10s", "drain": "5s", "cancel": "2s", "reserve": "250ms", "fastExit": false})"
                                   : R"({"deadline": "10s", "drain": "5s", "cancel": "2s", "reserve": "250ms"})", out,
                               drainConcurrency()));
        if (!berth.waitReady())
            qFatal("berth did not start: %s", qPrintable(berth.stdErr().right(2000)));
    }
    // Polling back to back with all 1 000 connections open: 1 000 polls in flight at the client
    // at every moment, most of them pending at the server (the rest on their way).
    const int n = drainConcurrency();
    if (!waitUntil([&] { return server.requestsReceived() >= 2 * n && server.peakConnectionsOpen() >= n; }, 30000))
        qFatal("drain: polling did not start (received %lld, peak open %d)", server.requestsReceived(),
               server.peakConnectionsOpen());
    waitForEvents(300);
    if (who == Drainer::Berth)
        e.pendingAtSignal.push_back(server.pendingResponses());
    const double childBefore = childCpuUs(), taskBefore = taskCpuUs(berth.pid());
    const double selfBefore = selfCpuUs();
    const qint64 signalAt = QDateTime::currentMSecsSinceEpoch();
    QElapsedTimer t;
    t.start();
    berth.signal(SIGTERM);
    const int code = berth.finish();
    const double ms = double(t.nsecsElapsed()) / 1e6;
    const double drainCpu = (childCpuUs() - childBefore - taskBefore) / 1000, serverCpu = (selfCpuUs() - selfBefore) / 1000;
    if (qEnvironmentVariableIsSet("BENCH_CPU"))
        std::fprintf(stderr, "cpu %s: %.0f ms wall, client %.1f ms, server+bench %.1f ms\n",
                     bare ? "bare" : who == Drainer::Berth ? "berth" : "berth-teardown", ms, drainCpu, serverCpu);
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
    const double own = ms - double(std::max<qint64>(latest, 0) + 200);
    if (who == Drainer::BerthTeardown) {
        e.teardownOwnMs.push_back(own);
    } else {
        (bare ? e.bareLatestArrival : e.latestArrival).push_back(double(latest));
        (bare ? e.bareOwnMs : e.ownMs).push_back(own);
    }
    // The bare reference stops sending only when its event loop sees the signal: its late
    // arrivals are shown (latest arrival), not counted as a failure of the run.
    if (code != 0 || server.requestsAbandoned() || server.requestsAborted() || (late && !bare)) {
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

} // namespace benchnet
