// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/servicerunner.h"

#include "engine/logging.h"
#include "engine/report.h"
#include "engine/trace.h"
#include "engine/workledger_p.h"
#include "service/servicecontext_p.h"

#include <berth/service.h>
#include <berth/servicecontext.h>
#include <berth/serviceregistry.h>

#include <QtCore/QTimer>

#include <atomic>
#include <chrono>
#include <exception>

using namespace Qt::StringLiterals;

namespace berth {

ServiceRunner::ServiceRunner(const ServiceConfig &config, const ServiceType *type, const Env &env,
                             QObject *parent)
    : QObject(parent), m_config(config), m_fixedName(config.name), m_type(type), m_env(env)
{
}

namespace {
std::atomic<const QString *> s_busyName{nullptr};
std::atomic<qint64> s_busySince{0};

qint64 steadyMs()
{
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
}
} // namespace

ServiceRunner::~ServiceRunner()
{
    const QString *mine = &m_fixedName;
    s_busyName.compare_exchange_strong(mine, nullptr);
    if (m_service)
        detach(m_service.get());
}

ServiceRunner::BusyScope::BusyScope(const ServiceRunner *runner)
    : m_previous(s_busyName.load()), m_previousSince(s_busySince.load()), m_active(runner != nullptr)
{
    if (!m_active)
        return;
    s_busySince.store(steadyMs());
    s_busyName.store(&runner->m_fixedName);
}

ServiceRunner::BusyScope::~BusyScope()
{
    if (!m_active)
        return;
    s_busySince.store(m_previousSince);
    s_busyName.store(m_previous);
}

QString ServiceRunner::busyService()
{
    // Read by the watchdog while the host thread is stuck inside that service's code, so the
    // runner (and its name) cannot be going away at the same time.
    const QString *name = s_busyName.load();
    if (!name)
        return {};
    return u"%1, for %2ms"_s.arg(*name).arg(steadyMs() - s_busySince.load());
}

QString ServiceRunner::stateName(State s)
{
    switch (s) {
    case State::Pending: return u"pending"_s;
    case State::Starting: return u"starting"_s;
    case State::Running: return u"running"_s;
    case State::Restarting: return u"restarting"_s;
    case State::Stopping: return u"stopping"_s;
    case State::Stopped: return u"stopped"_s;
    case State::Failed: return u"failed"_s;
    case State::Abandoned: return u"abandoned"_s;
    case State::NeverStarted: return u"not started"_s;
    }
    return {};
}

bool ServiceRunner::isDone() const
{
    return m_state == State::Stopped || m_state == State::Failed || m_state == State::Abandoned
        || m_state == State::NeverStarted;
}

qint64 ServiceRunner::now() const
{
    return m_env.ledger->nowMs();
}

void ServiceRunner::setState(State s, const QString &note)
{
    m_state = s;
    m_env.board->setState(name(), stateName(s), note);
}

bool ServiceRunner::guard(const char *what, const std::function<void()> &call)
{
    // The host boundary: an exception from service code is that service's failure, never the
    // host's crash.
    QString error;
    try {
        const BusyScope busy(this);
        call();
        return true;
    } catch (const std::exception &e) {
        error = QString::fromUtf8(e.what());
    } catch (...) {
        error = u"unknown exception"_s;
    }
    m_hasFailed = true;
    m_failure = u"%1() threw: %2"_s.arg(QLatin1String(what), error);
    qCCritical(lcHost).noquote() << name() + u": " + m_failure;
    return false;
}

QTimer *ServiceRunner::makeTimer(std::function<void()> onTimeout)
{
    auto *t = new QTimer(this);
    t->setSingleShot(true);
    connect(t, &QTimer::timeout, this, std::move(onTimeout));
    return t;
}

void ServiceRunner::start()
{
    if (m_state != State::Pending && m_state != State::Restarting)
        return;
    m_startedAt = now();
    if (!m_context)
        m_context = std::make_unique<ServiceContext>(name(), m_config.type, m_config.config, m_env.ledger);
    ServiceContext::Control::setNetworkOptions(*m_context, m_config.network, m_env.earlyStop);
    setState(State::Starting);
    qCInfo(lcHost).noquote() << name() + u": starting (type " + m_config.type + u')';
    if (!guard("create", [this] { m_service = m_type ? m_type->create() : nullptr; }) || !m_service) {
        onReportFailed(nullptr, m_failure.isEmpty() ? u"type \"%1\" created no service"_s.arg(m_config.type) : m_failure);
        return;
    }
    attach(m_service.get(), m_context.get());
    if (!m_startTimer) {
        m_startTimer = makeTimer([this] {
            if (m_state == State::Starting)
                onReportFailed(m_service.get(), u"did not report ready within startTimeout %1"_s.arg(formatDuration(m_config.startTimeout)));
        });
    }
    m_startTimer->start(m_config.startTimeout);
    Service *service = m_service.get();
    if (!guard("start", [service] { service->start(); }))
        onReportFailed(service, m_failure);
}

void ServiceRunner::onReportReady(Service *from)
{
    if (from != m_service.get() || m_state != State::Starting)
        return;
    m_startTimer->stop();
    setState(State::Running);
    m_env.trace->span(m_env.lane, u"start"_s, u"startup"_s, m_startedAt, now());
    qCInfo(lcHost).noquote() << u"%1: ready after %2ms"_s.arg(name()).arg(now() - m_startedAt);
    Q_EMIT ready(this);
}

void ServiceRunner::onReportStopped(Service *from)
{
    if (from != m_service.get() || isDone())
        return;
    m_stoppedReported = true;
    if (m_state != State::Stopping) {
        // Stopped on its own while starting or running: not a failure, but nothing runs now.
        qCInfo(lcHost).noquote() << name() + u": stopped on its own";
        if (m_startTimer)
            m_startTimer->stop();
        setState(State::Stopping);
        WorkLedger::Control::markStopping(*m_env.ledger, name());
    }
    checkDone();
}

void ServiceRunner::onReportFailed(Service *from, const QString &reason)
{
    if (from != m_service.get() || isDone())
        return;
    m_failure = reason;
    if (m_startTimer)
        m_startTimer->stop();
    const bool wasStarting = m_state == State::Starting;
    if (m_state == State::Stopping) {
        m_hasFailed = true;
        qCCritical(lcHost).noquote() << name() + u": failed while stopping: " + reason;
        if (m_stopTimer)
            m_stopTimer->stop();
        setState(State::Failed, reason);
        WorkLedger::Control::cancelService(*m_env.ledger, name());
        checkDone();
        return;
    }
    const bool firstStart = wasStarting && m_restarts == 0;
    if (!firstStart && m_config.onFailure == FailurePolicy::Restart
        && (m_config.restartLimit == 0 || m_restarts < m_config.restartLimit)) {
        scheduleRestart(reason);
        return;
    }
    if (firstStart || m_config.onFailure != FailurePolicy::Ignore)
        m_hasFailed = true;
    qCCritical(lcHost).noquote() << name() + (wasStarting ? u": failed to start: "_s : u": failed: "_s) + reason;
    setState(State::Failed, reason);
    WorkLedger::Control::cancelService(*m_env.ledger, name());
    if (firstStart)
        Q_EMIT startFailed(this, reason);
    else
        Q_EMIT runFailed(this, reason);
    checkDone();
}

void ServiceRunner::scheduleRestart(const QString &reason)
{
    ++m_restarts;
    qint64 delay = m_config.restartDelay.count();
    for (int i = 1; i < m_restarts && delay < m_config.restartMaxDelay.count(); ++i)
        delay *= 2;
    delay = qMin<qint64>(delay, m_config.restartMaxDelay.count());
    qCWarning(lcHost).noquote() << u"%1: failed: %2; restart %3 in %4ms"_s.arg(name(), reason).arg(m_restarts).arg(delay);
    WorkLedger::Control::cancelService(*m_env.ledger, name());
    destroyInstance();
    ServiceContext::Control::resetToken(*m_context);
    setState(State::Restarting, reason);
    if (!m_restartTimer) {
        m_restartTimer = makeTimer([this] {
            m_backoffTicket.finish();
            start();
        });
    }
    m_backoffTicket = m_context->track(u"backoff"_s, u"restart #%1 in %2ms"_s.arg(m_restarts).arg(delay),
                                       [this] { m_restartTimer->stop(); m_backoffTicket.finish(); });
    m_restartTimer->start(int(delay));
}

QList<WorkEntry> ServiceRunner::closeResources()
{
    QList<WorkEntry> leaked;
    if (m_context) {
        const QStringList errors = ServiceContext::Control::runCloseCallbacks(*m_context);
        for (const auto &e : errors) {
            m_hasFailed = true;
            qCCritical(lcHost).noquote() << name() + u": close callback threw: " + e;
        }
        leaked = WorkLedger::Control::closeService(*m_env.ledger, name());
    }
    if (m_service)
        detach(m_service.get());
    return leaked;
}

void ServiceRunner::destroyInstance()
{
    if (!m_service)
        return;
    closeResources();
    // Deferred: this may run inside the service's own call stack (reportFailed).
    m_service.release()->deleteLater();
}

void ServiceRunner::fireStopToken()
{
    if (!m_context || isDone())
        return;
    WorkLedger::Control::markStopping(*m_env.ledger, name());
    StopToken *token = m_context->stopToken();
    guard("stop token", [token] { token->fireStop(); });
}

void ServiceRunner::requestStop()
{
    if (m_stopCalled)
        return;
    m_stopCalled = true;
    m_stopRequestedAt = now();
    m_env.board->setStopRequested(name(), m_stopRequestedAt);
    if (m_startTimer)
        m_startTimer->stop();
    switch (m_state) {
    case State::Pending:
        markNeverStarted();
        return;
    case State::Restarting:
        m_restartTimer->stop();
        m_backoffTicket.finish();
        m_stoppedReported = true;
        setState(State::Stopping);
        checkDone();
        return;
    case State::Starting:
    case State::Running:
        break;
    case State::Stopping:   // stopped on its own; already waiting for its work
        checkDone();
        return;
    default:
        return;
    }
    setState(State::Stopping);
    fireStopToken();
    WorkLedger::Control::markStopping(*m_env.ledger, name());
    if (m_config.stopTimeout.count() > 0) {
        if (!m_stopTimer) {
            m_stopTimer = makeTimer([this] {
                abandon(u"did not stop within stopTimeout %1"_s.arg(formatDuration(m_config.stopTimeout)));
            });
        }
        m_stopTimer->start(m_config.stopTimeout);
    }
    qCInfo(lcHost).noquote() << name() + u": stopping";
    Service *service = m_service.get();
    if (!guard("stop", [service] { service->stop(); })) {
        setState(State::Failed, m_failure);
        WorkLedger::Control::cancelService(*m_env.ledger, name());
    }
    checkDone();
}

void ServiceRunner::cancelWork()
{
    if (isDone() || !m_context)
        return;
    const int n = WorkLedger::Control::cancelService(*m_env.ledger, name());
    if (n > 0)
        qCInfo(lcShutdown).noquote() << u"%1: cancelled %2 pending work item(s)"_s.arg(name()).arg(n);
    StopToken *token = m_context->stopToken();
    guard("cancel token", [token] { token->fireCancel(); });
    if (Service *service = m_service.get())
        guard("cancel", [service] { service->cancel(); });
    checkDone();
}

void ServiceRunner::abandon(const QString &why)
{
    if (isDone())
        return;
    if (m_stopTimer)
        m_stopTimer->stop();
    m_failure = why;
    qCWarning(lcShutdown).noquote() << name() + u": gave up: " + why;
    setState(State::Abandoned, why);
    checkDone();
}

void ServiceRunner::markNeverStarted()
{
    if (m_state == State::Pending)
        setState(State::NeverStarted);
    checkDone();
}

void ServiceRunner::onIdle()
{
    checkDone();
}

void ServiceRunner::checkDone()
{
    if (m_doneEmitted)
        return;
    if (m_state == State::Stopping && m_stoppedReported && m_env.ledger->activeCount(name()) == 0) {
        if (m_stopTimer)
            m_stopTimer->stop();
        setState(State::Stopped);
        qCInfo(lcHost).noquote() << u"%1: stopped after %2ms"_s.arg(name()).arg(now() - qMax<qint64>(m_stopRequestedAt, 0));
    }
    if (!isDone())
        return;
    m_doneEmitted = true;
    if (m_stopRequestedAt >= 0) {
        m_env.board->setStopped(name(), now());
        m_env.trace->span(m_env.lane, u"stop"_s, u"shutdown"_s, m_stopRequestedAt, now(), stateName(m_state));
    }
    Q_EMIT done(this);
}

QList<WorkEntry> ServiceRunner::close(bool processExits)
{
    if (m_context)
        ServiceContext::Control::setProcessExitsAfterClose(*m_context, processExits);
    const QList<WorkEntry> leaked = closeResources();
    m_service.reset();
    return leaked;
}

void ServiceRunner::reload(const QJsonObject &config)
{
    if (!m_context)
        return;
    ServiceContext::Control::setConfig(*m_context, config);
    if (Service *service = m_service.get(); service && m_state == State::Running)
        guard("reload", [service, &config] { service->reload(config); });
}

} // namespace berth
