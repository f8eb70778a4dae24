// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The phases' budgets from one deadline. A user who sets only the deadline (the one number
// every supervisor asks for: systemd's TimeoutStopSec, Kubernetes' grace period, .NET's
// ShutdownTimeout) gets a split that works from 500ms up: drain, where work finishes and
// nothing is lost, gets the largest share (half); cancel, where cancelled work winds down,
// a fifth; join, where services still report stopped, the rest but the reserve. At the
// default deadline of 10s that is drain 5s and cancel 2s, the fixed defaults of before.
#include "config/config.h"

#include <algorithm>

using namespace Qt::StringLiterals;

namespace berth {

ShutdownBudgets shutdownBudgets(const ShutdownConfig &c, Millis deadline)
{
    const Millis zero{0};
    ShutdownBudgets b;
    b.reserve = std::min(c.reserveGiven ? c.reserve : Millis(250), deadline / 4);
    const Millis end = std::max(zero, deadline - b.reserve);   // every phase is over by then
    b.intakeDelay = std::min(c.intakeDelay, end);
    const Millis afterIntake = deadline - b.intakeDelay;
    Millis left = end - b.intakeDelay;
    // A given cancel keeps its room when drain is the one derived.
    const Millis cancelWanted = c.cancelGiven ? c.cancel : afterIntake / 5;
    const Millis drainWanted = c.drainGiven ? c.drain : std::min(afterIntake / 2, std::max(zero, left - cancelWanted));
    b.drain = std::min(drainWanted, left);
    left -= b.drain;
    b.cancel = std::min(cancelWanted, left);
    b.join = left - b.cancel;
    return b;
}

QString describeBudgets(const ShutdownConfig &c, Millis deadline)
{
    const ShutdownBudgets b = shutdownBudgets(c, deadline);
    QStringList derived;
    if (!c.drainGiven)
        derived << u"drain"_s;
    if (!c.cancelGiven)
        derived << u"cancel"_s;
    if (!c.reserveGiven)
        derived << u"reserve"_s;
    QString text = u"deadline %1: "_s.arg(formatDuration(deadline));
    if (b.intakeDelay.count() > 0)
        text += u"intake %1, "_s.arg(formatDuration(b.intakeDelay));
    text += u"drain %1, cancel %2, join %3, reserve %4"_s.arg(formatDuration(b.drain), formatDuration(b.cancel),
                                                             formatDuration(b.join), formatDuration(b.reserve));
    if (!derived.isEmpty()) {
        const QString names = derived.size() == 1 ? derived.first()
            : derived.mid(0, derived.size() - 1).join(u", "_s) + u" and "_s + derived.last();
        text += u" (%1 %2 the deadline)"_s.arg(names, derived.size() == 1 ? u"follows"_s : u"follow"_s);
    }
    return text;
}

} // namespace berth
