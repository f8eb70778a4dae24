// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// LogCapture: the log lines written while it lives, passed on to Qt Test's handler too. Shared
// by tst_httpfixturelifecycle (the port a service logs) and tst_networkproxy (what a session
// says of its proxy, and that the password is not in it).
#pragma once

#include <QtCore/QRegularExpression>
#include <QtCore/QStringList>

namespace berth::testutil {

class LogCapture
{
public:
    LogCapture() { s_lines.clear(); s_previous = qInstallMessageHandler(handler); }
    ~LogCapture() { qInstallMessageHandler(s_previous); }
    LogCapture(const LogCapture &) = delete;
    LogCapture &operator=(const LogCapture &) = delete;

    /// Every line so far, joined.
    static QString text() { return s_lines.join(u'\n'); }
    /// The \a group of the first line that matches \a re; empty if none does.
    static QString find(const QRegularExpression &re, int group)
    {
        for (const QString &line : std::as_const(s_lines)) {
            if (const auto m = re.match(line); m.hasMatch())
                return m.captured(group);
        }
        return {};
    }

private:
    static void handler(QtMsgType type, const QMessageLogContext &ctx, const QString &msg)
    {
        s_lines.append(msg);
        s_previous(type, ctx, msg);
    }
    static inline QStringList s_lines;
    static inline QtMessageHandler s_previous = nullptr;
};

} // namespace berth::testutil
