// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Registers and removes the service with the SCM, as an InstallPlan (installplan.h) says.
#pragma once

#include "installplan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace berth::win {

/// Creates the service and sets its description, delayed start, preshutdown timeout, recovery
/// actions and the non-crash-failure flag. False and \a error (one clear sentence) if the
/// service could not be created (missing rights, the name is taken, ...); a setting that the
/// system refused after creation is a \a warnings line (wine implements some of them only partly).
bool installService(const InstallPlan &plan, std::string *error, std::vector<std::string> *warnings);

/// One clear sentence for a Win32 error of the SCM while \a doing ("install", "uninstall")
/// service \a name: missing rights, an existing or missing service, ...
std::string describeScmError(std::uint32_t code, const std::string &name, const char *doing);

/// Stops the service if it runs (waiting up to \a stopWaitMs) and deletes it.
bool uninstallService(const std::string &name, std::uint32_t stopWaitMs, std::string *error);

} // namespace berth::win
