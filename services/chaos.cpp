// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "chaos.h"

#include <berth/configvalue.h>
#include <berth/servicecontext.h>

#include <QtCore/QTimer>

#include <chrono>
#include <stdexcept>
#include <thread>

using namespace Qt::StringLiterals;

namespace berth {

ServiceType ChaosService::type()
{
    using K = ConfigKey::Kind;
    return ServiceType{
        u"chaos"_s,
        u"misbehaves on purpose, by config: a shutdown drill and the host's fault-injection kit"_s,
        {
            {u"startDelay"_s, K::Duration, u"report ready only after this long"_s, false, {}},
            {u"startFail"_s, K::Bool, u"report a start failure (after startDelay)"_s, false, {}},
            {u"stopDelay"_s, K::Duration, u"take this long to stop"_s, false, {}},
            {u"stopHang"_s, K::Bool, u"never report stopped"_s, false, {}},
            {u"stopBlock"_s, K::Duration, u"block the event loop this long inside stop()"_s, false, {}},
            {u"leak"_s, K::Integer, u"register this many work items that never complete"_s, false, {}},
            {u"failAfter"_s, K::Duration, u"fail this long after becoming ready"_s, false, {}},
            {u"throwIn"_s, K::Enum, u"throw an exception from start(), stop(), or an event handler once ready"_s, false, {u"start"_s, u"stop"_s, u"event"_s}},
            {u"blockAfter"_s, K::Duration, u"once ready, wait this long, then block the event loop for blockFor"_s, false, {}},
            {u"blockFor"_s, K::Duration, u"how long blockAfter blocks (default 10s)"_s, false, {}},
            {u"workEvery"_s, K::Duration, u"start a simulated job this often while running"_s, false, {}},
            {u"workDuration"_s, K::Duration, u"how long each simulated job takes (default 100ms)"_s, false, {}},
        },
        [] { return std::make_unique<ChaosService>(); },
    };
}

int ChaosService::durationOf(const char *key) const
{
    // Validated before start (Kind::Duration); a reload cannot bring a bad value either.
    return int(durationValue(context().config(), QLatin1String(key)).count());
}

void ChaosService::start()
{
    const QJsonObject cfg = context().config();
    if (cfg.value(u"throwIn"_s).toString() == u"start")
        throw std::runtime_error("chaos: throwIn start");
    for (int i = 0, n = cfg.value(u"leak"_s).toInt(); i < n; ++i)
        m_leaks.push_back(context().track(u"leak"_s, u"chaos leak #%1 (never completes)"_s.arg(i + 1)));
    m_startTimer = new QTimer(this);
    m_startTimer->setSingleShot(true);
    m_startTimer->setTimerType(Qt::PreciseTimer);
    connect(m_startTimer, &QTimer::timeout, this, [this] {
        if (context().config().value(u"startFail"_s).toBool()) {
            reportFailed(u"chaos: startFail"_s);
            return;
        }
        beginWork();
        reportReady();
    });
    m_startTimer->start(durationOf("startDelay"));
}

void ChaosService::beginWork()
{
    if (context().config().value(u"throwIn"_s).toString() == u"event")
        QTimer::singleShot(0, this, [] { throw std::runtime_error("chaos: throwIn event"); });
    if (const int every = durationOf("workEvery"); every > 0) {
        m_workTimer = new QTimer(this);
        connect(m_workTimer, &QTimer::timeout, this, &ChaosService::startJob);
        m_workTimer->start(every);
        // Intake: no new jobs once the host begins to stop; running ones may drain.
        connect(context().stopToken(), &StopToken::stopRequested, m_workTimer, &QTimer::stop);
    }
    if (context().config().contains(u"blockAfter"_s)) {
        // A wedged service: nothing on this thread runs until it is done, QTimers included.
        QTimer::singleShot(durationOf("blockAfter"), this, [this] {
            const int block = context().config().contains(u"blockFor"_s) ? durationOf("blockFor") : 10000;
            qCWarning(context().log()).noquote() << u"blockAfter: blocking the event loop for %1ms"_s.arg(block);
            std::this_thread::sleep_for(std::chrono::milliseconds(block));
        });
    }
    if (const int after = durationOf("failAfter"); after > 0) {
        m_failTimer = new QTimer(this);
        m_failTimer->setSingleShot(true);
        connect(m_failTimer, &QTimer::timeout, this,
                [this] { reportFailed(u"chaos: failAfter %1"_s.arg(context().config().value(u"failAfter"_s).toString())); });
        m_failTimer->start(after);
    }
}

void ChaosService::startJob()
{
    auto job = std::make_shared<Job>();
    job->timer = new QTimer(this);
    job->timer->setSingleShot(true);
    Job *raw = job.get();
    const int n = ++m_jobCounter;
    job->ticket = context().track(u"job"_s, u"chaos job #%1"_s.arg(n), [this, raw] {
        qCInfo(context().log()).noquote() << u"job cancelled"_s;
        endJob(raw);
    });
    connect(job->timer, &QTimer::timeout, this, [this, raw] { endJob(raw); });
    const int duration = context().config().contains(u"workDuration"_s) ? durationOf("workDuration") : 100;
    job->timer->start(duration);
    m_jobs.append(std::move(job));
}

void ChaosService::endJob(Job *job)
{
    for (qsizetype i = 0; i < m_jobs.size(); ++i) {
        if (m_jobs[i].get() == job) {
            auto keep = m_jobs.takeAt(i);
            keep->timer->stop();
            keep->timer->deleteLater();
            keep->ticket.finish();
            return;
        }
    }
}

void ChaosService::stop()
{
    const QJsonObject cfg = context().config();
    if (m_startTimer)
        m_startTimer->stop();
    if (m_failTimer)
        m_failTimer->stop();
    if (m_workTimer)
        m_workTimer->stop();
    if (cfg.value(u"throwIn"_s).toString() == u"stop")
        throw std::runtime_error("chaos: throwIn stop");
    if (const int block = durationOf("stopBlock"); block > 0) {
        qCWarning(context().log()).noquote() << u"blocking the event loop for %1ms"_s.arg(block);
        std::this_thread::sleep_for(std::chrono::milliseconds(block));
    }
    if (cfg.value(u"stopHang"_s).toBool()) {
        qCWarning(context().log()) << "stopHang: will never report stopped";
        return;
    }
    m_stopTimer = new QTimer(this);
    m_stopTimer->setSingleShot(true);
    m_stopTimer->setTimerType(Qt::PreciseTimer);
    connect(m_stopTimer, &QTimer::timeout, this, [this] { reportStopped(); });
    m_stopTimer->start(durationOf("stopDelay"));
}

void ChaosService::cancel()
{
    // Jobs were cancelled through the ledger already; nothing else of ours is cancellable.
}

void ChaosService::reload(const QJsonObject &config)
{
    qCInfo(context().log()).noquote() << u"reloaded with %1 key(s)"_s.arg(config.size());
    if (m_workTimer && !context().stopToken()->isStopRequested()) {
        const int every = durationOf("workEvery");
        if (every > 0)
            m_workTimer->start(every);
        else
            m_workTimer->stop();
    }
}

} // namespace berth
