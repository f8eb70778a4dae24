// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QLoggingCategory>

Q_DECLARE_LOGGING_CATEGORY(lcHost)      // berth.host
Q_DECLARE_LOGGING_CATEGORY(lcShutdown)  // berth.shutdown
Q_DECLARE_LOGGING_CATEGORY(lcConfig)    // berth.config

namespace berth {
/// Every log line: wall-clock time with milliseconds, the category (which names the component or
/// "berth.service.<name>"), the level and the message. QT_MESSAGE_PATTERN still overrides.
void installLogFormat();
} // namespace berth
