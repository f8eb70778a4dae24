// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "engine/logging.h"

Q_LOGGING_CATEGORY(lcHost, "berth.host", QtInfoMsg)
Q_LOGGING_CATEGORY(lcShutdown, "berth.shutdown", QtInfoMsg)
Q_LOGGING_CATEGORY(lcConfig, "berth.config", QtInfoMsg)

namespace berth {

void installLogFormat()
{
    if (qEnvironmentVariableIsSet("QT_MESSAGE_PATTERN"))
        return;
    qSetMessagePattern(QStringLiteral(
        "%{time yyyy-MM-ddThh:mm:ss.zzz} %{if-debug}D%{endif}%{if-info}I%{endif}"
        "%{if-warning}W%{endif}%{if-critical}E%{endif}%{if-fatal}F%{endif} [%{category}] %{message}"));
}

} // namespace berth
