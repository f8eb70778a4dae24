// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's own hooks into the Lifetime: what happens the moment a stop is noted on another
// thread, before the (maybe busy) host thread sees the request. Not for services.
#pragma once

#include <berth/lifetime.h>

namespace berth {

struct Lifetime::Control
{
    /// The counter behind externalStopNotes(), for code on other threads or in a busy loop that
    /// must stop taking new work the moment a stop is noted (a network session's dispatch).
    static const std::atomic<int> *externalStopCounter(const Lifetime &lifetime) { return &lifetime.m_externalNotes; }
    /// Called from whatever thread calls noteStopFromAnyThread() (the host arms its watchdog).
    /// Not synchronised: set it before the stop sources exist and clear it after they are gone.
    static void setExternalStopListener(Lifetime &lifetime, std::function<void(int count)> listener);
};

} // namespace berth
