// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/shutdown.h"

#include "engine/logging.h"
#include "engine/report.h"
#include "engine/servicerunner.h"
#include "engine/trace.h"
#include "engine/watchdog.h"

#include <QtCore/QMetaEnum>
#include <QtCore/QTimer>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace berth {

Shutdown::Shutdown(const Parts &parts, QObject *parent) : QObject(parent), m_parts(parts)
{
    m_timer = new QTimer(this);
    m_timer->setSingleShot(true);
    m_timer->setTimerType(Qt::PreciseTimer);
    connect(m_timer, &QTimer::timeout, this, [this] {
        switch (m_phase) {
        case Phase::Intake: enter(Phase::Drain); break;
        case Phase::Drain: enter(Phase::Cancel); break;
        case Phase::Cancel: enter(Phase::Join); break;
        case Phase::Join:
            for (ServiceRunner *r : std::as_const(m_parts.order)) {
                if (!r->isDone())
                    r->abandon(r->stopRequested() ? u"still stopping when the join budget ran out"_s
                                                  : u"never asked to stop: a dependent did not stop in time"_s);
            }
            enter(Phase::Close);
            break;
        default: break;
        }
    });
    for (ServiceRunner *r : std::as_const(m_parts.order))
        connect(r, &ServiceRunner::done, this, [this, r] { onRunnerDone(r); }, Qt::QueuedConnection);
}

Shutdown::~Shutdown() = default;

qint64 Shutdown::now() const
{
    return m_parts.ledger->nowMs();
}

QString Shutdown::phaseName(Phase p)
{
    return QString::fromLatin1(QMetaEnum::fromType<Phase>().valueToKey(int(p))).toLower();
}

Millis Shutdown::effectiveDeadline(const StopReason &reason) const
{
    Millis d = m_config.deadline;
    if (reason.platformLimit.count() > 0 && reason.platformLimit < d)
        d = reason.platformLimit;
    return d;
}

void Shutdown::begin(const StopReason &reason)
{
    if (m_phase != Phase::Idle)
        return;
    const Millis deadline = effectiveDeadline(reason);
    // The budgets count from when the stop was first noted: a busy host thread gets to it later
    // (measured: up to ~40 ms with 1 000 polls in flight; a service can block it for longer).
    const auto sinceNoted = reason.notedAt == StopReason().notedAt
        ? Millis(0)
        : std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - reason.notedAt);
    const qint64 late = std::clamp<qint64>(sinceNoted.count(), 0, deadline.count());
    m_t0 = now() - late;
    // The watchdog holds the hard line even if a service blocks this thread from now on.
    m_parts.watchdog->arm(Watchdog::Clock::now() + deadline - Millis(late));
    // Budgets not given in the config follow this deadline, also when a supervisor's is shorter.
    const ShutdownBudgets b = shutdownBudgets(m_config, deadline);
    m_joinEnd = m_t0 + deadline.count() - b.reserve.count();
    m_deadlineEnd = m_t0 + deadline.count();
    const qint64 intakeEnd = m_intakeEnd = m_t0 + b.intakeDelay.count();
    m_drainEnd = intakeEnd + b.drain.count();
    m_cancelEnd = m_drainEnd + b.cancel.count();
    m_parts.board->beginShutdown(reason.source, m_t0, deadline.count());
    m_parts.board->setRequests(1);
    m_parts.trace->instant(0, u"stop requested"_s, m_t0, reason.source);
    qCInfo(lcShutdown).noquote() << u"stop requested by %1: deadline %2 (drain %3, cancel %4)%5"_s
                                        .arg(reason.source, formatDuration(deadline),
                                             formatDuration(Millis(m_drainEnd - intakeEnd)),
                                             formatDuration(Millis(m_cancelEnd - m_drainEnd)),
                                             late > 0 ? u"; noted %1 ago, while the host thread was busy: "
                                                        u"the budgets count from then"_s.arg(formatDuration(Millis(late)))
                                                      : QString());
    for (ServiceRunner *r : std::as_const(m_parts.order)) {
        if (r->state() == ServiceRunner::State::Pending)
            r->markNeverStarted();
    }
    enter(Phase::Intake);
    if (m_config.intakeDelay.count() > 0)
        m_timer->start(int(qMax<qint64>(0, intakeEnd - now())));
    else
        enter(Phase::Drain);
}

qint64 Shutdown::phaseEndMs() const
{
    switch (m_phase) {
    case Phase::Intake: return m_intakeEnd;
    case Phase::Drain: return m_drainEnd;
    case Phase::Cancel: return m_cancelEnd;
    case Phase::Join: return m_joinEnd;
    case Phase::Close: return m_deadlineEnd;
    case Phase::Idle:
    case Phase::Done: break;
    }
    return -1;
}

