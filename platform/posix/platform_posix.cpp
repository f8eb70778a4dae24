// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The POSIX side of the platform seam (platform.h).
#include "platform.h"

#include "signalsource_posix.h"

#include <berth/lifetime.h>

namespace berth::platform {

void earlyInit()
{
    PosixSignalSource::earlyInit();
}

std::unique_ptr<QObject> installStopSources(Lifetime &lifetime)
{
    return std::make_unique<PosixSignalSource>(lifetime);
}

std::function<void()> childProcessModifier()
{
    // Qt 6.4's QProcess starts children with a raw clone(CLONE_VM | CLONE_VFORK) (forkfd),
    // which runs no pthread_atfork handlers, so the reset has to be passed explicitly.
    return &PosixSignalSource::resetSignalsInChild;
}

const char *name()
{
    return "posix";
}

} // namespace berth::platform
