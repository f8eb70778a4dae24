// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Built against an installed Berth by tests/install/run.cmake.
#include <berth/application.h>
#include <berth/configvalue.h>
#include <berth/service.h>
#include <berth/serviceregistry.h>

class Hello : public berth::Service
{
    Q_OBJECT
protected:
    void start() override
    {
        // The installed package carries the config readers.
        if (berth::durationValue({}, QStringLiteral("interval"), berth::Millis(250)).count() != 250)
            reportFailed(QStringLiteral("durationValue"));
        else
            reportReady();
    }
};

int main(int argc, char **argv)
{
    return berth::runApplication(argc, argv, [](berth::ServiceRegistry &types) {
        types.add({QStringLiteral("hello"), QStringLiteral("the smallest service there is"), {},
                   [] { return std::make_unique<Hello>(); }});
    });
}

#include "main.moc"
