// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// "chaos": a service that misbehaves on purpose, by config. A drill for users' deployments (does
// my supervisor's stop timeout really hold?) and the host's own fault-injection kit.
#pragma once

#include <berth/service.h>
#include <berth/serviceregistry.h>
#include <berth/workledger.h>

#include <QtCore/QList>

#include <memory>
#include <vector>

class QTimer;

namespace berth {

class ChaosService : public Service
{
    Q_OBJECT
public:
    static ServiceType type();

protected:
    void start() override;
    void stop() override;
    void cancel() override;
    void reload(const QJsonObject &config) override;

private:
    struct Job
    {
        WorkTicket ticket;
        QTimer *timer = nullptr;
    };
    void startJob();
    void endJob(Job *job);
    void beginWork();
    int durationOf(const char *key) const;

    QTimer *m_startTimer = nullptr;
    QTimer *m_stopTimer = nullptr;
    QTimer *m_workTimer = nullptr;
    QTimer *m_failTimer = nullptr;
    QList<std::shared_ptr<Job>> m_jobs;
    std::vector<WorkTicket> m_leaks;
    int m_jobCounter = 0;
};

} // namespace berth
