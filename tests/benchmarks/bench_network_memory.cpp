// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// bench_network parts 2 and 3, the client side: heap per request, and 1 000 open connections.
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

#include <cstdio>
#include <functional>
#include <unistd.h>
#include <vector>

using namespace Qt::StringLiterals;
using namespace berth;

namespace benchnet {

// ---- 2. memory per request in flight (child role "memory") -------------------------------------

/// Heap bytes per request: \a issue(n) makes n requests to /never, \a teardown ends them all.
static double bytesPerRequest(int n, const std::function<void(int)> &issue, const std::function<void()> &teardown)
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
        if (timeout) {   // the session's settings: its transfer timeout, and no proxy lookup
            m->setTransferTimeout(int(NetworkOptions().transferTimeout.count()));
            m->setProxy(QNetworkProxy(QNetworkProxy::NoProxy));
        }
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
            NetworkSession::Control::abortAll(*s);
            for (QNetworkReply *r : std::as_const(replies))
                r->deleteLater();
            spin(10);
            NetworkSession::Control::close(*s);
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
    if (platform::raiseOpenFileLimit() >= 0 && platform::raiseOpenFileLimit() < N + N / 6 + 100)
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
    NetworkSession::Control::abortAll(session);
    const qint64 abortNs = t.nsecsElapsed();
    t.restart();
    NetworkSession::Control::close(session);
    const qint64 closeNs = t.nsecsElapsed();
    std::printf("open hwm=%lld rss=%lld threads=%lld inflight=%d managers=%d abort=%lld close=%lld heap=%lld stk=%lld\n",
                hwm, rss, threads, inFlight, managers, abortNs, closeNs, heap, stacks);
    std::fflush(stdout);
    return 0;
}

// ---- 4. abortAll() with 10 000 in flight -------------------------------------------------------

} // namespace benchnet
