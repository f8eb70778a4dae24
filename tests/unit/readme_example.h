// The service example from README.md, verbatim: tst_readmeexample checks that the two agree
// and that the example really works in a host.
#pragma once

#include <berth/service.h>
#include <berth/servicecontext.h>
#include <QTimer>
#include <map>

class Poller : public berth::Service {
protected:
    void start() override {
        connect(&m_tick, &QTimer::timeout, this, &Poller::poll);
        // Intake: take no new work once the host begins to stop.
        connect(context().stopToken(), &berth::StopToken::stopRequested, &m_tick, &QTimer::stop);
        m_tick.start(100);
        reportReady();                           // or reportFailed(QStringLiteral("why"))
    }
    void stop() override { reportStopped(); }    // the host still waits for tracked work

private:
    void poll() {
        const int id = ++m_next;
        auto *work = new QTimer(this);           // stands in for any asynchronous work
        work->setSingleShot(true);
        // Every piece of in-flight work goes in the ledger, with how to cancel it.
        m_jobs[id] = context().track(QStringLiteral("job"), QStringLiteral("poll #%1").arg(id),
                                     [this, id] { done(id); });
        connect(work, &QTimer::timeout, this, [this, id] { done(id); });
        work->start(500);
    }
    void done(int id) { m_jobs[id].finish(); m_jobs.erase(id); }

    QTimer m_tick;
    int m_next = 0;
    std::map<int, berth::WorkTicket> m_jobs;
};
