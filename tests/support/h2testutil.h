// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// What the HTTP/2 tests share: the test server, started or skipped, and session options that
// trust its CA.
#pragma once

#include "tests/support/h2server.h"
#include "tests/support/networktestutil.h"

#include <QtTest/QTest>

#include <memory>

namespace berth::h2test {

#ifdef BERTH_SANITIZED
constexpr bool SlowBuild = true;   // 10-20x slower: answers wait longer so that all are out first
#else
constexpr bool SlowBuild = false;
#endif

/// Trusts the test CA; \a inFlight calls at once to one host (0: the defaults).
inline NetworkOptions h2Options(int inFlight = 0)
{
    NetworkOptions o = nettest::quickOptions();
    o.caBundle = QStringLiteral(BERTH_SOURCE_DIR "/tests/data/ca.pem");
    o.retry.attempts = 1;
    if (inFlight > 0)
        o.maxConcurrent = o.connectionsPerHost = inFlight;
    return o;
}

/// A test's init(): the server, started with its defaults unless \a start is false (the test
/// starts it with options of its own), or the test skipped where TLS or hyper-h2 is missing.
inline void startH2Server(std::unique_ptr<H2Server> &server, bool start = true)
{
    BERTH_REQUIRE_TLS();
    server = std::make_unique<H2Server>();
    QString why;
    BERTH_REQUIRE(server->available(&why), why);
    if (start)
        QVERIFY2(server->start(&why), qPrintable(why));
}

} // namespace berth::h2test
