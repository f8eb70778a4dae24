// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's own controls of the work ledger, driven by the shutdown phases. Not for services:
// a service that could close its own ledger entries would hide the work it leaves pending.
#pragma once

#include <berth/workledger.h>

namespace berth {

struct WorkLedger::Control
{
    /// Cancels every pending entry of \a service; entries added later are cancelled as soon as
    /// the ledger's thread returns to its event loop. Returns how many were asked to cancel.
    static int cancelService(WorkLedger &ledger, const QString &service);
    /// Marks \a service as stopping: entries finishing from now on count as drained.
    static void markStopping(WorkLedger &ledger, const QString &service);
    /// Closes \a service: whatever is still pending is counted as leaked and forgotten.
    static QList<WorkEntry> closeService(WorkLedger &ledger, const QString &service);
};

} // namespace berth
