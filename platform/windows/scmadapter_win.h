// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// `berth run --service`: reports the host's real progress (HostProgress) to the SCM
// (ScmService, in the Win32 core) and sends the log to a rotating file. Compiled only on Windows.
#pragma once

#include "eventlog_win.h"
#include "rotatingfile.h"

#include <QtCore/QObject>

#include <memory>

namespace berth {
class HostProgress;
}

namespace berth::platform {

class ScmAdapter : public QObject
{
public:
    ScmAdapter(HostProgress &progress, std::unique_ptr<win::RotatingFile> log, std::unique_ptr<win::EventLog> events);
    ~ScmAdapter() override;
};

} // namespace berth::platform
