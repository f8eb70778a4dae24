// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <berth/networkoptions.h>
#include <berth/workledger.h>

#include <QtCore/QJsonObject>
#include <QtCore/QLoggingCategory>
#include <QtCore/QObject>

#include <atomic>
#include <functional>
#include <memory>
#include <source_location>

namespace berth {

class NetworkSession;

/// Fires once when the host begins to stop (intake) and once when it cancels what remains.
/// Observe it from any object that does work for a service.
class StopToken : public QObject
{
    Q_OBJECT
public:
    using QObject::QObject;
    bool isStopRequested() const { return m_stop; }
    bool isCancelRequested() const { return m_cancel; }

Q_SIGNALS:
    void stopRequested();
    void cancelRequested();

private:
    friend class ServiceRunner;
    void fireStop();
    void fireCancel();
    bool m_stop = false;
    bool m_cancel = false;
};

/// What the host hands one service: its name and config, its logging category, its stop token,
/// and the work ledger in which it registers every piece of in-flight work.
class ServiceContext
{
public:
    ServiceContext(const QString &name, const QString &type, const QJsonObject &config,
                   WorkLedger *ledger);
    ~ServiceContext();
    ServiceContext(const ServiceContext &) = delete;
    ServiceContext &operator=(const ServiceContext &) = delete;

    QString name() const;
    QString type() const;
    QJsonObject config() const;
    /// The category "berth.service.<name>": use with qCInfo(ctx.log()) etc.
    const QLoggingCategory &log() const;
    StopToken *stopToken() const;
    WorkLedger *ledger() const;

    /// The service's own network session, created on first use with the service's "network"
    /// settings. Every request made through it (or its manager()) is tracked work: it drains
    /// when the host stops, is aborted in cancel, and the session closes in close.
    NetworkSession *network();

    /// Registers one piece of in-flight work owned by this service. Once the host has cancelled
    /// the service, work registered afterwards is cancelled at once.
    WorkTicket track(const QString &kind, const QString &name, std::function<void()> cancel = {},
                     const std::source_location &where = std::source_location::current());

    /// Runs in the *close* phase, after the service stopped (or was given up on): flush and
    /// release resources here. Callbacks run in reverse order of registration.
    void onClose(std::function<void()> callback);

    /// The host's own controls (reload, restart, close), in a private header of the host.
    struct Control;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace berth
