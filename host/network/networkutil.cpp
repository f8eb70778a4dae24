// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Pure helpers of the network session: URL redaction, Retry-After, HTTP-dates, backoff.
#include "network/networksession_p.h"

#include <QtCore/QLocale>
#include <QtCore/QTimeZone>
#include <QtCore/QUrlQuery>

#include <algorithm>
#include <cmath>

using namespace Qt::StringLiterals;

namespace berth {


const QStringList &NetworkSession::builtinRedactedQuery()
{
    static const QStringList keys = {u"token"_s, u"access_token"_s, u"refresh_token"_s, u"id_token"_s,
                                     u"api_key"_s, u"apikey"_s, u"key"_s, u"password"_s, u"passwd"_s,
                                     u"secret"_s, u"client_secret"_s, u"signature"_s, u"sig"_s,
                                     u"auth"_s, u"session"_s, u"code"_s,
                                     u"X-Amz-Signature"_s, u"X-Amz-Credential"_s, u"X-Amz-Security-Token"_s};
    return keys;
}

QString NetworkSession::redact(const QUrl &url, const QStringList &queryKeys)
{
    QUrl u = url;
    u.setFragment(QString());
    if (!u.password().isEmpty())
        u.setPassword(u"***"_s);
    if (u.hasQuery()) {
        QUrlQuery query(u);
        auto items = query.queryItems(QUrl::FullyEncoded);
        bool changed = false;
        for (auto &[key, value] : items) {
            const QString plain = QUrl::fromPercentEncoding(key.toUtf8());
            if (std::any_of(queryKeys.cbegin(), queryKeys.cend(),
                            [&](const QString &k) { return k.compare(plain, Qt::CaseInsensitive) == 0; })) {
                value = u"REDACTED"_s;
                changed = true;
            }
        }
        if (changed) {
            QUrlQuery redacted;
            redacted.setQueryItems(items);
            u.setQuery(redacted.query(QUrl::FullyEncoded), QUrl::StrictMode);
        }
    }
    return u.toString(QUrl::FullyEncoded);
}

// ---------------------------------------------------------------------------------------------

namespace net {

QDateTime parseHttpDate(const QByteArray &raw)
{
    const QString value = QString::fromLatin1(raw.trimmed());
    const QLocale c = QLocale::c();
    // IMF-fixdate, obsolete RFC 850, asctime (RFC 9110 section 5.6.7).
    static const char *const formats[] = {"ddd, dd MMM yyyy HH:mm:ss 'GMT'",
                                          "dddd, dd-MMM-yy HH:mm:ss 'GMT'",
                                          "ddd MMM d HH:mm:ss yyyy"};
    for (const char *format : formats) {
        QString v = value;
        if (format == formats[2])
            v = v.simplified();   // asctime pads the day with a space
        QDateTime dt = c.toDateTime(v, QString::fromLatin1(format));
        if (dt.isValid()) {
            if (format == formats[1] && dt.date().year() < 1970)
                dt = dt.addYears(100);
#if QT_VERSION >= QT_VERSION_CHECK(6, 5, 0)
            dt = QDateTime(dt.date(), dt.time(), QTimeZone::UTC);
#else
            dt = QDateTime(dt.date(), dt.time(), Qt::UTC);
#endif
            return dt;
        }
    }
    return {};
}

std::optional<std::chrono::milliseconds> parseRetryAfter(const QByteArray &value, const QDateTime &now)
{
    const QByteArray v = value.trimmed();
    if (v.isEmpty())
        return std::nullopt;
    if (std::all_of(v.cbegin(), v.cend(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        bool ok = false;
        const qint64 seconds = v.size() > 12 ? -1 : v.toLongLong(&ok);
        if (!ok || seconds < 0)
            return std::nullopt;
        return std::chrono::milliseconds(seconds * 1000);
    }
    const QDateTime when = parseHttpDate(v);
    if (!when.isValid())
        return std::nullopt;
    return std::chrono::milliseconds(std::max<qint64>(0, now.msecsTo(when)));
}

std::chrono::milliseconds backoffDelay(int retry, std::chrono::milliseconds base,
                                       std::chrono::milliseconds cap, double unit)
{
    const double ceiling = std::min<double>(double(cap.count()),
                                            double(base.count()) * std::pow(2.0, std::max(0, retry - 1)));
    const double u = std::clamp(unit, 0.0, 1.0);
    return std::chrono::milliseconds(qint64(std::floor(ceiling * u)));
}

bool isIdempotent(const QByteArray &verb)
{
    for (const char *safe : {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"}) {
        if (verb.compare(safe, Qt::CaseInsensitive) == 0)
            return true;
    }
    return false;
}

Redirect redirectFor(const QUrl &from, int status, const QByteArray &location, const QByteArray &verb,
                     QNetworkRequest::RedirectPolicy policy)
{
    Redirect r;
    const bool isRedirect = status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
    if (!isRedirect || location.isEmpty() || policy == QNetworkRequest::ManualRedirectPolicy
        || policy == QNetworkRequest::UserVerifiedRedirectPolicy)
        return r;   // the 3xx is the answer
    const QUrl target = from.resolved(QUrl(QString::fromUtf8(location)));
    if (!target.isValid() || target.host().isEmpty()) {
        r.error = QNetworkReply::ProtocolFailure;
        r.reason = u"HTTP %1 with an unusable Location"_s.arg(status);
        return r;
    }
    const QString scheme = target.scheme().toLower();
    if (scheme != u"http"_s && scheme != u"https"_s) {
        r.error = QNetworkReply::ProtocolUnknownError;
        r.reason = u"HTTP %1 redirects to the unsupported scheme \"%2\""_s.arg(status).arg(scheme);
        return r;
    }
    // The origin is what the session keys its pools by: scheme, host and port (QUrl keeps both
    // scheme and host in lower case).
    const bool sameOrigin = netdetail::hostKeyOf(target, {}) == netdetail::hostKeyOf(from, {});
    if (policy == QNetworkRequest::SameOriginRedirectPolicy && !sameOrigin) {
        r.error = QNetworkReply::InsecureRedirectError;
        r.reason = u"HTTP %1 redirects to another origin (%2://%3), and the policy is same-origin"_s
                       .arg(status).arg(scheme, target.host());
        return r;
    }
    if (from.scheme().toLower() == u"https"_s && scheme == u"http"_s) {
        r.error = QNetworkReply::InsecureRedirectError;
        r.reason = u"HTTP %1 redirects from https to plain http"_s.arg(status);
        return r;
    }
    r.url = target;
    r.crossOrigin = !sameOrigin;
    // As Qt does: 307 and 308 keep the method and body; otherwise HEAD stays, the rest is GET.
    if (status == 307 || status == 308 || verb == "HEAD") {
        r.verb = verb;
    } else {
        r.verb = "GET";
        r.dropBody = true;
    }
    return r;
}

} // namespace net
} // namespace berth
