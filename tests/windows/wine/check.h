// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The smallest test harness for the Win32 core's tests (no Qt on this side): CHECK prints the
// failed condition with its line and counts it; main() returns failures() as the exit code.
#pragma once

#include "requestchannel_win.h"

#include <windows.h>

#include <cstdio>
#include <string>

namespace berth::test {

inline int &failureCount()
{
    static int n = 0;
    return n;
}

inline bool check(bool ok, const char *expr, const char *file, int line, const std::string &detail = {})
{
    if (!ok) {
        ++failureCount();
        std::fprintf(stderr, "FAIL %s:%d: %s%s%s\n", file, line, expr, detail.empty() ? "" : ": ",
                     detail.c_str());
        std::fflush(stderr);
    }
    return ok;
}

inline void note(const std::string &text)
{
    std::fprintf(stdout, "%s\n", text.c_str());
    std::fflush(stdout);
}

inline int finish(const char *name)
{
    std::fprintf(stdout, "%s: %s (%d failure(s))\n", name, failureCount() ? "FAILED" : "PASSED", failureCount());
    std::fflush(stdout);
    return failureCount() ? 1 : 0;
}

} // namespace berth::test

#define CHECK(cond) ::berth::test::check(bool(cond), #cond, __FILE__, __LINE__)
#define CHECK_MSG(cond, detail) ::berth::test::check(bool(cond), #cond, __FILE__, __LINE__, (detail))
// A Win32 call that returns BOOL: on failure, the message names GetLastError() right after it.
#define CHECK_WIN32(call) \
    [&] { \
        const bool ok_ = bool(call); \
        const DWORD error_ = ok_ ? 0 : GetLastError(); \
        return ::berth::test::check(ok_, #call, __FILE__, __LINE__, \
                                    ok_ ? std::string() : ::berth::win::win32ErrorText(error_)); \
    }()
