#!/usr/bin/env bash
# The Windows core, cross-compiled with mingw-w64 and tested under wine (tests/run.sh windows).
# Installs what is missing (Debian 12, as root): g++-mingw-w64-x86-64, wine64, wine.
# Builds in build-win/ with its own wine prefix there. No X display is used.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${BERTH_WIN_BUILD:-$root/build-win}

missing=()
command -v x86_64-w64-mingw32-g++-posix >/dev/null || missing+=(g++-mingw-w64-x86-64)
command -v wine >/dev/null || missing+=(wine64 wine)
if [ ${#missing[@]} -gt 0 ]; then
    echo "=== installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null \
        || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; }
fi
command -v cmake >/dev/null && command -v ninja >/dev/null || "$root/installer/deps.sh"

unset DISPLAY WAYLAND_DISPLAY
export WINEDEBUG=-all WINEPREFIX="$build/wineprefix"
echo "=== windows (mingw-w64) build"
cmake -S "$root/tests/windows/wine" -B "$build" -G Ninja \
      -DCMAKE_TOOLCHAIN_FILE="$root/cmake/mingw-w64-x86_64-wine.cmake" -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build "$build" -j2
if [ ! -f "$WINEPREFIX/.berth-ready" ]; then
    echo "=== creating the wine prefix"
    # wineboot returns before the prefix is complete when its first run is slow (wine waits for
    # the boot event with a timeout, then goes on): wait for every wine process of the prefix to
    # end before using it. A prefix that still cannot run reg.exe is made again from scratch;
    # what wine said is shown if the last try fails too (exit 53 is STATUS_DLL_NOT_FOUND).
    ready=
    for attempt in 1 2 3; do
        wine wineboot -i </dev/null >"$build/wineboot.log" 2>&1 || true
        wineserver -w
        # No X server: wine's null display driver still lets the session-window test create its
        # (never shown) top-level window.
        rc=0
        wine reg add 'HKCU\Software\Wine\Drivers' /v Graphics /d null /f \
            </dev/null >>"$build/wineboot.log" 2>&1 || rc=$?
        wineserver -w
        if [ $rc -eq 0 ]; then ready=1; break; fi
        echo "wine prefix: try $attempt failed (reg.exe exit $rc); making it again"
        wineserver -k 2>/dev/null || true
        wineserver -w 2>/dev/null || true
        rm -rf "$WINEPREFIX"
    done
    if [ -z "$ready" ]; then
        echo "tests/windows/run.sh: could not create the wine prefix $WINEPREFIX; wine said:" >&2
        tail -n 40 "$build/wineboot.log" >&2
        df -h "$build" >&2
        exit 1
    fi
    touch "$WINEPREFIX/.berth-ready"
fi
# The Qt adapter (platform_win.cpp, scmadapter_win.cpp) is built only on Windows: compile-check it
# against the Qt 6 headers at hand, as mingw sees them (Q_OS_WIN), so a slip shows up here first.
qt=/usr/include/x86_64-linux-gnu/qt6
if [ -d "$qt/QtCore" ]; then
    echo "=== windows Qt adapter: syntax check"
    for f in platform_win.cpp scmadapter_win.cpp; do
        x86_64-w64-mingw32-g++-posix -std=c++20 -fsyntax-only -Wall -Wextra -Werror -Wno-unused-parameter \
            -Wno-attributes -DUNICODE -D_UNICODE -DWIN32_LEAN_AND_MEAN -DNOMINMAX -DQT_NO_KEYWORDS \
            -DQT_NO_CAST_FROM_ASCII -DQT_NO_CAST_TO_ASCII -DQT_USE_QSTRINGBUILDER \
            -I"$root/platform" -I"$root/platform/windows/core" -I"$root/host/include" \
            -I"$qt" -I"$qt/QtCore" "$root/platform/windows/$f"
    done
fi
echo "=== windows tests (wine)"
status=0
(cd "$build" && ctest --output-on-failure --timeout 300) || status=$?
# Leave no wineserver (and its services.exe) running behind.
wineserver -k 2>/dev/null || true
exit $status
