// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's cookie jar. Private to host/; not installed.
#pragma once

#include <QtCore/QDateTime>
#include <QtCore/QFile>
#include <QtCore/QSaveFile>
#include <QtNetwork/QNetworkCookie>
#include <QtNetwork/QNetworkCookieJar>

namespace berth::netdetail {

using namespace Qt::StringLiterals;

/// A cookie jar that can live in a file (Set-Cookie lines, owner-only), flushed in close. A
/// background agent's "session" outlives the process: cookies without an expiry are kept too.
class PersistentCookieJar : public QNetworkCookieJar
{
public:
    using QNetworkCookieJar::QNetworkCookieJar;
    QString load(const QString &path)
    {
        QFile f(path);
        if (!f.exists())
            return {};
        if (!f.open(QIODevice::ReadOnly))
            return u"cannot read cookie jar %1: %2"_s.arg(path, f.errorString());
        QList<QNetworkCookie> cookies;
        const QDateTime now = QDateTime::currentDateTimeUtc();
        while (!f.atEnd()) {
            const QByteArray line = f.readLine().trimmed();
            if (line.isEmpty())
                continue;
            for (const QNetworkCookie &c : QNetworkCookie::parseCookies(line)) {
                if (c.isSessionCookie() || c.expirationDate() > now)
                    cookies.append(c);
            }
        }
        setAllCookies(cookies);
        return {};
    }
    QString save(const QString &path) const
    {
        QSaveFile f(path);
        if (!f.open(QIODevice::WriteOnly))
            return u"cannot write cookie jar %1: %2"_s.arg(path, f.errorString());
        f.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner);
        const QDateTime now = QDateTime::currentDateTimeUtc();
        for (const QNetworkCookie &c : allCookies()) {
            if (c.isSessionCookie() || c.expirationDate() > now)
                f.write(c.toRawForm(QNetworkCookie::Full) + '\n');
        }
        if (!f.commit())
            return u"cannot write cookie jar %1: %2"_s.arg(path, f.errorString());
        return {};
    }
};

} // namespace berth::netdetail
