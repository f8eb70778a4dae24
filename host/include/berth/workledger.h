// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QJsonArray>
#include <QtCore/QObject>
#include <QtCore/QString>

#include <functional>
#include <memory>
#include <source_location>

namespace berth {

class WorkLedger;

/// One piece of in-flight work as the ledger sees it (a copy, safe to keep).
struct WorkEntry
{
    quint64 id = 0;
    QString service;   ///< owning service
    QString kind;      ///< "timer", "reply", "thread", "process", "job", ...
    QString name;      ///< what it is, for people (URLs already redacted by the caller)
    qint64 startedMs = 0; ///< monotonic start, ms since the ledger was created
    QString origin;    ///< "file.cpp:123" where it was registered
    bool cancelRequested = false;
    qint64 bytes = -1; ///< progress so far (bytes received), -1 when the work has none
};

/// How a service's work ended, counted per service for the shutdown report.
struct WorkCounts
{
    int active = 0;     ///< still pending
    int completed = 0;  ///< finished before stop was requested
    int drained = 0;    ///< finished after stop was requested, without being cancelled
    int cancelled = 0;  ///< ended after the ledger cancelled it
    int leaked = 0;     ///< destroyed while pending, or still pending when its service closed
};

/// A move-only handle for one ledger entry. Call finish() when the work is done.
/// Destroying a ticket whose work is still pending is reported as a leak
/// ("work destroyed while pending"), never silently forgotten.
class WorkTicket
{
public:
    WorkTicket() = default;
    WorkTicket(WorkLedger *ledger, quint64 id) : m_ledger(ledger), m_id(id) {}
    WorkTicket(WorkTicket &&other) noexcept { swap(other); }
    WorkTicket &operator=(WorkTicket &&other) noexcept { WorkTicket t(std::move(other)); swap(t); return *this; }
    WorkTicket(const WorkTicket &) = delete;
    WorkTicket &operator=(const WorkTicket &) = delete;
    ~WorkTicket();

    /// The work completed (or ended after a cancel). Idempotent.
    void finish();
    bool isPending() const { return m_ledger && m_id; }
    quint64 id() const { return m_id; }

private:
    void swap(WorkTicket &o) noexcept { std::swap(m_ledger, o.m_ledger); std::swap(m_id, o.m_id); }
    WorkLedger *m_ledger = nullptr;
    quint64 m_id = 0;
};

/// The live list of everything pending, per service: what asyncio.all_tasks() should have been.
/// add()/finish()/snapshot() are thread-safe; cancel functions run on the thread that calls cancel().
class WorkLedger : public QObject
{
    Q_OBJECT
public:
    explicit WorkLedger(QObject *parent = nullptr);
    ~WorkLedger() override;

    /// Registers work; \a cancel (may be empty) is how to cancel it. \a kind is a category from
    /// a small vocabulary ("reply", "job", ...; kept once per ledger), \a name the specific item. A cancel function may finish
    /// the entry synchronously (as QNetworkReply::abort() does); the ledger expects that.
    quint64 add(const QString &service, const QString &kind, const QString &name,
                std::function<void()> cancel = {},
                const std::source_location &where = std::source_location::current());
    void finish(quint64 id);
    /// Registers work whose origin is already known (\a file as from std::source_location).
    quint64 add(const QString &service, const QString &kind, const QString &name,
                std::function<void()> cancel, const char *file, uint line);
    /// The work ended because it was cancelled (counted as cancelled, not completed).
    void finishCancelled(quint64 id);
    /// Renames a pending entry (its state changed: queued -> in flight -> waiting to retry).
    void update(quint64 id, const QString &kind, const QString &name);
    /// Records progress (bytes so far) of a pending entry, shown in dumps.
    void setProgress(quint64 id, qint64 bytes);
    /// Asks one entry to cancel. Returns false if it is unknown or already finished.
    bool cancel(quint64 id);

    QList<WorkEntry> snapshot(const QString &service = {}) const;
    int activeCount(const QString &service = {}) const;
    WorkCounts counts(const QString &service) const;
    qint64 nowMs() const;

    QString dumpText(const QString &service = {}) const;
    QJsonArray dumpJson(const QString &service = {}) const;
    static QString describe(const WorkEntry &e, qint64 nowMs);

    /// Asks the owners of pending work to bring their progress up to date (setProgress())
    /// before a dump; emits refreshRequested() on the calling thread.
    void refresh() { Q_EMIT refreshRequested(); }

Q_SIGNALS:
    /// Emitted (from the finishing thread) when \a service has no pending work left.
    void serviceIdle(const QString &service);
    void refreshRequested();

public:
    /// The host's own controls (the shutdown phases), in a private header of the host.
    struct Control;

private:
    friend class WorkTicket;   // a ticket destroyed while pending closes its entry as a leak
    void settle(quint64 id, bool leaked, bool cancelled = false);
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace berth
