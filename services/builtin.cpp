// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "builtin.h"

#include "chaos.h"

#include <berth/serviceregistry.h>

namespace berth {

void registerBuiltinServices(ServiceRegistry &registry)
{
    registry.add(ChaosService::type());
}

} // namespace berth
