// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The Windows-only seam functions (platform.h, install_p.h) on every other platform: they say
// clearly that they need Windows.
#include "install_p.h"
#include "platform.h"

#include <QtCore/QObject>

using namespace Qt::StringLiterals;

namespace berth::platform {

std::unique_ptr<QObject> connectServiceManager(HostProgress &, const QString &, bool, QString *error)
{
    *error = u"--service is for the Windows Service Control Manager; on %1 run `berth run` under "
             "the service manager as it is (systemd, launchd)"_s.arg(QLatin1String(name()));
    return nullptr;
}

int applyWindowsInstall_sys(const win::InstallPlan &, QString *, QString *error)
{
    *error = u"installing a Windows service needs Windows (this is %1); --print shows what would be "
             "registered"_s.arg(QLatin1String(name()));
    return 2;
}

int removeWindowsService_sys(const QString &, QString *, QString *error)
{
    *error = u"removing a Windows service needs Windows (this is %1)"_s.arg(QLatin1String(name()));
    return 2;
}

} // namespace berth::platform
