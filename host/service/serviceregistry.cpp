// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include <berth/service.h>
#include <berth/serviceregistry.h>

namespace berth {

void ServiceRegistry::add(ServiceType type)
{
    for (auto &existing : m_types) {
        if (existing.name == type.name) {
            existing = std::move(type);
            return;
        }
    }
    m_types.append(std::move(type));
}

const ServiceType *ServiceRegistry::find(const QString &name) const
{
    for (const auto &t : m_types) {
        if (t.name == name)
            return &t;
    }
    return nullptr;
}

QStringList ServiceRegistry::names() const
{
    QStringList out;
    for (const auto &t : m_types)
        out.append(t.name);
    return out;
}

} // namespace berth
