// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/servicehost.h"

#include "engine/lifetime_p.h"
#include "engine/logging.h"
#include "engine/servicerunner.h"
#include "engine/watchdog.h"

#include <berth/serviceregistry.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QSaveFile>
#include <QtCore/QSet>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

using namespace Qt::StringLiterals;

namespace berth {

namespace {
// Dependencies first, file order among equals (Kahn). Validated configs have no cycles; anything
// left over is appended in file order so a hand-built config cannot hang the host.
QList<int> topologicalOrder(const QList<ServiceConfig> &services)
{
    QHash<QString, int> index;
    for (int i = 0; i < services.size(); ++i)
        index.insert(services[i].name, i);
    QList<int> order;
    QSet<int> placed;
    bool progress = true;
    while (progress && order.size() < services.size()) {
        progress = false;
        for (int i = 0; i < services.size(); ++i) {
            if (placed.contains(i))
                continue;
            bool ready = true;
            for (const auto &dep : services[i].after) {
                const int j = index.value(dep, -1);
                if (j >= 0 && !placed.contains(j)) {
                    ready = false;
                    break;
                }
            }
            if (ready) {
                order.append(i);
                placed.insert(i);
                progress = true;
            }
        }
    }
    for (int i = 0; i < services.size(); ++i) {
        if (!placed.contains(i))
            order.append(i);
    }
    return order;
}

void writeStderr(const QString &text)
{
    const QByteArray bytes = text.toUtf8() + '\n';
    std::fwrite(bytes.constData(), 1, size_t(bytes.size()), stderr);
    std::fflush(stderr);
}
} // namespace

ServiceHost::ServiceHost(const HostConfig &config, const ServiceRegistry &registry,
                         Lifetime &lifetime, const HostOptions &options, QObject *parent)
    : HostProgress(parent), m_config(config), m_registry(registry), m_lifetime(lifetime),
      m_options(options)
{
    m_trace.setLaneName(0, u"host"_s);
    int lane = 1;
    for (int i : topologicalOrder(m_config.services)) {
        const ServiceConfig &sc = m_config.services[i];
        m_board.addService(sc.name);
        m_trace.setLaneName(lane, sc.name);
        ServiceRunner::Env env{&m_ledger, &m_board, &m_trace, lane++,
                               m_config.shutdown.intakeDelay.count() == 0 ? Lifetime::Control::externalStopCounter(lifetime) : nullptr};
        auto *r = new ServiceRunner(sc, m_registry.find(sc.type), env, this);
        m_order.append(r);
        m_byName.insert(sc.name, r);
        connect(r, &ServiceRunner::ready, this, &ServiceHost::onReady, Qt::QueuedConnection);
        connect(r, &ServiceRunner::startFailed, this, &ServiceHost::onStartFailed, Qt::QueuedConnection);
        connect(r, &ServiceRunner::runFailed, this, &ServiceHost::onRunFailed, Qt::QueuedConnection);
    }
    for (ServiceRunner *r : std::as_const(m_order)) {
        for (const auto &dep : r->config().after) {
            if (ServiceRunner *d = m_byName.value(dep)) {
                m_dependents[d].append(r);
                m_dependencies[r].append(d);
            }
        }
    }
    // serviceIdle can come from any thread that finishes work; AutoConnection queues it here.
    connect(&m_ledger, &WorkLedger::serviceIdle, this, [this](const QString &service) {
        if (ServiceRunner *r = m_byName.value(service))
            r->onIdle();
    });

    m_forcedExit = [](int code, const QString &) { std::_Exit(code); };
    m_watchdog = std::make_unique<Watchdog>([this](const char *why) { forcedExitFromWatchdog(why); });
    m_watchdog->setDefaultBudget(m_config.shutdown.deadline);
    Lifetime::Control::setExternalStopListener(m_lifetime, [this](int count) { m_watchdog->noteStopRequest(count); });

    Shutdown::Parts parts{m_order, m_dependents, m_dependencies, &m_ledger, &m_board, &m_trace, m_watchdog.get()};
    m_shutdown = new Shutdown(parts, this);
    m_shutdown->setConfig(m_config.shutdown);
    m_shutdown->setProcessExitsAfterClose(m_options.processExitsAfterClose);
    connect(m_shutdown, &Shutdown::phaseChanged, this, &ServiceHost::onPhaseChanged);
    connect(m_shutdown, &Shutdown::completed, this, &ServiceHost::finish);

    connect(&m_lifetime, &Lifetime::stopRequested, this, &ServiceHost::onStopRequested);
    connect(&m_lifetime, &Lifetime::reloadRequested, this, &ServiceHost::onReload);
    connect(&m_lifetime, &Lifetime::dumpRequested, this, &ServiceHost::onDump);
}

ServiceHost::~ServiceHost()
{
    Lifetime::Control::setExternalStopListener(m_lifetime, {});
    m_watchdog.reset();
    // Runners first, while the ledger their services' tickets point into still exists (as
    // children they would only go after every member, the ledger included).
    qDeleteAll(m_order);
    m_order.clear();
    m_byName.clear();
}

void ServiceHost::start()
{
    if (m_started)
        return;
    m_started = true;
    m_startT0 = m_ledger.nowMs();
    if (m_lifetime.stopRequests() > 0) {
        // Latched: a stop that arrived before the host started.
        onStopRequested(m_lifetime.firstReason(), m_lifetime.stopRequests());
        return;
    }
    qCInfo(lcHost).noquote() << u"starting %1 service(s)"_s.arg(m_order.size());
    startEligible();
    if (m_order.isEmpty())
        Q_EMIT allReady();
}

void ServiceHost::startEligible()
{
    if (m_shutdown->isActive())
        return;
    bool all = true;
    for (ServiceRunner *r : std::as_const(m_order)) {
        if (r->state() != ServiceRunner::State::Running)
            all = false;
        if (r->state() != ServiceRunner::State::Pending)
            continue;
        bool depsRunning = true;
        for (const auto &dep : r->config().after) {
            ServiceRunner *d = m_byName.value(dep);
            if (d && d->state() != ServiceRunner::State::Running) {
                depsRunning = false;
                break;
            }
        }
        if (depsRunning)
            r->start();
    }
    if (all && !m_allReadyEmitted) {
        m_allReadyEmitted = true;
        const qint64 took = m_ledger.nowMs() - m_startT0;
        m_trace.span(0, u"startup"_s, u"phase"_s, m_startT0, m_ledger.nowMs());
        qCInfo(lcHost).noquote() << u"all %1 service(s) ready in %2ms"_s.arg(m_order.size()).arg(took);
        Q_EMIT allReady();
    }
}

void ServiceHost::onReady(ServiceRunner *)
{
    if (!m_allReadyEmitted && !m_shutdown->isActive()) {
        const auto ready = std::count_if(m_order.cbegin(), m_order.cend(), [](ServiceRunner *r) {
            return r->state() == ServiceRunner::State::Running;
        });
        Q_EMIT startProgress(int(ready), int(m_order.size()));
    }
    startEligible();
}

void ServiceHost::onStartFailed(ServiceRunner *r, const QString &reason)
{
    if (m_shutdown->isActive())
        return;
    m_exitCode = ExitServiceFailed;
    m_lifetime.requestStop(StopReason{u"startup failure: %1: %2"_s.arg(r->name(), reason), {}});
}

void ServiceHost::onRunFailed(ServiceRunner *r, const QString &reason)
{
    if (r->config().onFailure == FailurePolicy::Ignore || m_shutdown->isActive())
        return;
    m_exitCode = ExitServiceFailed;
    m_lifetime.requestStop(StopReason{u"service failure: %1: %2"_s.arg(r->name(), reason), {}});
}

void ServiceHost::failHost(const QString &reason)
{
    qCCritical(lcHost).noquote() << u"host failure: "_s + reason;
    if (m_exitCode == ExitClean)
        m_exitCode = ExitServiceFailed;
    m_lifetime.requestStop(StopReason{u"host failure: "_s + reason, {}});
}

void ServiceHost::onStopRequested(const StopReason &reason, int count)
{
    if (!m_started || m_finished)
        return;   // latched; start() picks it up
    if (!m_shutdown->isActive())
        m_shutdown->begin(reason);
    else
        m_shutdown->escalate(count);
}

void ServiceHost::onDump(const QString &source)
{
    m_ledger.refresh();   // bytes so far of the requests in flight, and the like
    QString text = u"ledger dump (%1): phase %2\n"_s.arg(source, Shutdown::phaseName(m_shutdown->phase()));
    for (ServiceRunner *r : std::as_const(m_order)) {
        text += u"  %1: %2, %3 pending\n"_s.arg(r->name(), ServiceRunner::stateName(r->state()))
                    .arg(m_ledger.activeCount(r->name()));
    }
    text += m_ledger.dumpText();
    qCInfo(lcHost).noquote() << text;
    if (m_options.dumpFile.isEmpty())
        return;
    QJsonArray services;
    for (ServiceRunner *r : std::as_const(m_order)) {
        services.append(QJsonObject{{u"name"_s, r->name()},
                                    {u"state"_s, ServiceRunner::stateName(r->state())},
                                    {u"pending"_s, m_ledger.activeCount(r->name())}});
    }
    const QJsonObject doc{{u"source"_s, source},
                          {u"phase"_s, Shutdown::phaseName(m_shutdown->phase())},
                          {u"services"_s, services},
                          {u"pending"_s, m_ledger.dumpJson()}};
    QSaveFile file(m_options.dumpFile);
    if (!file.open(QIODevice::WriteOnly) || file.write(QJsonDocument(doc).toJson()) < 0 || !file.commit())
        qCWarning(lcHost).noquote() << u"could not write the ledger dump to %1: %2"_s.arg(m_options.dumpFile, file.errorString());
}

void ServiceHost::onReload(const QString &source)
{
    if (m_shutdown->isActive()) {
        qCInfo(lcConfig).noquote() << u"reload (%1) ignored: shutting down"_s.arg(source);
        return;
    }
    if (m_config.sourceFile.isEmpty()) {
        qCInfo(lcConfig).noquote() << u"reload (%1): running the built-in demo config; nothing to re-read"_s.arg(source);
        return;
    }
    const ConfigResult result = loadConfigFile(m_config.sourceFile, m_registry);
    if (!result.ok()) {
        QStringList lines;
        for (const auto &e : result.errors)
            lines << u"  "_s + e.toString();
        qCWarning(lcConfig).noquote() << u"reload (%1) rejected; keeping the running config:\n"_s.arg(source)
                + lines.join(u'\n');
        return;
    }
    m_config.shutdown = result.config.shutdown;
    m_shutdown->setConfig(m_config.shutdown);
    m_watchdog->setDefaultBudget(m_config.shutdown.deadline);
    int updated = 0;
    QSet<QString> seen;
    for (const ServiceConfig &sc : result.config.services) {
        seen.insert(sc.name);
        ServiceRunner *r = m_byName.value(sc.name);
        if (!r || r->config().type != sc.type || r->config().after != sc.after) {
            qCWarning(lcConfig).noquote() << u"reload: service %1 was added or changed type or dependencies; that takes a restart"_s.arg(sc.name);
            continue;
        }
        const bool changed = r->config().config != sc.config;
        r->setConfig(sc);   // timeouts and policy apply from now on
        if (changed) {
            r->reload(sc.config);
            ++updated;
        }
    }
    for (ServiceRunner *r : std::as_const(m_order)) {
        if (!seen.contains(r->name()))
            qCWarning(lcConfig).noquote() << u"reload: service %1 was removed from the config; that takes a restart"_s.arg(r->name());
    }
    qCInfo(lcConfig).noquote() << u"reloaded %1 (%2): %3 service(s) got a new config"_s
                                      .arg(m_config.sourceFile, source).arg(updated);
}

bool ServiceHost::closedForFastExit() const
{
    return m_finished && m_shutdown->closedForFastExit();
}

void ServiceHost::finish()
{
    if (m_finalizing.exchange(true))
        return;
    m_watchdog->disarm();
    for (ServiceRunner *r : std::as_const(m_order)) {
        if (r->hasFailed() && m_exitCode == ExitClean)
            m_exitCode = ExitServiceFailed;
    }
    QString why;
    if (m_shutdown->wasForced()) {
        m_exitCode = ExitForced;
        why = m_shutdown->forcedWhy();
    }
    m_report = renderReport(m_board.snapshot(), m_ledger, m_shutdown->leaked(), m_ledger.nowMs(),
                            m_exitCode, why);
    if (m_options.printReport)
        writeStderr(m_report);
    QString error;
    if (!m_options.traceFile.isEmpty() && !m_trace.writeTo(m_options.traceFile, &error))
        qCWarning(lcHost).noquote() << u"could not write the trace: "_s + error;
    m_finished = true;
    Q_EMIT finished(m_exitCode);
}

void ServiceHost::forcedExitFromWatchdog(const char *why)
{
    // Runs on the watchdog thread while the event loop may be blocked: only thread-safe state
    // (board, ledger, trace) is read here.
    if (m_finalizing.exchange(true))
        return;
    const QString reason = QString::fromLatin1(why);
    m_trace.instant(0, u"forced exit"_s, m_ledger.nowMs(), reason);
    const BoardSnapshot board = m_board.snapshot();
    using State = ServiceRunner::State;
    const auto is = [](const ServiceStatus &s, State a, State b) {
        return s.state == ServiceRunner::stateName(a) || s.state == ServiceRunner::stateName(b);
    };
    QStringList stopping, waiting;
    for (const auto &s : board.services) {
        if (is(s, State::Stopping, State::Starting))
            stopping << s.name;
        else if (is(s, State::Running, State::Restarting))
            waiting << s.name;
    }
    QStringList notes;
    if (const QString busy = ServiceRunner::busyService(); !busy.isEmpty())
        notes << u"the host thread is blocked in service code: "_s + busy;
    if (board.shutdownStartMs < 0)
        notes << u"the stop request never reached the host thread (it was blocked)"_s;
    if (!stopping.isEmpty())
        notes << u"still stopping at the deadline: "_s + stopping.join(u", ");
    if (!waiting.isEmpty())
        notes << u"not yet asked to stop (waiting for dependents): "_s + waiting.join(u", ");
    const QString report = renderReport(board, m_ledger, {}, m_ledger.nowMs(), ExitForced, reason, notes);
    writeStderr(report);
    QString error;
    if (!m_options.traceFile.isEmpty() && !m_trace.writeTo(m_options.traceFile, &error))
        writeStderr(u"berth: could not write the trace: "_s + error);
    runForcedExitHooks(ExitForced);   // e.g. SERVICE_STOPPED: the last word before the exit
    m_forcedExit(ExitForced, report);
}

} // namespace berth
