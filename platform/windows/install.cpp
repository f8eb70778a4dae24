// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// `berth install <target>` / `berth uninstall <target>` (platform.h), on every platform: the
// plan, and --print, need no Windows; applying it does (install_p.h).
#include "install_p.h"
#include "platform.h"

#include <QtCore/QDir>

using namespace Qt::StringLiterals;

namespace berth::platform {

namespace {
bool knownTarget(const ServiceInstall &request, QString *error)
{
    if (request.target == u"windows-service")
        return true;
    *error = u"unknown install target \"%1\" (expected windows-service)"_s.arg(request.target);
    return false;
}
} // namespace

int installService(const ServiceInstall &request, QString *output, QString *error)
{
    if (!knownTarget(request, error))
        return 2;
    win::InstallOptions options;
    options.name = request.name.isEmpty() ? std::string("berth") : request.name.toStdString();
    options.executable = QDir::toNativeSeparators(request.executable).toStdString();
    options.configFile = QDir::toNativeSeparators(request.configFile).toStdString();
    options.account = request.account.toStdString();
    options.delayedAutoStart = request.delayedAutoStart;
    options.deadlineMs = request.deadline.count();
    win::InstallPlan plan;
    std::string message;
    if (!win::makeInstallPlan(options, &plan, &message)) {
        *error = QString::fromStdString(message);
        return 2;
    }
    if (request.printOnly) {
        *output = u"would register this Windows service (nothing was changed):\n"_s
            + QString::fromStdString(plan.render());
        return 0;
    }
    return applyWindowsInstall_sys(plan, output, error);
}

int uninstallService(const ServiceInstall &request, QString *output, QString *error)
{
    if (!knownTarget(request, error))
        return 2;
    const QString name = request.name.isEmpty() ? u"berth"_s : request.name;
    if (request.printOnly) {
        *output = u"would stop (if running) and remove the Windows service \"%1\" (nothing was changed)"_s.arg(name);
        return 0;
    }
    return removeWindowsService_sys(name, output, error);
}

} // namespace berth::platform
