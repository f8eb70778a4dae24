// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/trace.h"

#include <QtCore/QFile>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonDocument>
#include <QtCore/QJsonObject>
#include <QtCore/QSaveFile>

using namespace Qt::StringLiterals;

namespace berth {

void Trace::setLaneName(int lane, const QString &name)
{
    QMutexLocker lock(&m_mutex);
    m_lanes.append({lane, name});
}

void Trace::span(int lane, const QString &name, const QString &category, qint64 startMs,
                 qint64 endMs, const QString &detail)
{
    QMutexLocker lock(&m_mutex);
    m_events.append(Event{'X', lane, name, category, startMs, qMax<qint64>(0, endMs - startMs), detail});
}

void Trace::instant(int lane, const QString &name, qint64 atMs, const QString &detail)
{
    QMutexLocker lock(&m_mutex);
    m_events.append(Event{'i', lane, name, u"event"_s, atMs, 0, detail});
}

QByteArray Trace::toJson() const
{
    QMutexLocker lock(&m_mutex);
    QJsonArray events;
    events.append(QJsonObject{{u"ph"_s, u"M"_s}, {u"name"_s, u"process_name"_s}, {u"pid"_s, 1},
                              {u"args"_s, QJsonObject{{u"name"_s, u"berth"_s}}}});
    for (const auto &[lane, name] : m_lanes) {
        events.append(QJsonObject{{u"ph"_s, u"M"_s}, {u"name"_s, u"thread_name"_s}, {u"pid"_s, 1},
                                  {u"tid"_s, lane}, {u"args"_s, QJsonObject{{u"name"_s, name}}}});
    }
    for (const auto &e : m_events) {
        QJsonObject o{{u"ph"_s, QString(QLatin1Char(e.phase))}, {u"name"_s, e.name},
                      {u"cat"_s, e.category}, {u"pid"_s, 1}, {u"tid"_s, e.lane},
                      {u"ts"_s, double(e.startMs) * 1000.0}};
        if (e.phase == 'X')
            o.insert(u"dur"_s, double(e.durationMs) * 1000.0);
        else
            o.insert(u"s"_s, u"t"_s);
        if (!e.detail.isEmpty())
            o.insert(u"args"_s, QJsonObject{{u"detail"_s, e.detail}});
        events.append(o);
    }
    return QJsonDocument(QJsonObject{{u"traceEvents"_s, events}, {u"displayTimeUnit"_s, u"ms"_s}})
        .toJson(QJsonDocument::Indented);
}

bool Trace::writeTo(const QString &path, QString *error) const
{
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(toJson()) < 0 || !file.commit()) {
        if (error)
            *error = path + u": " + file.errorString();
        return false;
    }
    return true;
}

} // namespace berth
