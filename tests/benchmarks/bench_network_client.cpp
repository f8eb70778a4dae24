// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// bench_network parts 1 and 4, the client side: throughput and abortAll() (parts 2 and 3 in
// bench_network_memory.cpp).
#include "network/networksessioncontrol_p.h"
#include "tests/support/benchnet.h"
#include "platform.h"

#include <berth/networksession.h>
#include <berth/workledger.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QSocketNotifier>
#include <QtCore/QThread>
#include <QtNetwork/QNetworkAccessManager>
#include <QtNetwork/QNetworkProxy>
#include <QtNetwork/QNetworkReply>

#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define BENCH_TOGGLE_COLLECT() CALLGRIND_TOGGLE_COLLECT
#else
#define BENCH_TOGGLE_COLLECT() qFatal("built without valgrind/callgrind.h: install valgrind and rebuild")
#endif

#include <algorithm>
#include <cstdio>
#include <functional>
#include <time.h>
#include <unistd.h>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;

namespace benchnet {

// ---- 1. throughput -----------------------------------------------------------------------------

using Done = std::function<void()>;
/// Starts one request; calls \a done when its answer has been read.
using StartOne = std::function<void(const Done &done)>;

int g_errors = 0;

static double cpuSeconds(clockid_t clock)
{
    timespec ts{};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

/// Requests per second for \a total requests, \a concurrency at a time; \a cost, if given,
/// receives the CPU time per request in µs: on this thread (where the session's code runs),
/// and in the whole process (the manager's HTTP threads and the server too).
static double rate(int total, int concurrency, const StartOne &startOne, Cost *cost = nullptr)
{
    const double thread0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    const double process0 = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
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
    const double seconds = double(t.nsecsElapsed()) / 1e9;
    if (cost) {
        cost->threadUs = (cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - thread0) * 1e6 / total;
        cost->processUs = (cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - process0) * 1e6 / total;
    }
    return total / seconds;
}

static StartOne bareGet(std::vector<Pool> pools)
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

static StartOne directGet(NetworkSession *session, const QNetworkRequest &request)
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

static StartOne sendGet(NetworkSession *session, const QNetworkRequest &request)
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

/// \a poolCount pools of 6 connections over the managers \a ms, round-robin (lane = index /
/// managers): with fewer managers than pools, the layout the session uses.
static std::vector<Pool> lanedPools(const QNetworkRequest &request, const std::vector<QNetworkAccessManager *> &ms,
                                    int poolCount)
{
    std::vector<Pool> pools;
    const int managers = int(ms.size());
    for (int p = 0; p < poolCount; ++p) {
        QNetworkRequest r = request;
        if (p >= managers)
            r.setPeerVerifyName(u"lane-%1.invalid"_s.arg(p / managers));
        pools.emplace_back(ms[size_t(p % managers)], r);
    }
    return pools;
}

Throughput measureThroughput(const QUrl &fast, int rounds, int perRound)
{
    constexpr int Concurrency = 64;
    const QNetworkRequest request = requestFor(fast);
    Throughput out;
    // One variant: fresh managers (fresh connections), a warm-up, then the timed requests.
    auto bare = [&](int managers, int poolCount, Cost *cost = nullptr) {
        std::vector<QNetworkAccessManager *> ms;
        for (int i = 0; i < managers; ++i)
            ms.push_back(new QNetworkAccessManager);
        const StartOne one = bareGet(lanedPools(request, ms, poolCount));
        rate(128, Concurrency, one);
        const double r = rate(perRound, Concurrency, one, cost);
        qDeleteAll(ms);
        spin(20);
        return r;
    };
    auto session = [&](int connectionsPerHost, bool direct, Cost *cost, int *managers = nullptr) {
        WorkLedger ledger;
        auto *s = new NetworkSession(u"bench"_s, &ledger, sessionOptions(Concurrency, connectionsPerHost));
        const StartOne one = direct ? directGet(s, request) : sendGet(s, request);
        rate(128, Concurrency, one);
        const double r = rate(perRound, Concurrency, one, cost);
        if (managers)
            *managers = s->managerCount();
        NetworkSession::Control::close(*s);
        delete s;
        spin(20);
        return r;
    };
    for (int round = 0; round < rounds; ++round) {
        // The order rotates each round so that no variant always follows the same one.
        double b1 = 0, s6 = 0, d6 = 0, s64 = 0, b11 = 0, bl = 0;
        Cost cb1, cs6, cd6;
        const std::function<void()> steps[] = {
            [&] { b1 = bare(1, 1, &cb1); },
            [&] { s6 = session(6, false, &cs6, &out.send6Managers); },
            [&] { d6 = session(6, true, &cd6); },
            [&] { s64 = session(64, false, nullptr, &out.send64Managers); },
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
        out.cpuBare1.push_back(cb1);
        out.cpuSend6.push_back(cs6);
        out.cpuDirect6.push_back(cd6);
    }
    return out;
}

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
    // A bare manager, abort() on each reply; \a timeout: with the session's settings (its 30 s
    // transfer timeout, for which Qt gives each reply a timer, and no proxy lookup).
    // (Qt gives each reply a timer for it).
    auto bareAbort = [&](bool timeout) {
        QNetworkAccessManager m;
        if (timeout) {   // the session's settings: its transfer timeout, and no proxy lookup
            m.setTransferTimeout(int(NetworkOptions().transferTimeout.count()));
            m.setProxy(QNetworkProxy(QNetworkProxy::NoProxy));
        }
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
            NetworkSession::Control::abortAll(s);
            out.queued.push_back(double(t.nsecsElapsed()) / 1e6);
            if (finished != N)
                qFatal("abortAll (send): %d of %d calls finished", finished, N);
            NetworkSession::Control::close(s);
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
            NetworkSession::Control::abortAll(s);
            out.direct.push_back(double(t.nsecsElapsed()) / 1e6);
            const auto running = std::count_if(replies.cbegin(), replies.cend(), [](QNetworkReply *r) { return r->isRunning(); });
            if (running)
                qFatal("abortAll (direct): %lld replies still running", qint64(running));
            qDeleteAll(replies);
            NetworkSession::Control::close(s);
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

// ---- 5. instructions per request (child role "calls", run under callgrind by run.sh) -----------

/// \a n GETs to /fast at 64 concurrent, after a warm-up, through \a variant: "bare" (a plain
/// manager, as the throughput part's reference), "send" or "direct" (manager()->get()), at 6
/// connections; or, at 64, "send64" and "lanes" (bare managers in the session's layout). Only
/// the timed requests are counted (callgrind --collect-atstart=no), on this thread.
int callsChild(const QByteArray &variant, int n)
{
    const QByteArrayList variants = {"bare", "send", "direct", "send64", "lanes"};
    if (!variants.contains(variant))
        qFatal("--role=calls: unknown variant \"%s\" (%s)", variant.constData(), variants.join(", ").constData());
    HttpFixture server;
    if (!server.startInThread())
        qFatal("server: %s", qPrintable(server.errorString()));
    const QNetworkRequest request = requestFor(server.url(u"/fast"_s));
    WorkLedger ledger;
    NetworkSession session(u"bench"_s, &ledger, sessionOptions(64, variant == "send64" ? 64 : 6));
    QObject owner;
    std::vector<QNetworkAccessManager *> bare;
    for (int i = variant == "lanes" ? std::min(QThread::idealThreadCount(), 11) : 1; i > 0; --i)
        bare.push_back(new QNetworkAccessManager(&owner));
    const StartOne one = variant.startsWith("send") ? sendGet(&session, request)
                         : variant == "direct" ? directGet(&session, request)
                                               : bareGet(lanedPools(request, bare, variant == "lanes" ? 11 : 1));
    rate(256, 64, one);
    BENCH_TOGGLE_COLLECT();
    rate(n, 64, one);
    BENCH_TOGGLE_COLLECT();
    std::printf("%s: %d requests, errors %d\n", variant.constData(), n, g_errors);
    NetworkSession::Control::close(session);
    return g_errors == 0 ? 0 : 1;
}

} // namespace benchnet
