// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// One time-slack factor for every upper time bound in the suite ("done within N ms"), so that a
// loaded or sanitized machine widens them all alike instead of each test guessing its own.
// Lower bounds ("not before N ms") and functional timeouts (how long to wait for something at
// all) do not use it: a slow machine cannot make those pass wrongly.
#pragma once

#include <QtCore/QtGlobal>

namespace berth::test {

/// The factor: BERTH_TEST_SLACK (a number >= 1, e.g. 2.5 on a loaded machine) or 1, times 3 in a
/// sanitized build (BERTH_SANITIZED: ASan/UBSan make berth several times slower). Read once.
inline double slack()
{
    static const double factor = [] {
        bool ok = false;
        double f = qEnvironmentVariable("BERTH_TEST_SLACK").toDouble(&ok);
        if (!ok || f < 1)
            f = 1;
#ifdef BERTH_SANITIZED
        f *= 3;
#endif
        return f;
    }();
    return factor;
}

/// An upper bound of \a ms milliseconds, widened by slack().
inline qint64 within(qint64 ms)
{
    return qint64(double(ms) * slack());
}

} // namespace berth::test
