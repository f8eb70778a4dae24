// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Shutdown benchmarks, all in one process and one run so the figures compare as ratios:
//  1. signal -> intake closed: kill(getpid(), SIGTERM) until the host enters its intake phase;
//  2. start + stop of 1 000 trivial services;
//  3. stop of 1 000 services with a 10 ms stop each, as independent services and as chains:
//     the stop must take about the slowest dependency chain, not the sum.
#include "builtin.h"
#include "config/config.h"
#include "platform.h"
#include "engine/servicehost.h"

#include <berth/lifetime.h>
#include <berth/serviceregistry.h>

#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>

#include <algorithm>
#include <cstdio>
#include <signal.h>
#include <unistd.h>

using namespace Qt::StringLiterals;
using namespace berth;

namespace {

ServiceRegistry g_registry;

// \a chains chains of \a length services each; every service stops in \a stopMs.
HostConfig makeConfig(int chains, int length, int stopMs)
{
    QJsonArray services;
    for (int c = 0; c < chains; ++c) {
        for (int i = 0; i < length; ++i) {
            QJsonObject s{{u"name"_s, u"s%1_%2"_s.arg(c).arg(i)}, {u"type"_s, u"chaos"_s}};
            if (i > 0)
                s.insert(u"after"_s, QJsonArray{u"s%1_%2"_s.arg(c).arg(i - 1)});
            if (stopMs > 0)
                s.insert(u"config"_s, QJsonObject{{u"stopDelay"_s, u"%1ms"_s.arg(stopMs)}});
            services.append(s);
        }
    }
    const QJsonObject root{{u"shutdown"_s, QJsonObject{{u"deadline"_s, u"60s"_s}, {u"drain"_s, u"50s"_s}, {u"cancel"_s, u"5s"_s}}},
                           {u"services"_s, services}};
    const ConfigResult r = parseConfig(QJsonDocument(root).toJson(), u"<bench>"_s, g_registry);
    if (!r.ok())
        qFatal("bench config invalid: %s", qPrintable(r.errors.first().toString()));
    return r.config;
}

struct Timing
{
    double startMs = 0;
    double stopMs = 0;
};

Timing startAndStop(const HostConfig &config)
{
    Lifetime lifetime;
    HostOptions quiet;
    quiet.printReport = false;
    ServiceHost host(config, g_registry, lifetime, quiet);
    QEventLoop loop;
    QObject::connect(&host, &HostProgress::allReady, &loop, &QEventLoop::quit);
    QObject::connect(&host, &HostProgress::finished, &loop, &QEventLoop::quit);
    QElapsedTimer t;
    t.start();
    host.start();
    loop.exec();
    Timing timing;
    timing.startMs = double(t.nsecsElapsed()) / 1e6;
    t.restart();
    lifetime.requestStop({u"bench"_s, {}});
    if (!host.isFinished())
        loop.exec();
    timing.stopMs = double(t.nsecsElapsed()) / 1e6;
    if (host.exitCode() != 0)
        qFatal("bench host exited %d", host.exitCode());
    return timing;
}

double signalToIntakeUs()
{
    Lifetime lifetime;
    HostOptions quiet;
    quiet.printReport = false;
    ServiceHost host(makeConfig(1, 1, 0), g_registry, lifetime, quiet);
    const auto sources = platform::installStopSources(lifetime);   // gone before the host
    QEventLoop loop;
    QObject::connect(&host, &HostProgress::allReady, &loop, &QEventLoop::quit);
    host.start();
    loop.exec();
    QElapsedTimer t;
    qint64 ns = -1;
    QObject::connect(&host, &HostProgress::phaseEntered, &loop, [&](HostProgress::Phase p) {
        if (p == HostProgress::Phase::Intake && ns < 0)
            ns = t.nsecsElapsed();
    });
    QObject::connect(&host, &HostProgress::finished, &loop, &QEventLoop::quit);
    t.start();
    ::kill(::getpid(), SIGTERM);
    loop.exec();
    return double(ns) / 1e3;
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char **argv)
{
    platform::earlyInit();
    QCoreApplication app(argc, argv);
    QLoggingCategory::setFilterRules(u"berth.*.info=false\nberth.*.warning=false"_s);
    registerBuiltinServices(g_registry);
    const int runs = argc > 1 ? std::max(1, atoi(argv[1])) : 5;

    std::vector<double> intake;
    for (int i = 0; i < 20; ++i)
        intake.push_back(signalToIntakeUs());

    std::vector<double> start1k, stop1k, flat, chains, chain1;
    for (int i = 0; i < runs; ++i) {
        const Timing trivial = startAndStop(makeConfig(1000, 1, 0));
        start1k.push_back(trivial.startMs);
        stop1k.push_back(trivial.stopMs);
        flat.push_back(startAndStop(makeConfig(1000, 1, 10)).stopMs);
        chains.push_back(startAndStop(makeConfig(10, 100, 10)).stopMs);
        chain1.push_back(startAndStop(makeConfig(1, 100, 10)).stopMs);
    }
    const double sumMs = 1000 * 10.0;
    std::printf("berth shutdown benchmarks (median of %d runs; 20 for the signal)\n", runs);
    std::printf("  signal -> intake closed                 %8.1f us\n", median(intake));
    std::printf("  1000 trivial services: start            %8.1f ms\n", median(start1k));
    std::printf("  1000 trivial services: stop             %8.1f ms\n", median(stop1k));
    std::printf("  1000 x 10ms stop, independent           %8.1f ms  (critical path 10 ms: x%.2f; sum of stops 10 s: x%.4f)\n",
                median(flat), median(flat) / 10.0, median(flat) / sumMs);
    std::printf("  1000 x 10ms stop, 10 chains of 100      %8.1f ms  (critical path 1000 ms: x%.2f; sum: x%.4f)\n",
                median(chains), median(chains) / 1000.0, median(chains) / sumMs);
    std::printf("  100 x 10ms stop, 1 chain of 100 (ref)   %8.1f ms  (10 chains / 1 chain: x%.2f)\n",
                median(chain1), median(chains) / median(chain1));
    return 0;
}
