// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/report.h"

#include <QtCore/QStringList>

using namespace Qt::StringLiterals;

namespace berth {

void StatusBoard::addService(const QString &name)
{
    QMutexLocker lock(&m_mutex);
    if (m_index.contains(name))
        return;
    m_index.insert(name, m_data.services.size());
    m_data.services.append(ServiceStatus{name, u"pending"_s, {}, -1, -1});
}

void StatusBoard::setState(const QString &name, const QString &state, const QString &note)
{
    QMutexLocker lock(&m_mutex);
    const auto it = m_index.constFind(name);
    if (it == m_index.cend())
        return;
    auto &s = m_data.services[*it];
    s.state = state;
    if (!note.isEmpty())
        s.note = note;
}

void StatusBoard::setStopRequested(const QString &name, qint64 ms)
{
    QMutexLocker lock(&m_mutex);
    if (const auto it = m_index.constFind(name); it != m_index.cend())
        m_data.services[*it].stopRequestedMs = ms;
}

void StatusBoard::setStopped(const QString &name, qint64 ms)
{
    QMutexLocker lock(&m_mutex);
    if (const auto it = m_index.constFind(name); it != m_index.cend())
        m_data.services[*it].stoppedMs = ms;
}

void StatusBoard::beginShutdown(const QString &reason, qint64 atMs, qint64 deadlineMs)
{
    QMutexLocker lock(&m_mutex);
    m_data.reason = reason;
    m_data.shutdownStartMs = atMs;
    m_data.deadlineMs = deadlineMs;
}

void StatusBoard::setRequests(int requests)
{
    QMutexLocker lock(&m_mutex);
    m_data.requests = requests;
}

void StatusBoard::phaseStarted(const QString &phase, qint64 atMs)
{
    QMutexLocker lock(&m_mutex);
    if (!m_data.phases.isEmpty() && m_data.phases.last().endMs < 0)
        m_data.phases.last().endMs = atMs;
    m_data.phases.append(PhaseTiming{phase, atMs, phase == u"done" ? atMs : -1});
}

BoardSnapshot StatusBoard::snapshot() const
{
    QMutexLocker lock(&m_mutex);
    return m_data;
}

QString exitCodeMeaning(int code)
{
    switch (code) {
    case ExitClean: return u"clean stop"_s;
    case ExitServiceFailed: return u"a service failed"_s;
    case ExitUsage: return u"bad command line or config"_s;
    case ExitForced: return u"shutdown forced: work was still pending when its budget ran out"_s;
    }
    return u"unknown"_s;
}

namespace {
QString ms(qint64 v)
{
    return v < 0 ? u"-"_s : QString::number(v) + u"ms"_s;
}

// How long this service's stop spent in each phase: "drain 300ms, cancel 120ms".
QString phaseShare(const BoardSnapshot &board, const ServiceStatus &s, qint64 nowMs)
{
    if (s.stopRequestedMs < 0)
        return u"-"_s;
    const qint64 end = s.stoppedMs >= 0 ? s.stoppedMs : nowMs;
    QStringList parts;
    for (const auto &p : board.phases) {
        const qint64 from = qMax(p.startMs, s.stopRequestedMs);
        const qint64 to = qMin(p.endMs >= 0 ? p.endMs : nowMs, end);
        if (p.name != u"done" && to > from)
            parts << p.name + u' ' + ms(to - from);
    }
    return parts.isEmpty() ? u"-"_s : parts.join(u", ");
}

// One table row: every cell but the last padded to its column width, indented by two.
QString row(const QStringList &cells, const QList<int> &widths)
{
    QString line;
    for (qsizetype i = 0; i + 1 < cells.size(); ++i)
        line += cells[i].leftJustified(widths.value(i, 10)) + u' ';
    if (!cells.isEmpty())
        line += cells.last();
    while (line.endsWith(u' '))
        line.chop(1);
    return u"  "_s + line;
}
} // namespace

QString renderReport(const BoardSnapshot &board, const WorkLedger &ledger,
                     const QList<WorkEntry> &leaked, qint64 nowMs, int exitCode,
                     const QString &exitWhy, const QStringList &notes)
{
    QStringList out;
    out << u"shutdown report: reason %1 (%2 stop request(s)), deadline %3"_s
               .arg(board.reason.isEmpty() ? u"none"_s : board.reason)
               .arg(board.requests)
               .arg(ms(board.deadlineMs));
    if (board.shutdownStartMs >= 0)
        out << u"  total %1"_s.arg(ms(nowMs - board.shutdownStartMs));
    out << u"  phases:"_s;
    for (const auto &p : board.phases) {
        if (p.name == u"done")
            continue;
        const qint64 end = p.endMs >= 0 ? p.endMs : nowMs;
        out << u"    %1 %2%3"_s.arg(p.name.leftJustified(8), ms(end - p.startMs),
                                    p.endMs < 0 ? u" (cut off)"_s : QString());
    }
    const QList<int> widths{18, 12, 10, 10, 8, 10, 7, 0};
    out << row({u"service"_s, u"state"_s, u"stop took"_s, u"completed"_s, u"drained"_s,
                u"cancelled"_s, u"leaked"_s, u"stopping during"_s},
               widths);
    for (const auto &s : board.services) {
        const WorkCounts c = ledger.counts(s.name);
        QString took = u"-"_s;
        if (s.stopRequestedMs >= 0)
            took = s.stoppedMs >= 0 ? ms(s.stoppedMs - s.stopRequestedMs)
                                    : ms(nowMs - s.stopRequestedMs) + u"+"_s;
        out << row({s.name, s.state, took, QString::number(c.completed), QString::number(c.drained),
                    QString::number(c.cancelled), QString::number(c.leaked + c.active),
                    phaseShare(board, s, nowMs)},
                   widths)
                + (s.note.isEmpty() ? QString() : u"  (" + s.note + u')');
    }
    const auto pending = ledger.snapshot();
    if (pending.isEmpty() && leaked.isEmpty()) {
        out << u"  pending at exit: none"_s;
    } else {
        out << u"  pending at exit: %1"_s.arg(pending.size() + leaked.size());
        for (const auto &e : leaked)
            out << u"    " + WorkLedger::describe(e, nowMs);
        for (const auto &e : pending)
            out << u"    " + WorkLedger::describe(e, nowMs);
    }
    for (const QString &note : notes)
        out << u"  "_s + note;
    out << u"  exit code %1: %2%3"_s.arg(exitCode).arg(exitCodeMeaning(exitCode),
                                                    exitWhy.isEmpty() ? QString() : u" (" + exitWhy + u')');
    return out.join(u'\n');
}

} // namespace berth
