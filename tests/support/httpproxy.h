// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpProxy: tests/httpproxy.py (a real forward HTTP proxy on 127.0.0.1: absolute-form requests
// and CONNECT tunnels; or a SOCKS5 proxy; every host it is asked for is reached at 127.0.0.1) in a process of its
// own, its event lines turned into counts. Shared by tst_networkproxy and tst_e2e_proxy.
#pragma once

#include <QtCore/QProcess>
#include <QtCore/QStandardPaths>
#include <QtCore/QStringList>
#include <QtTest/QTest>

namespace berth::proxytest {
using namespace Qt::StringLiterals;

class HttpProxy
{
public:
    ~HttpProxy()
    {
        m_proc.closeWriteChannel();   // the proxy ends with its stdin
        if (!m_proc.waitForFinished(5000))
            m_proc.kill();
    }

    /// \a user: "user:password" every request must carry (else 407); empty: none asked for.
    /// \a socks: a SOCKS5 proxy instead of an HTTP one.
    bool start(QString *why, const QString &user = {}, bool socks = false)
    {
        const QString py = QStandardPaths::findExecutable(u"python3"_s);
        if (py.isEmpty()) {
            *why = u"no python3 on PATH (tests/run.sh installs it)"_s;
            return false;
        }
        m_proc.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        QObject::connect(&m_proc, &QProcess::readyReadStandardOutput, [this] { readLines(); });
        QStringList args{QStringLiteral(BERTH_SOURCE_DIR "/tests/httpproxy.py")};
        if (!user.isEmpty())
            args << u"--user"_s << user;
        if (socks)
            args << u"--socks"_s;
        m_scheme = socks ? u"socks5h"_s : u"http"_s;
        m_proc.start(py, args);
        if (!m_proc.waitForStarted(5000) || !QTest::qWaitFor([this] { return port > 0; }, 10000)) {
            *why = u"tests/httpproxy.py did not start: "_s + m_proc.errorString();
            return false;
        }
        return true;
    }

    /// The proxy's URL, with \a userInfo ("user:password") when given; \a scheme: the one
    /// start() chose (http, or socks5h for --socks) unless given.
    QString url(const QString &userInfo = {}, const QString &scheme = {}) const
    {
        return (scheme.isEmpty() ? m_scheme : scheme) + u"://"_s
            + (userInfo.isEmpty() ? QString() : userInfo + u'@') + u"127.0.0.1:"_s
            + QString::number(port);
    }

    int port = 0;
    QStringList requests;   ///< "METHOD target" of each forwarded request
    QStringList tunnels;    ///< "host:port" of each CONNECT
    QStringList auth;       ///< the credentials of each forwarded request or tunnel ("-": none)
    int refused = 0;        ///< answered 407

private:
    void readLines()
    {
        while (m_proc.canReadLine()) {
            const QList<QByteArray> w = m_proc.readLine().trimmed().split(' ');
            if (w.value(0) == "listening") {
                port = w.value(1).toInt();
            } else if (w.value(0) == "request") {
                requests << QString::fromLatin1(w.value(2) + ' ' + w.value(3));
                auth << QString::fromUtf8(w.value(4));
            } else if (w.value(0) == "tunnel") {
                tunnels << QString::fromLatin1(w.value(2));
                auth << QString::fromUtf8(w.value(3));
            } else if (w.value(0) == "refused") {
                ++refused;
            }
        }
    }

    QProcess m_proc;
    QString m_scheme = u"http"_s;
};

} // namespace berth::proxytest
