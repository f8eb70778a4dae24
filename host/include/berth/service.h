// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QJsonObject>
#include <QtCore/QObject>

#include <memory>

namespace berth {

class ServiceContext;
class ServiceHost;

/// The unit a user writes. Start and stop are asynchronous: the service says when it is ready
/// (reportReady) and when it has stopped (reportStopped); the host decides how long that may take.
///
/// A synchronous service is a one-liner:
/// \code
///   void start() override { reportReady(); }   // stop() defaults to reportStopped()
/// \endcode
///
/// Shutdown calls, in this order and only on the host's thread:
///  1. the context's stop token fires (intake: stop taking new work);
///  2. stop(), once every service that depends on this one has stopped;
///  3. cancel(), if the drain budget ran out first (the host has already cancelled the service's
///     ledger entries); then the host waits for reportStopped() up to the service's stopTimeout.
/// An exception thrown from any of these is caught by the host and counts as the service failing.
class Service : public QObject
{
    Q_OBJECT
public:
    explicit Service(QObject *parent = nullptr);
    ~Service() override;

    /// Valid from start() on.
    ServiceContext &context() const;

protected:
    virtual void start() = 0;
    virtual void stop();
    virtual void cancel();
    /// The new "config" object after a successful reload (SIGHUP, PARAMCHANGE).
    virtual void reload(const QJsonObject &config);

    void reportReady();
    void reportStopped();
    /// While starting: start failed. While running: the service failed (its onFailure policy
    /// applies). While stopping: the stop failed (the exit code will say so).
    void reportFailed(const QString &reason);

private:
    friend class ServiceRunner;
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace berth
