// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "config.h"

#include <limits>

using namespace Qt::StringLiterals;

namespace berth {

namespace {

struct Unit
{
    QLatin1StringView name;
    qint64 ms;
};

constexpr Unit Units[] = {
    {"ms"_L1, 1},
    {"s"_L1, 1000},
    {"m"_L1, 60 * 1000},
    {"h"_L1, 60 * 60 * 1000},
};

// Timers take int milliseconds, so nothing longer is representable downstream.
constexpr qint64 MaxMs = std::numeric_limits<int>::max();

bool isDigit(QChar c) { return c >= u'0' && c <= u'9'; }

} // namespace

bool parseDuration(const QString &text, Millis *out, QString *error)
{
    const auto failWith = [error](const QString &message) {
        if (error)
            *error = message;
        return false;
    };
    if (text.isEmpty())
        return failWith(u"empty duration; use e.g. \"250ms\", \"10s\", \"2m\" or \"1h\""_s);
    if (text == u"0"_s) {
        *out = Millis(0);
        return true;
    }
    if (text.startsWith(u'-'))
        return failWith(u"negative durations are not allowed"_s);

    qsizetype i = 0;
    while (i < text.size() && isDigit(text.at(i)))
        ++i;
    const qsizetype intDigits = i;
    qsizetype fracDigits = 0;
    if (i < text.size() && text.at(i) == u'.') {
        ++i;
        while (i < text.size() && isDigit(text.at(i)))
            ++i, ++fracDigits;
    }
    if (intDigits == 0 || (i > intDigits && fracDigits == 0)) {
        return failWith(u"not a duration; write a number and a unit (ms, s, m or h), "
                        "e.g. \"250ms\" or \"1.5s\""_s);
    }
    const QString number = text.left(i);
    const QString unitText = text.mid(i);
    if (unitText.isEmpty())
        return failWith(u"missing unit; write \"%1s\" or \"%1ms\""_s.arg(number));

    const Unit *unit = nullptr;
    for (const Unit &u : Units) {
        if (unitText == u.name)
            unit = &u;
    }
    if (!unit)
        return failWith(u"unknown unit \"%1\"; use ms, s, m or h"_s.arg(unitText));

    // Exact integer arithmetic: "1.5s" must be 1500ms, not 1499.9999.
    const QString tooLarge = u"too large; the maximum is %1ms (about 24 days)"_s.arg(MaxMs);
    if (intDigits > 10 || fracDigits > 9)
        return failWith(intDigits > 10 ? tooLarge : u"too many decimal places"_s);
    const qint64 whole = number.left(intDigits).toLongLong();
    qint64 fraction = fracDigits ? number.mid(intDigits + 1).toLongLong() : 0;
    qint64 scale = 1;
    for (qsizetype k = 0; k < fracDigits; ++k)
        scale *= 10;
    const qint64 fractionMs = fraction * unit->ms;
    if (fractionMs % scale != 0)
        return failWith(u"durations are whole milliseconds; \"%1\" is not"_s.arg(text));
    const qint64 total = whole * unit->ms + fractionMs / scale;
    if (total > MaxMs)
        return failWith(tooLarge);
    *out = Millis(total);
    return true;
}

QString formatDuration(Millis ms)
{
    qint64 v = ms.count();
    if (v < 0)
        return u'-' + formatDuration(Millis(-v));
    if (v == 0)
        return u"0ms"_s;
    for (qsizetype k = std::size(Units) - 1; k > 0; --k) {
        if (v % Units[k].ms == 0)
            return QString::number(v / Units[k].ms) + Units[k].name;
    }
    if (v >= 1000 && v % 10 == 0) {
        QString frac = QString::number(v % 1000).rightJustified(3, u'0');
        while (frac.endsWith(u'0'))
            frac.chop(1);
        return QString::number(v / 1000) + u'.' + frac + u's';
    }
    return QString::number(v) + u"ms"_s;
}

} // namespace berth
