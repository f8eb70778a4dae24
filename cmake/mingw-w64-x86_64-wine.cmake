# Copyright (c) Berth authors. SPDX-License-Identifier: MIT
# Cross-compiles for 64-bit Windows with mingw-w64 (Debian: g++-mingw-w64-x86-64) and runs the
# resulting .exe tests under wine (ctest uses CMAKE_CROSSCOMPILING_EMULATOR).
# The -posix compilers: the default (win32 thread model) ones have no std::thread / std::mutex.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Static: the .exe then needs only KERNEL32, ADVAPI32, USER32 and msvcrt, which wine provides.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
find_program(BERTH_WINE wine REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${BERTH_WINE})
