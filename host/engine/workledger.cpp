// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/workledger_p.h"

#include <QtCore/QElapsedTimer>
#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QMutex>

#include <algorithm>
#include <array>
#include <set>
#include <unordered_map>

Q_LOGGING_CATEGORY(lcLedger, "berth.ledger")

using namespace Qt::StringLiterals;

namespace berth {

namespace {
// Kept small: a tracked network request costs one of these. The origin stays a pointer to the
// static file name from std::source_location until someone asks for a snapshot.
struct ServiceState;

struct Item
{
    ServiceState *state = nullptr;      ///< its service (stable: Private::services never moves one)
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
    QString name;
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
    WorkEntry e{id, item.state->name, *item.kind, item.name, item.startedMs,
                originOf(item.file, item.line), item.cancelRequested, item.bytes};
    return e;
}
} // namespace

struct WorkLedger::Private
{
    mutable QMutex mutex;
    QElapsedTimer clock;
    quint64 nextId = 1;
    /// By id: found and erased in O(1) (a tracked request finishes in any order). Dumps and
    /// cancelService() sort by id (oldest first); they are rare.
    QHash<quint64, Item> items;
    /// By name; a node never moves, so items point at their service's state.
    std::unordered_map<QString, ServiceState> services;
    ServiceState *last = nullptr;           // the service of the last add(): usually the next too
    std::set<QString> strings;              // kind names; nodes never move

    /// Under the mutex.
    /// The few kinds in use come back on every add and rename: the same data (the callers' string
    /// constants, which the set's copies share) is found without walking the set.
    std::array<const QString *, 4> recent{};
    size_t nextRecent = 0;
    const QString *intern(const QString &s)
    {
        for (const QString *r : recent) {
            if (r && r->constData() == s.constData() && r->size() == s.size())
                return r;
        }
        const QString *interned = &*strings.insert(s).first;
        recent[nextRecent++ % recent.size()] = interned;
        return interned;
    }
    ServiceState &state(const QString &service)
    {
        if (last && last->name == service)
            return *last;
        auto [it, added] = services.try_emplace(service);
        if (added)
            it->second.name = service;
        last = &it->second;
        return it->second;
    }
    /// Under the mutex: ids of the items \a keep selects, oldest first.
    template<typename Keep>
    QList<quint64> idsWhere(Keep keep) const
    {
        QList<quint64> ids;
        for (auto it = items.cbegin(); it != items.cend(); ++it) {
            if (keep(it.value()))
                ids.append(it.key());
        }
        std::sort(ids.begin(), ids.end());
        return ids;
    }
};

WorkTicket::~WorkTicket()
{
    if (m_ledger && m_id)
        m_ledger->settle(m_id, true);
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
        auto &state = d->state(service);
        item.state = &state;
        item.kind = d->intern(kind);
        item.name = name;
        item.startedMs = d->clock.elapsed();
        item.file = file;
        item.line = line;
        item.cancel = std::move(cancel);
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
    it->kind = d->intern(kind);
    it->name = name;
}

void WorkLedger::setProgress(quint64 id, qint64 bytes)
{
    QMutexLocker lock(&d->mutex);
    auto it = d->items.find(id);
    if (it != d->items.end())
        it->bytes = bytes;
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
            it->cancelRequested = true;
        ServiceState &state = *it->state;
        --state.counts.active;
        if (leaked) {
            ++state.counts.leaked;
            qCWarning(lcLedger).noquote() << u"work destroyed while pending: "_s
                    + describe(entryOf(id, *it), d->clock.elapsed());
        }
        else if (it->cancelRequested)
            ++state.counts.cancelled;
        else if (state.stopping)
            ++state.counts.drained;
        else
            ++state.counts.completed;
        if (state.counts.active == 0)
            idleService = state.name;
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
        if (it == d->items.end() || it->cancelRequested)
            return false;
        it->cancelRequested = true;
        fn = it->cancel;
    }
    // Outside the lock: a cancel function may finish this or other entries re-entrantly.
    if (fn)
        fn();
    return true;
}

int WorkLedger::Control::cancelService(WorkLedger &ledger, const QString &service)
{
    WorkLedger::Private *d = ledger.d.get();
    QList<quint64> ids;
    {
        QMutexLocker lock(&d->mutex);
        ServiceState &state = d->state(service);
        state.cancelling = true;
        ids = d->idsWhere([&](const Item &item) { return item.state == &state && !item.cancelRequested; });
    }
    int n = 0;
    for (quint64 id : std::as_const(ids))
        n += ledger.cancel(id) ? 1 : 0;
    return n;
}

void WorkLedger::Control::markStopping(WorkLedger &ledger, const QString &service)
{
    WorkLedger::Private *d = ledger.d.get();
    QMutexLocker lock(&d->mutex);
    d->state(service).stopping = true;
}

QList<WorkEntry> WorkLedger::Control::closeService(WorkLedger &ledger, const QString &service)
{
    WorkLedger::Private *d = ledger.d.get();
    QList<WorkEntry> leaked;
    {
        QMutexLocker lock(&d->mutex);
        ServiceState &state = d->state(service);
        for (const quint64 id : d->idsWhere([&](const Item &item) { return item.state == &state; })) {
            const auto it = d->items.find(id);
            leaked.append(entryOf(id, *it));
            d->items.erase(it);
        }
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
    for (const quint64 id : d->idsWhere([&](const Item &item) { return service.isEmpty() || item.state->name == service; }))
        out.append(entryOf(id, *d->items.constFind(id)));
    return out;
}

int WorkLedger::activeCount(const QString &service) const
{
    QMutexLocker lock(&d->mutex);
    if (service.isEmpty())
        return int(d->items.size());
    const auto it = d->services.find(service);
    return it == d->services.end() ? 0 : it->second.counts.active;
}

WorkCounts WorkLedger::counts(const QString &service) const
{
    QMutexLocker lock(&d->mutex);
    const auto it = d->services.find(service);
    return it == d->services.end() ? WorkCounts{} : it->second.counts;
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
