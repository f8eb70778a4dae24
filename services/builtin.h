// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

namespace berth {
class ServiceRegistry;

/// Registers every built-in service type ("chaos", ...) in \a registry.
void registerBuiltinServices(ServiceRegistry &registry);
} // namespace berth
