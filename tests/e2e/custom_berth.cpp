// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What a user's main() looks like: the berth command line plus their own service type.
#include "readme_example.h"

#include <berth/application.h>
#include <berth/serviceregistry.h>

int main(int argc, char **argv)
{
    return berth::runApplication(argc, argv, [](berth::ServiceRegistry &types) {
        types.add({QStringLiteral("poller"), QStringLiteral("the README's example service"), {},
                   [] { return std::make_unique<Poller>(); }});
    });
}
