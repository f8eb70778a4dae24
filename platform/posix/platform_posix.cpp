// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The POSIX side of the platform seam (platform.h).
#include "platform.h"

#include "signalsource_posix.h"

#include <berth/lifetime.h>

#include <algorithm>
#include <cstdio>

#include <limits.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace berth::platform {

namespace {
// The soft open-file limit the process started with, restored in children: a network session
// may hold 1 000+ connections (about N + N/6 descriptors on Qt 6.4), far past the usual soft
// limit of 1024, but children that use select() must not inherit a raised limit.
rlim_t g_startSoftLimit = RLIM_INFINITY;
bool g_raised = false;

void restoreLimitsInChild()
{
    if (!g_raised)
        return;
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = g_startSoftLimit;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}
} // namespace

void earlyInit()
{
    PosixSignalSource::earlyInit();
    static const bool once = [] {
        rlimit lim{};
        if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
            g_startSoftLimit = lim.rlim_cur;
            lim.rlim_cur = lim.rlim_max;
#ifdef __APPLE__
            lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, OPEN_MAX);   // macOS refuses RLIM_INFINITY
#endif
            g_raised = setrlimit(RLIMIT_NOFILE, &lim) == 0;
            if (g_raised)
                pthread_atfork(nullptr, nullptr, &restoreLimitsInChild);
        }
        return true;
    }();
    Q_UNUSED(once);
}

std::unique_ptr<QObject> installStopSources(Lifetime &lifetime)
{
    return std::make_unique<PosixSignalSource>(lifetime);
}

std::function<void()> childProcessModifier()
{
    // Qt 6.4's QProcess starts children with a raw clone(CLONE_VM | CLONE_VFORK) (forkfd),
    // which runs no pthread_atfork handlers, so the reset has to be passed explicitly.
    return [] {
        PosixSignalSource::resetSignalsInChild();
        restoreLimitsInChild();
    };
}

const char *name()
{
    return "posix";
}

bool canExitWithoutTeardown()
{
    return true;
}

void exitWithoutTeardown(int code)
{
    std::fflush(nullptr);
#if defined(__SANITIZE_ADDRESS__)
    // _exit() skips LeakSanitizer's at-exit check: run it here. What the skipped teardown would
    // have freed is still reachable, so only real leaks are reported (and fail the process).
    __lsan_do_leak_check();
#endif
    ::_exit(code);
}

} // namespace berth::platform
