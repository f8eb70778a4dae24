// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <berth/configschema.h>

#include <QtCore/QList>
#include <QtCore/QString>

#include <functional>
#include <memory>

namespace berth {

class Service;

/// A service type that configs can name in "type".
struct ServiceType
{
    QString name;
    QString description;
    ConfigSchema schema;
    std::function<std::unique_ptr<Service>()> create;
};

class ServiceRegistry
{
public:
    /// Adds or replaces a type.
    void add(ServiceType type);
    const ServiceType *find(const QString &name) const;
    QStringList names() const;
    const QList<ServiceType> &types() const { return m_types; }

private:
    QList<ServiceType> m_types;
};

} // namespace berth
