// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include <berth/application.h>

int main(int argc, char **argv)
{
    return berth::runApplication(argc, argv);
}
