// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// "probe": a service type for host tests that records its lifecycle (start:, ready:, stop:,
// stopped:<name>) in g_events, with startDelay / stopDelay in ms; and a host run that has it
// beside the built-in types.
#pragma once

#include "tests/support/hostrun.h"

#include <berth/service.h>
#include <berth/servicecontext.h>

#include <QtCore/QTimer>

namespace berth::test {

inline QStringList g_events;

class ProbeService : public Service
{
public:
    void start() override
    {
        g_events << QStringLiteral("start:") + context().name();
        QTimer::singleShot(context().config().value(QStringLiteral("startDelay")).toInt(), this, [this] {
            g_events << QStringLiteral("ready:") + context().name();
            reportReady();
        });
    }
    void stop() override
    {
        g_events << QStringLiteral("stop:") + context().name();
        QTimer::singleShot(context().config().value(QStringLiteral("stopDelay")).toInt(), this, [this] {
            g_events << QStringLiteral("stopped:") + context().name();
            reportStopped();
        });
    }
};

/// A host with the built-in types and "probe".
struct ProbeRun : HostRun
{
    ProbeRun()
    {
        using K = ConfigKey::Kind;
        registry.add(ServiceType{QStringLiteral("probe"), QStringLiteral("test probe"),
                                 {{QStringLiteral("startDelay"), K::Integer, {}, false, {}},
                                  {QStringLiteral("stopDelay"), K::Integer, {}, false, {}}},
                                 [] { return std::make_unique<ProbeService>(); }});
    }
};

#define LOAD(run, json) QVERIFY((run).load(json))

} // namespace berth::test
