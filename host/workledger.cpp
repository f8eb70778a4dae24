// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include <berth/workledger.h>

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMutex>

#include <map>
#include <set>

Q_LOGGING_CATEGORY(lcLedger, "berth.ledger")

using namespace Qt::StringLiterals;

namespace berth {

namespace {
// Kept small: a tracked network request costs one of these. The origin stays a pointer to the
// static file name from std::source_location until someone asks for a snapshot.
struct Item
{
    const QString *service = nullptr;   ///< interned (Private::strings): a pointer, not a string
    const QString *kind = nullptr;      ///< interned
    QString name;
    std::function<void()> cancel;
    const char *file = nullptr;
    qint64 startedMs = 0;
    qint64 bytes = -1;
    uint line = 0;
    bool cancelRequested = false;
};

struct ServiceState
{
    WorkCounts counts;
    bool stopping = false;
    bool cancelling = false;
};

QString originOf(const char *fileName, uint line)
{
    if (!fileName)
        return u"?"_s;
    QString file = QString::fromUtf8(fileName);
    const qsizetype slash = file.lastIndexOf(u'/');
    if (slash >= 0)
        file = file.mid(slash + 1);
    return file + u':' + QString::number(line);
}

WorkEntry entryOf(quint64 id, const Item &item)
{
    WorkEntry e{id, *item.service, *item.kind, item.name, item.startedMs,
                originOf(item.file, item.line), item.cancelRequested, item.bytes};
    return e;
}
} // namespace

struct WorkLedger::Private
{
    mutable QMutex mutex;
    QElapsedTimer clock;
    quint64 nextId = 1;
    std::map<quint64, Item> items;          // ordered: dumps list oldest first
    QHash<QString, ServiceState> services;
    std::set<QString> strings;              // service and kind names; nodes never move

