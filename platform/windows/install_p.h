// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The system half of `berth install windows-service`: defined in platform_win.cpp on Windows and
// in nonwindows.cpp elsewhere (where it explains that it needs Windows). install.cpp builds the
// plan (platform-free) and calls these.
#pragma once

#include "installplan.h"

#include <QtCore/QString>

namespace berth::platform {

int applyWindowsInstall_sys(const win::InstallPlan &plan, QString *output, QString *error);
int removeWindowsService_sys(const QString &name, QString *output, QString *error);

} // namespace berth::platform
