// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The public durations and sizes (berth/configvalue.h): what the host's validator and every
// service read from a configuration.
#include <berth/configvalue.h>

#include "config/configvalidate_p.h"

#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>

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

/// The decimal number a duration or size starts with: digits, then maybe '.' and digits.
struct Decimal
{
    qsizetype intDigits = 0;
    qsizetype fracDigits = 0;
    qsizetype end = 0;   ///< where the unit begins
    bool ok() const { return intDigits > 0 && (end == intDigits || fracDigits > 0); }
};

Decimal scanDecimal(const QString &text)
{
    Decimal d;
    while (d.end < text.size() && isDigit(text.at(d.end)))
        ++d.end;
    d.intDigits = d.end;
    if (d.end < text.size() && text.at(d.end) == u'.') {
        ++d.end;
        while (d.end < text.size() && isDigit(text.at(d.end)))
            ++d.end, ++d.fracDigits;
    }
    return d;
}

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

    const Decimal dec = scanDecimal(text);
    const qsizetype intDigits = dec.intDigits, fracDigits = dec.fracDigits;
    if (!dec.ok()) {
        return failWith(u"not a duration; write a number and a unit (ms, s, m or h), "
                        "e.g. \"250ms\" or \"1.5s\""_s);
    }
    const QString number = text.left(dec.end);
    const QString unitText = text.mid(dec.end);
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

namespace {

struct SizeUnit
{
    QLatin1StringView name;
    qint64 bytes;
};

constexpr SizeUnit SizeUnits[] = {
    {"B"_L1, 1},
    {"kB"_L1, 1000},
    {"KiB"_L1, 1024},
    {"MB"_L1, 1000 * 1000},
    {"MiB"_L1, 1024 * 1024},
    {"GB"_L1, 1000 * 1000 * 1000},
    {"GiB"_L1, 1024 * 1024 * 1024},
};

// Far beyond any body a service keeps in memory, and far from overflow.
constexpr qint64 MaxBytes = 1024ll * 1024 * 1024 * 1024;

} // namespace

bool parseByteSize(const QString &text, qint64 *out, QString *error)
{
    const auto failWith = [error](const QString &message) {
        if (error)
            *error = message;
        return false;
    };
    const QString accepted = u"write a number of bytes or a number and a unit (B, kB, KiB, MB, MiB, GB, GiB), "
                             u"e.g. \"512KiB\" or \"64MiB\"; \"0\" for none"_s;
    if (text.startsWith(u'-'))
        return failWith(u"negative sizes are not allowed"_s);
    const Decimal dec = scanDecimal(text);
    const qsizetype intDigits = dec.intDigits, fracDigits = dec.fracDigits;
    if (!dec.ok())
        return failWith(u"not a size; "_s + accepted);
    const QString unitText = text.mid(dec.end).trimmed();
    const SizeUnit *unit = unitText.isEmpty() ? &SizeUnits[0] : nullptr;
    for (const SizeUnit &u : SizeUnits) {
        if (unitText == u.name)
            unit = &u;
    }
    if (!unit)
        return failWith(u"unknown unit \"%1\"; "_s.arg(unitText) + accepted);
    const QString tooLarge = u"too large; the maximum is 1024GiB"_s;
    if (intDigits > 13 || fracDigits > 9)
        return failWith(intDigits > 13 ? tooLarge : u"too many decimal places"_s);
    const qint64 whole = text.left(intDigits).toLongLong();
    qint64 scale = 1;
    for (qsizetype k = 0; k < fracDigits; ++k)
        scale *= 10;
    const qint64 fraction = fracDigits ? text.mid(intDigits + 1, fracDigits).toLongLong() : 0;
    if (whole > MaxBytes / unit->bytes)
        return failWith(tooLarge);
    // Exact: "1.5KiB" is 1536 bytes; "1.3B" is not a size.
    if ((fraction * unit->bytes) % scale != 0)
        return failWith(u"sizes are whole bytes; \"%1\" is not"_s.arg(text));
    const qint64 total = whole * unit->bytes + fraction * unit->bytes / scale;
    if (total > MaxBytes)
        return failWith(tooLarge);
    *out = total;
    return true;
}

QString formatByteSize(qint64 bytes)
{
    for (const qint64 unit : {1024ll * 1024 * 1024, 1024ll * 1024, 1024ll}) {
        if (bytes >= unit && bytes % unit == 0)
            return QString::number(bytes / unit) + (unit == 1024 ? u"KiB"_s : unit == 1024 * 1024 ? u"MiB"_s : u"GiB"_s);
    }
    return QString::number(bytes) + (bytes == 1 ? u" byte"_s : u" bytes"_s);
}

namespace {

/// What parseByteSize reads from a config value: a string, or a whole number as its digits.
QString sizeText(const QJsonValue &value)
{
    return value.isString() ? value.toString() : QString::number(value.toInteger());
}

} // namespace

QString checkByteSize(const QJsonValue &value)
{
    if (!value.isString() && !configdetail::isWholeNumber(value)) {
        return u"expected a size such as \"64MiB\" or a whole number of bytes, got %1"_s
            .arg(value.isDouble() ? QString::number(value.toDouble()) : configdetail::typeName(value));
    }
    qint64 bytes = 0;
    QString why;
    return parseByteSize(sizeText(value), &bytes, &why) ? QString() : why;
}

Millis durationValue(const QJsonObject &config, const QString &key, Millis fallback)
{
    const QJsonValue value = config.value(key);
    Millis ms = fallback;
    if (value.isString())
        parseDuration(value.toString(), &ms);
    return ms;
}

qint64 byteSizeValue(const QJsonObject &config, const QString &key, qint64 fallback)
{
    const QJsonValue value = config.value(key);
    qint64 bytes = fallback;
    if (value.isString() || configdetail::isWholeNumber(value))
        parseByteSize(sizeText(value), &bytes);
    return bytes;
}

} // namespace berth
