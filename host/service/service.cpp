// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include <berth/service.h>
#include <berth/servicecontext.h>

#include "engine/servicerunner.h"

using namespace Qt::StringLiterals;

namespace berth {

struct Service::Private
{
    ServiceRunner *runner = nullptr;
    ServiceContext *context = nullptr;
};

Service::Service(QObject *parent) : QObject(parent), d(std::make_unique<Private>()) {}

Service::~Service() = default;

ServiceContext &Service::context() const
{
    Q_ASSERT_X(d->context, "Service::context", "called before the host started the service");
    return *d->context;
}

void Service::stop()
{
    reportStopped();
}

void Service::cancel() {}

void Service::reload(const QJsonObject &) {}

void Service::reportReady()
{
    if (d->runner)
        d->runner->onReportReady(this);
}

void Service::reportStopped()
{
    if (d->runner)
        d->runner->onReportStopped(this);
}

void Service::reportFailed(const QString &reason)
{
    if (d->runner)
        d->runner->onReportFailed(this, reason);
}

void ServiceRunner::attach(Service *service, ServiceContext *context)
{
    service->d->runner = this;
    service->d->context = context;
}

void ServiceRunner::detach(Service *service)
{
    service->d->runner = nullptr;
}

namespace {
Service *owningService(QObject *receiver)
{
    for (QObject *o = receiver; o; o = o->parent()) {
        if (auto *service = qobject_cast<Service *>(o))
            return service;
    }
    return nullptr;
}
} // namespace

ServiceRunner *ServiceRunner::owning(QObject *receiver)
{
    Service *service = owningService(receiver);
    return service ? service->d->runner : nullptr;
}

bool ServiceRunner::failOwningService(QObject *receiver, const QString &what)
{
    Service *service = owningService(receiver);
    if (!service || !service->d->runner)
        return false;
    service->d->runner->onReportFailed(service, u"exception in an event handler: "_s + what);
    return true;
}

} // namespace berth