void Shutdown::escalate(int count)
{
    if (m_phase == Phase::Idle || m_phase >= Phase::Close)
        return;
    m_parts.board->setRequests(count);
    m_parts.trace->instant(0, u"stop requested again"_s, now(), QString::number(count));
    if (count == 2 && m_phase < Phase::Cancel) {
        qCWarning(lcShutdown) << "second stop request: cancelling what is still running";
        enter(Phase::Cancel);
    } else if (count >= 3) {
        qCWarning(lcShutdown) << "third stop request: finishing now";
        m_forced = true;
        m_forcedWhy = u"third stop request"_s;
        for (ServiceRunner *r : std::as_const(m_parts.order))
            r->abandon(u"third stop request"_s);
        enter(Phase::Close);
    }
}

void Shutdown::enter(Phase p)
{
    if (p <= m_phase)
        return;
    const qint64 t = now();
    if (m_phase != Phase::Idle)
        m_parts.trace->span(0, phaseName(m_phase), u"phase"_s, m_phaseStart, t);
    m_phase = p;
    m_phaseStart = t;
    m_timer->stop();
    m_parts.board->phaseStarted(phaseName(p), t);
    Q_EMIT phaseChanged(p);
    switch (p) {
    case Phase::Intake:
        qCInfo(lcShutdown) << "phase intake: readiness off, intake closing";
        break;
    case Phase::Drain:
        qCInfo(lcShutdown) << "phase drain: in-flight work may finish";
        for (ServiceRunner *r : std::as_const(m_parts.order))
            r->fireStopToken();
        m_timer->start(int(qMax<qint64>(0, m_drainEnd - t)));
        scheduleStops();
        break;
    case Phase::Cancel: {
        qCInfo(lcShutdown).noquote() << u"phase cancel: %1 pending work item(s) cancelled"_s.arg(m_parts.ledger->activeCount());
        m_timer->start(int(qMax<qint64>(0, m_cancelEnd - t)));
        for (ServiceRunner *r : std::as_const(m_parts.order))
            r->cancelWork();
        scheduleStops();
        break;
    }
    case Phase::Join: {
        QStringList waiting;
        for (ServiceRunner *r : std::as_const(m_parts.order)) {
            if (!r->isDone())
                waiting << r->name();
        }
        qCWarning(lcShutdown).noquote() << u"phase join: still waiting for %1\n"_s.arg(waiting.join(u", "))
                + m_parts.ledger->dumpText();
        m_timer->start(int(qMax<qint64>(0, m_joinEnd - t)));
        scheduleStops();
        break;
    }
    case Phase::Close:
        // Queued: close runs with no service code on the stack, so instances can be deleted.
        QMetaObject::invokeMethod(this, &Shutdown::close, Qt::QueuedConnection);
        break;
    case Phase::Done:
    case Phase::Idle:
        break;
    }
    if (p >= Phase::Drain && p < Phase::Close && allDone())
        enter(Phase::Close);
}

void Shutdown::scheduleStops()
{
    for (ServiceRunner *r : std::as_const(m_parts.order))
        stopIfDependentsDone(r);
}

void Shutdown::stopIfDependentsDone(ServiceRunner *r)
{
    if (r->isDone() || r->stopRequested())
        return;
    for (ServiceRunner *dep : m_parts.dependents.value(r)) {
        if (!dep->isDone())
            return;
    }
    r->requestStop();
}

bool Shutdown::allDone()
{
    // Counted, not scanned: with a thousand services every stop would otherwise cost a pass.
    if (m_done.size() == m_parts.order.size())
        return true;
    for (ServiceRunner *r : std::as_const(m_parts.order)) {
        if (r->isDone())
            m_done.insert(r);
        else
            return false;
    }
    return m_done.size() == m_parts.order.size();
}

void Shutdown::onRunnerDone(ServiceRunner *r)
{
    m_done.insert(r);
    if (m_phase < Phase::Drain || m_phase >= Phase::Close)
        return;
    // Only the services this one depended on can have become stoppable.
    for (ServiceRunner *dependency : m_parts.dependencies.value(r))
        stopIfDependentsDone(dependency);
    if (m_done.size() == m_parts.order.size() && allDone())
        enter(Phase::Close);
}

void Shutdown::close()
{
    m_closedForFastExit = m_processExits && m_config.fastExit;
    // Dependents first, so a service's resources outlive everything that used them.
    for (auto it = m_parts.order.crbegin(); it != m_parts.order.crend(); ++it) {
        ServiceRunner *r = *it;
        if (!r->isDone())
            r->abandon(u"not stopped when close began"_s);
        if (r->state() == ServiceRunner::State::Abandoned && !m_forced) {
            m_forced = true;
            m_forcedWhy = r->name() + u": " + r->failure();
        }
        const auto leaked = r->close(m_closedForFastExit);
        for (const auto &e : leaked)
            qCWarning(lcShutdown).noquote() << u"leaked: "_s + WorkLedger::describe(e, now());
        if (!leaked.isEmpty() && !m_forced) {
            m_forced = true;
            m_forcedWhy = u"%1 work item(s) of %2 still pending at close"_s.arg(leaked.size()).arg(r->name());
        }
        m_leaked += leaked;
    }
    enter(Phase::Done);
    m_parts.trace->span(0, u"shutdown"_s, u"phase"_s, m_t0, now());
    Q_EMIT completed();
}

} // namespace berth
