// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Start-up and shutdown timeline in Chrome trace-event JSON (opens in Perfetto / chrome://tracing).
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QList>
#include <QtCore/QMutex>
#include <QtCore/QString>

namespace berth {

class Trace
{
public:
    /// Lane 0 is the host's own (phases); each service gets a lane of its own.
    void setLaneName(int lane, const QString &name);
    /// A complete event ("ph":"X"): \a startMs .. \a endMs on the host clock.
    void span(int lane, const QString &name, const QString &category, qint64 startMs, qint64 endMs,
              const QString &detail = {});
    /// An instant event ("ph":"i").
    void instant(int lane, const QString &name, qint64 atMs, const QString &detail = {});
    /// Thread-safe: the watchdog writes the trace of a forced exit too.
    QByteArray toJson() const;
    bool writeTo(const QString &path, QString *error) const;

private:
    struct Event
    {
        char phase;
        int lane;
        QString name;
        QString category;
        qint64 startMs;
        qint64 durationMs;
        QString detail;
    };
    mutable QMutex m_mutex;
    QList<Event> m_events;
    QList<std::pair<int, QString>> m_lanes;
};

} // namespace berth
