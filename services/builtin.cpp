// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "builtin.h"

#include "chaos.h"
#include "httpfixture.h"
#include "httppoller.h"

#include <berth/serviceregistry.h>

namespace berth {

void registerBuiltinServices(ServiceRegistry &registry)
{
    registry.add(ChaosService::type());
    registry.add(HttpFixtureService::type());
    registry.add(HttpPollerService::type());
}

} // namespace berth
