// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Tests that need something a machine may lack (a TLS backend in Qt, python3-h2 for the HTTP/2
// server). Run by hand without it, such a test is skipped and says what to install. Under
// tests/run.sh, which installs all of it and sets BERTH_TESTS_STRICT, the same gap is a
// failure: CI never counts a test it did not run as passed.
#pragma once

#include <QtCore/QString>
#include <QtCore/QtGlobal>
#include <QtNetwork/QSslSocket>
#include <QtTest/QTest>

/// Skips (or, under BERTH_TESTS_STRICT, fails) the test unless \a ok; \a why (a QString) says
/// what is missing and how to get it.
#define BERTH_REQUIRE(ok, why)                                                                  \
    do {                                                                                        \
        if (!(ok)) {                                                                            \
            const QString berthWhy_ = (why);                                                    \
            if (qEnvironmentVariableIsSet("BERTH_TESTS_STRICT"))                                \
                QFAIL(qPrintable(QStringLiteral("missing under tests/run.sh, which installs it: ") + berthWhy_)); \
            QSKIP(qPrintable(berthWhy_));                                                       \
        }                                                                                       \
    } while (false)

/// HTTPS on 127.0.0.1 needs Qt's TLS backend (on Debian 12 the OpenSSL one, in libqt6network6).
#define BERTH_REQUIRE_TLS()                                                                     \
    BERTH_REQUIRE(QSslSocket::supportsSsl(),                                                    \
                  QStringLiteral("this Qt has no TLS backend (QSslSocket::supportsSsl() is false); on Debian " \
                                 "12 libqt6network6 brings the OpenSSL one (apt install libqt6network6 libssl3)"))
