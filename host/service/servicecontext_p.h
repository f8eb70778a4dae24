// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's own controls of a service's context: a new config after a reload, a fresh stop
// token on a restart, the close phase. Not for services (a service that ran its own close
// callbacks would close what the host still needs).
#pragma once

#include <berth/servicecontext.h>

namespace berth {

struct ServiceContext::Control
{
    /// Replaces the config after a reload.
    static void setConfig(ServiceContext &context, const QJsonObject &config);
    /// The service's "network" settings, for the session network() creates; \a earlyStop: see
    /// NetworkSession's early stop (a counter raised on another thread the moment a stop is noted).
    static void setNetworkOptions(ServiceContext &context, const NetworkOptions &options,
                                  const std::atomic<int> *earlyStop = nullptr);
    /// The process ends right after this close: sessions leave their idle managers to the exit
    /// instead of tearing their connections down (shutdown.fastExit).
    static void setProcessExitsAfterClose(ServiceContext &context, bool exits);
    /// Runs the onClose callbacks, newest first; returns what they threw.
    static QStringList runCloseCallbacks(ServiceContext &context);
    /// A fresh stop token for a restarted instance.
    static void resetToken(ServiceContext &context);
};

} // namespace berth
