// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A real ServiceHost in the test's process, with the built-in service types, loaded from JSON
// as the berth binary would load a file ("test.json" in error messages).
#pragma once

#include "builtin.h"
#include "config/config.h"
#include "engine/servicehost.h"

#include <berth/lifetime.h>
#include <berth/serviceregistry.h>

#include <QtCore/QDebug>
#include <QtTest/QSignalSpy>

#include <atomic>
#include <memory>

namespace berth::test {

struct HostRun
{
    ServiceRegistry registry;
    Lifetime lifetime;
    std::unique_ptr<ServiceHost> host;
    /// The exit code the watchdog would have ended the process with; -1 while it has not.
    std::atomic<int> forcedCode{-1};
    QString forcedReport;   ///< its report; read it once forcedCode is set

    HostRun() { registerBuiltinServices(registry); }

    /// False (and the errors logged) when \a json is not a valid config. The watchdog's forced
    /// exit records its code in forcedCode instead of ending the test.
    bool load(const QByteArray &json, const HostOptions &options = {})
    {
        const ConfigResult r = parseConfig(json, QStringLiteral("test.json"), registry);
        for (const auto &e : r.errors)
            qWarning().noquote() << e.toString();
        if (!r.ok())
            return false;
        host = std::make_unique<ServiceHost>(r.config, registry, lifetime, options);
        host->setForcedExit([this](int code, const QString &report) {
            forcedReport = report;
            forcedCode = code;
        });
        return true;
    }
    /// Starts the host and waits until every service is ready.
    bool startReady()
    {
        QSignalSpy ready(host.get(), &HostProgress::allReady);
        host->start();
        return !ready.isEmpty() || ready.wait(5000);
    }
};

} // namespace berth::test
