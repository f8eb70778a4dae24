// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <functional>

namespace berth {

class ServiceRegistry;

/// The whole `berth` command line (run, check, services, --help, --version) with the built-in
/// service types plus the ones \a registerTypes adds. This is how you ship your own services:
/// \code
///   int main(int argc, char **argv)
///   {
///       return berth::runApplication(argc, argv, [](berth::ServiceRegistry &types) {
///           types.add({QStringLiteral("poller"), QStringLiteral("polls"), {},
///                      [] { return std::make_unique<Poller>(); }});
///       });
///   }
/// \endcode
/// Call it first thing in main(): it prepares signal handling before any thread exists and
/// creates the QCoreApplication itself. Returns the process exit code (0, 1, 2 or 3), except
/// after `run` on POSIX with shutdown.fastExit (the default): once the shutdown's report is
/// written the process ends there, with that code, and nothing after this call runs.
int runApplication(int argc, char **argv,
                   const std::function<void(ServiceRegistry &)> &registerTypes = {});

} // namespace berth
