// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The platform seam: the only functions the host and the executable call to reach the operating
// system. Each is defined once per platform (platform_posix.cpp, later platform_win.cpp); CMake
// picks the file.
#pragma once

#include <functional>
#include <memory>

class QObject;

namespace berth {
class Lifetime;
}

namespace berth::platform {

/// First thing in main(), before QCoreApplication and before any thread exists: prepares the
/// process so that stop signals are delivered only where the platform layer wants them
/// (POSIX: blocks SIGINT, SIGTERM, SIGHUP and SIGUSR1 in this thread, so every thread created
/// later inherits the block). Idempotent.
void earlyInit();

/// Installs the platform's stop sources and connects them to \a lifetime. Call on the thread
/// that runs the event loop, after QCoreApplication exists. The returned object owns them;
/// destroying it restores the default behaviour. Requests that arrived between earlyInit() and
/// this call are not lost (they are pending, and delivered when the event loop runs).
std::unique_ptr<QObject> installStopSources(Lifetime &lifetime);

/// A function for QProcess::setChildProcessModifier(): resets in a child process what
/// earlyInit() changed (POSIX: unblocks the stop signals), so children stop normally.
std::function<void()> childProcessModifier();

/// Short name of the platform for logs and `berth --version`: "posix", "windows".
const char *name();

} // namespace berth::platform
