// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's own controls of a network session, driven by the shutdown phases. Not for
// services: a service that drained or closed its own session would end the work the host
// means to drain.
#pragma once

#include <berth/networksession.h>

#include <atomic>

namespace berth {

struct NetworkSession::Control
{
    /// What close() does with the managers once nothing of theirs is in flight.
    enum class Teardown {
        Now,           ///< delete them: each joins its HTTP thread, which closes its connections
        AtProcessExit  ///< keep them, idle and refusing, until the session is destroyed: the
                       ///< process is about to end without unwinding, and the kernel closes the
                       ///< connections (shutdown.fastExit)
    };

    /// The service's stop token: its stop begins the drain, its cancel aborts all.
    static void connectToken(NetworkSession &session, StopToken *token);
    /// A counter another thread raises when a stop is requested (the signal delivery thread):
    /// from then on nothing new is sent, even before the (maybe busy) event loop has run intake.
    static void setEarlyStop(NetworkSession &session, const std::atomic<int> *counter);
    /// intake: refuse new requests, cancel what has not reached the network, end retry waits.
    static void beginDrain(NetworkSession &session);
    /// cancel: abort everything in flight.
    static void abortAll(NetworkSession &session);
    /// close: abort what is left, flush the cookie jar, report replies never deleted as leaks,
    /// and tear the managers down as \a teardown says. Closed either way: nothing is sent after.
    static void close(NetworkSession &session, Teardown teardown = Teardown::Now);
    /// Updates the ledger's "bytes so far" of the calls in flight (WorkLedger::refresh()).
    static void refreshProgress(NetworkSession &session);
};

} // namespace berth
