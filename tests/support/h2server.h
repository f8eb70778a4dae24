// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// H2Server: tests/h2server.py (a real HTTP/2 server on 127.0.0.1, TLS with ALPN, hyper-h2) in a
// process of its own, its event lines turned into counts. Shared by tst_networkhttp2,
// tst_networkgoaway, tst_networkproxy and tst_e2e_http2.
#pragma once

#include "tests/support/prerequisite.h"

#include <QtCore/QFileInfo>
#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QStringList>
#include <QtCore/QUrl>
#include <QtTest/QTest>

namespace berth::h2test {
using namespace Qt::StringLiterals;

/// tests/h2server.py in a process of its own, its stdout turned into counts.
class H2Server
{
public:
    ~H2Server()
    {
        m_proc.closeWriteChannel();   // the server ends with its stdin
        if (!m_proc.waitForFinished(5000))
            m_proc.kill();
    }

    /// The interpreter with the h2 module (python3-h2): Debian's, then the first on PATH.
    static QString python()
    {
        QStringList candidates{u"/usr/bin/python3"_s};
        const QString onPath = QStandardPaths::findExecutable(u"python3"_s);
        if (!onPath.isEmpty())
            candidates << onPath;
        for (const QString &p : std::as_const(candidates)) {
            if (QFileInfo(p).isExecutable()
                && QProcess::execute(p, {u"-c"_s, u"import h2.connection"_s}) == 0)
                return p;
        }
        return {};
    }

    /// \a maxStreams: the SETTINGS_MAX_CONCURRENT_STREAMS the server announces (0: hyper-h2's
    /// 100; -1: no HTTP/2 at all, ALPN offers only HTTP/1.1).
    /// Whether this machine can run the server at all: a missing prerequisite is a skip, with
    /// what to install in \a why; a server that has what it needs and still fails is a failure.
    bool available(QString *why) const
    {
        if (!python().isEmpty())
            return true;
        *why = u"the HTTP/2 test server (tests/h2server.py) needs python3 with the h2 module: apt install python3-h2"_s;
        return false;
    }

    /// \a latencyMs: a round trip that long, through a relay in front of the server (every
    /// byte both ways, the TLS handshake included). \a goawayAfter, \a refuseAbove,
    /// \a goawayLingerMs: see tests/h2server.py (--goaway-after, --refuse-above, --goaway-linger).
    bool start(QString *why, int maxStreams = 0, int latencyMs = 0, int goawayAfter = 0, int refuseAbove = 0,
               int goawayLingerMs = 0)
    {
        if (!available(why))
            return false;
        const QString py = python();
        m_proc.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QObject::connect(&m_proc, &QProcess::readyReadStandardOutput, [this] { readLines(); });
        QStringList args{QStringLiteral(BERTH_SOURCE_DIR "/tests/h2server.py"),
                         QStringLiteral(BERTH_SOURCE_DIR "/tests/data/server.pem"),
                         QStringLiteral(BERTH_SOURCE_DIR "/tests/data/server.key")};
        if (maxStreams > 0)
            args << u"--max-streams"_s << QString::number(maxStreams);
        else if (maxStreams < 0)
            args << u"--no-h2"_s;
        if (latencyMs > 0)
            args << u"--latency"_s << QString::number(latencyMs);
        if (goawayAfter > 0)
            args << u"--goaway-after"_s << QString::number(goawayAfter);
        if (refuseAbove > 0)
            args << u"--refuse-above"_s << QString::number(refuseAbove);
        if (goawayLingerMs > 0)
            args << u"--goaway-linger"_s << QString::number(goawayLingerMs);
        m_proc.start(py, args);
        if (!m_proc.waitForStarted(5000) || !QTest::qWaitFor([this] { return port > 0; }, 10000)) {
            *why = u"tests/h2server.py did not start: "_s + m_proc.errorString();
            return false;
        }
        return true;
    }

    QUrl url(const QString &path) const { return QUrl(u"https://127.0.0.1:%1%2"_s.arg(port).arg(path)); }

    int port = 0;
    QStringList protocols;   ///< per connection, in order
    int requests = 0;
    QList<qint64> arrivals;  ///< of each request, ms since the epoch (the server's clock)
    int answered = 0;
    int resets = 0;          ///< streams the client reset while their answer was pending
    int closedPending = 0;   ///< requests pending when their connection closed
    int closed = 0;
    int errors = 0;          ///< connections the server closed because the client broke HTTP/2
    int goaways = 0;         ///< graceful GOAWAYs the server sent (--goaway-after)
    int refused = 0;         ///< streams refused before processing (--refuse-above)

private:
    void readLines()
    {
        while (m_proc.canReadLine()) {
            const QList<QByteArray> w = m_proc.readLine().trimmed().split(' ');
            if (w.value(0) == "listening")
                port = w.value(1).toInt();
            else if (w.value(0) == "conn")
                protocols << QString::fromLatin1(w.value(2));
            else if (w.value(0) == "req") {
                ++requests;
                arrivals << w.value(4).toLongLong();
            }
            else if (w.value(0) == "done")
                ++answered;
            else if (w.value(0) == "reset")
                ++resets;
            else if (w.value(0) == "error")
                ++errors;
            else if (w.value(0) == "goaway")
                ++goaways;
            else if (w.value(0) == "refused")
                ++refused;
            else if (w.value(0) == "closed") {
                ++closed;
                closedPending += w.value(2).toInt();
            }
        }
    }

    QProcess m_proc;
};

} // namespace berth::h2test
