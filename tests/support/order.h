// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Checks that lines (or events) come in a given order, and fails when one of them is missing:
// `indexOf(a) < indexOf(b)` alone passes when a is absent (-1). A test that wants a line to be
// absent says so explicitly (`QVERIFY(!text.contains(x))`).
#pragma once

#include <QtCore/QString>
#include <QtCore/QStringList>
#include <QtTest/QTest>

#include <initializer_list>

namespace berth::test {

namespace detail {
template <typename Find>
QString orderProblem(std::initializer_list<QString> needles, Find find, const QString &context)
{
    qsizetype previous = -1;
    const QString *previousNeedle = nullptr;
    for (const QString &needle : needles) {
        const qsizetype at = find(needle);
        if (at < 0)
            return QStringLiteral("missing: \"%1\"\n%2").arg(needle, context);
        if (previousNeedle && at <= previous)
            return QStringLiteral("out of order: \"%1\" (at %2) is not after \"%3\" (at %4)\n%5").arg(
                needle, QString::number(at), *previousNeedle, QString::number(previous), context);
        previous = at;
        previousNeedle = &needle;
    }
    return {};
}
} // namespace detail

/// Empty if the first occurrence of each of \a needles in \a text is present and after the
/// previous one's; otherwise what is missing or out of order (followed by \a text).
inline QString orderProblem(const QString &text, std::initializer_list<QString> needles)
{
    return detail::orderProblem(needles, [&](const QString &n) { return text.indexOf(n); }, text);
}

/// The same for a list of events, matched whole: \a needles in that order in \a events.
inline QString orderProblem(const QStringList &events, std::initializer_list<QString> needles)
{
    return detail::orderProblem(needles, [&](const QString &n) { return events.indexOf(n); },
                                events.join(u'\n'));
}

} // namespace berth::test

/// QVERIFY_ORDER(text, {u"a"_s, u"b"_s, u"c"_s}): each is there, and in that order.
#define QVERIFY_ORDER(haystack, ...)                                                            \
    do {                                                                                        \
        const QString berthOrderProblem_ = berth::test::orderProblem((haystack), __VA_ARGS__);   \
        QVERIFY2(berthOrderProblem_.isEmpty(), qPrintable(berthOrderProblem_));                 \
    } while (false)
