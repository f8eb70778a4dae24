# Copyright (c) Berth authors. SPDX-License-Identifier: MIT
# The Windows core: plain Win32 + standard C++, no Qt. Included by platform/CMakeLists.txt (the
# Qt build) and by tests/windows/wine (the mingw-w64 cross build that runs under wine).
set(_core ${CMAKE_CURRENT_LIST_DIR})
# Platform-free: built and unit-tested on every platform (`install --print` works everywhere).
set(BERTH_WINCORE_PORTABLE_SOURCES
    ${_core}/consoleevents.h ${_core}/consoleevents.cpp
    ${_core}/installplan.h ${_core}/installplan.cpp
    ${_core}/rotatingfile.h ${_core}/rotatingfile.cpp
    ${_core}/scmprogress.h ${_core}/scmprogress.cpp)
# Win32 only.
set(BERTH_WINCORE_WIN32_SOURCES
    ${_core}/consolehandler_win.h ${_core}/consolehandler_win.cpp
    ${_core}/eventlog_win.h ${_core}/eventlog_win.cpp
    ${_core}/requestchannel_win.h ${_core}/requestchannel_win.cpp
    ${_core}/scminstall_win.h ${_core}/scminstall_win.cpp
    ${_core}/scmservice_win.h ${_core}/scmservice_win.cpp)
# Definitions every Win32 translation unit of the core takes.
set(BERTH_WINCORE_DEFINITIONS UNICODE _UNICODE WIN32_LEAN_AND_MEAN NOMINMAX _WIN32_WINNT=0x0A00)
set(BERTH_WINCORE_LIBS advapi32 user32)
unset(_core)
