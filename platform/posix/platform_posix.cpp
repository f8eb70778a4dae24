// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The POSIX side of the platform seam (platform.h).
#include "platform.h"

#include "signalsource_posix.h"

#include <berth/lifetime.h>

#include <atomic>
#include <cstdio>
#include <limits>
#include <mutex>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace berth::platform {

namespace {
// The soft open-file limit the process started with, restored in children: a network session
// may hold 1 000+ connections (about N + N/6 descriptors on Qt 6.4), far past the usual soft
// limit of 1024, but children that use select() must not inherit a raised limit.
std::mutex g_limitMutex;
rlim_t g_startSoftLimit = RLIM_INFINITY;
std::atomic<bool> g_raised{false};

void restoreLimitsInChild()
{
    if (!g_raised.load(std::memory_order_relaxed))
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
    raiseOpenFileLimit();
}

qint64 raiseOpenFileLimit()
{
    const std::lock_guard lock(g_limitMutex);
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
        return -1;
    if (lim.rlim_cur < lim.rlim_max) {
        // Where the hard limit is "unlimited" (macOS), the kernel still caps the soft one
        // (OPEN_MAX, 10240, there).
        for (const rlim_t want : {lim.rlim_max, rlim_t(65536), rlim_t(10240)}) {
            rlimit r = lim;
            r.rlim_cur = want;
            if (want > lim.rlim_cur && want <= lim.rlim_max && setrlimit(RLIMIT_NOFILE, &r) == 0) {
                if (!g_raised.load(std::memory_order_relaxed)) {
                    g_startSoftLimit = lim.rlim_cur;
                    g_raised.store(true, std::memory_order_relaxed);
                    pthread_atfork(nullptr, nullptr, &restoreLimitsInChild);
                }
                lim.rlim_cur = want;
                break;
            }
        }
    }
    return lim.rlim_cur == RLIM_INFINITY ? std::numeric_limits<qint64>::max() : qint64(lim.rlim_cur);
}

bool setResetOnClose(qintptr socketDescriptor)
{
    linger l{};
    l.l_onoff = 1;
    l.l_linger = 0;
    return socketDescriptor >= 0
        && ::setsockopt(int(socketDescriptor), SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0;
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