    /// Under the mutex.
    const QString *intern(const QString &s) { return &*strings.insert(s).first; }
};

WorkTicket::~WorkTicket()
{
    if (m_ledger && m_id)
        m_ledger->closeEntryAsLeak(m_id);
}

void WorkTicket::finish()
{
    if (m_ledger && m_id)
        m_ledger->finish(m_id);
    m_ledger = nullptr;
    m_id = 0;
}

WorkLedger::WorkLedger(QObject *parent) : QObject(parent), d(std::make_unique<Private>())
{
    d->clock.start();
}

WorkLedger::~WorkLedger() = default;

qint64 WorkLedger::nowMs() const
{
    return d->clock.elapsed();
}

quint64 WorkLedger::add(const QString &service, const QString &kind, const QString &name,
                        std::function<void()> cancel, const std::source_location &where)
{
    return add(service, kind, name, std::move(cancel), where.file_name(), where.line());
}

quint64 WorkLedger::add(const QString &service, const QString &kind, const QString &name,
                        std::function<void()> cancel, const char *file, uint line)
{
    quint64 id;
    bool cancelNow = false;
    {
        QMutexLocker lock(&d->mutex);
        id = d->nextId++;
        Item item;
        item.service = d->intern(service);
        item.kind = d->intern(kind);
        item.name = name;
        item.startedMs = d->clock.elapsed();
        item.file = file;
        item.line = line;
        item.cancel = std::move(cancel);
        auto &state = d->services[service];
        ++state.counts.active;
        cancelNow = state.cancelling;
        d->items.emplace(id, std::move(item));
    }
    // A service that is already being cancelled gets no new work: cancel it on arrival. Queued,
    // so that the caller holds its ticket (and whatever the cancel function needs) by then.
    if (cancelNow)
        QMetaObject::invokeMethod(this, [this, id] { this->cancel(id); }, Qt::QueuedConnection);
    return id;
}

void WorkLedger::finish(quint64 id)
{
    settle(id, false);
}

void WorkLedger::closeEntryAsLeak(quint64 id)
{
    settle(id, true);
}

void WorkLedger::finishCancelled(quint64 id)
{
    settle(id, false, true);
}

void WorkLedger::update(quint64 id, const QString &kind, const QString &name)
{
    QMutexLocker lock(&d->mutex);
    auto it = d->items.find(id);
    if (it == d->items.end())
        return;
    it->second.kind = d->intern(kind);
    it->second.name = name;
}

void WorkLedger::setProgress(quint64 id, qint64 bytes)
{
    QMutexLocker lock(&d->mutex);
    auto it = d->items.find(id);
    if (it != d->items.end())
        it->second.bytes = bytes;
}

void WorkLedger::settle(quint64 id, bool leaked, bool cancelled)
{
    QString idleService;
    {
        QMutexLocker lock(&d->mutex);
        auto it = d->items.find(id);
        if (it == d->items.end())
            return;
        if (cancelled)
            it->second.cancelRequested = true;
        auto &state = d->services[*it->second.service];
        --state.counts.active;
        if (leaked) {
            ++state.counts.leaked;
            qCWarning(lcLedger).noquote() << u"work destroyed while pending: "_s
                    + describe(entryOf(id, it->second), d->clock.elapsed());
        }
        else if (it->second.cancelRequested)
            ++state.counts.cancelled;
        else if (state.stopping)
            ++state.counts.drained;
        else
            ++state.counts.completed;
        if (state.counts.active == 0)
            idleService = *it->second.service;
        d->items.erase(it);
    }
    if (!idleService.isNull())
        Q_EMIT serviceIdle(idleService);
}

bool WorkLedger::cancel(quint64 id)
{
    std::function<void()> fn;
    {
        QMutexLocker lock(&d->mutex);
        auto it = d->items.find(id);
        if (it == d->items.end() || it->second.cancelRequested)
            return false;
        it->second.cancelRequested = true;
        fn = it->second.cancel;
    }
    // Outside the lock: a cancel function may finish this or other entries re-entrantly.
    if (fn)
        fn();
    return true;
}

int WorkLedger::cancelService(const QString &service)
{
    QList<quint64> ids;
    {
        QMutexLocker lock(&d->mutex);
        d->services[service].cancelling = true;
        for (const auto &[id, item] : d->items) {
            if (*item.service == service && !item.cancelRequested)
                ids.append(id);
        }
    }
    int n = 0;
    for (quint64 id : std::as_const(ids))
        n += cancel(id) ? 1 : 0;
    return n;
}

void WorkLedger::markStopping(const QString &service)
{
    QMutexLocker lock(&d->mutex);
    d->services[service].stopping = true;
}

QList<WorkEntry> WorkLedger::closeService(const QString &service)
{
    QList<WorkEntry> leaked;
    {
        QMutexLocker lock(&d->mutex);
        for (auto it = d->items.begin(); it != d->items.end();) {
            if (*it->second.service == service) {
                leaked.append(entryOf(it->first, it->second));
                it = d->items.erase(it);
            } else {
                ++it;
            }
        }
        auto &state = d->services[service];
        state.counts.active = 0;
        state.counts.leaked += int(leaked.size());
        // Closed: a restarted instance starts with fresh flags, counters accumulate.
        state.stopping = false;
        state.cancelling = false;
    }
    return leaked;
}

QList<WorkEntry> WorkLedger::snapshot(const QString &service) const
{
    QList<WorkEntry> out;
    QMutexLocker lock(&d->mutex);
    for (const auto &[id, item] : d->items) {
        if (service.isEmpty() || *item.service == service)
            out.append(entryOf(id, item));
    }
    return out;
}

int WorkLedger::activeCount(const QString &service) const
{
    QMutexLocker lock(&d->mutex);
    if (service.isEmpty())
        return int(d->items.size());
    const auto it = d->services.constFind(service);
    return it == d->services.cend() ? 0 : it->counts.active;
}

WorkCounts WorkLedger::counts(const QString &service) const
{
    QMutexLocker lock(&d->mutex);
    return d->services.value(service).counts;
}

QString WorkLedger::describe(const WorkEntry &e, qint64 nowMs)
{
    QString s = e.service + u": " + e.kind + u" \"" + e.name + u"\" pending for "
        + QString::number(nowMs - e.startedMs) + u"ms (registered at " + e.origin + u')';
    if (e.bytes >= 0)
        s += u", "_s + QString::number(e.bytes) + u" bytes so far"_s;
    if (e.cancelRequested)
        s += u", cancel requested";
    return s;
}

QString WorkLedger::dumpText(const QString &service) const
{
    const auto entries = snapshot(service);
    const qint64 now = nowMs();
    QString out = QString::number(entries.size()) + u" pending work item(s)";
    for (const auto &e : entries)
        out += u"\n  " + describe(e, now);
    return out;
}

QJsonArray WorkLedger::dumpJson(const QString &service) const
{
    const auto entries = snapshot(service);
    const qint64 now = nowMs();
    QJsonArray out;
    for (const auto &e : entries) {
        out.append(QJsonObject{{u"id"_s, double(e.id)},
                               {u"service"_s, e.service},
                               {u"kind"_s, e.kind},
                               {u"name"_s, e.name},
                               {u"ageMs"_s, double(now - e.startedMs)},
                               {u"origin"_s, e.origin},
                               {u"cancelRequested"_s, e.cancelRequested},
                               {u"bytes"_s, double(e.bytes)}});
    }
    return out;
}

} // namespace berth
