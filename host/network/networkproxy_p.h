// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Private to the host library: where a network session's requests go, straight to the server
// or through a proxy (networkproxy.cpp). Used by the session's managers and by the config
// validator, which checks the same rules before anything starts. Not installed.
#pragma once

#include <berth/networkoptions.h>

#include <QtCore/QProcessEnvironment>
#include <QtCore/QUrl>
#include <QtNetwork/QHostAddress>
#include <QtNetwork/QNetworkProxy>

#include <memory>

class QNetworkProxyFactory;

namespace berth::netdetail {

/// One proxy setting of a session, decided once when the session opens:
/// - "environment" (the default): the variables curl, Go and Python read: https_proxy for
///   https URLs, http_proxy for http, all_proxy for either when those are unset, and no_proxy;
///   lower case first, then upper case (Kubernetes and Docker set HTTPS_PROXY, which Qt alone
///   ignores). Loopback (localhost, 127.0.0.0/8, ::1) is never proxied, as in Qt and Go.
/// - "none": every request goes straight to its server, whatever the environment says.
/// - a proxy URL: every request goes through it but for the config's "noProxy" entries.
/// Proxy URLs: http://[user:password@]host[:port] (port 80 by default; HTTPS requests go
/// through a CONNECT tunnel, end to end encrypted and verified), socks5:// (names resolved
/// here) or socks5h:// (by the proxy), port 1080 by default. No scheme means http://.
class ProxyPlan
{
public:
    /// The plan for \a options in \a env. A variable that is not a proxy URL fails the plan:
    /// \a error names it and why (the validator reports it before the host starts).
    static ProxyPlan make(const NetworkOptions &options, const QProcessEnvironment &env, QString *error);
    /// A proxy URL as the config or a variable gives it; on failure \a error says why.
    static QNetworkProxy parseProxyUrl(const QString &text, QString *error);
    /// One "noProxy" / no_proxy entry: "*", a host name ("example.com" also covers its
    /// subdomains; a leading "." or "*." is the same), an IP address or a CIDR block, each with
    /// an optional ":port" ("[v6]:port" for IPv6). False, with \a why, for what can be none.
    static bool checkNoProxyEntry(const QString &entry, QString *why);
    /// The proxy URL with the password hidden: for logs and error texts.
    static QString describeProxy(const QNetworkProxy &proxy);

    /// No request of the session goes through a proxy.
    bool direct() const { return m_http.type() == QNetworkProxy::NoProxy && m_https.type() == QNetworkProxy::NoProxy; }
    /// The proxy for a request to \a url (QNetworkProxy::NoProxy: straight to the server).
    QNetworkProxy forUrl(const QUrl &url) const;
    /// One line for the log: which proxy for which scheme, where it came from, what goes direct.
    QString describe() const;

private:
    struct Bypass
    {
        QString name;              ///< lower case, without a leading "." or "*."; empty for an address
        QHostAddress address;      ///< with prefix: an IP or a CIDR block
        int prefix = -1;
        int port = -1;             ///< -1: any port
    };
    static bool parseBypass(const QString &entry, Bypass *out);
    bool bypassed(const QUrl &url) const;

    QNetworkProxy m_http{QNetworkProxy::NoProxy};
    QNetworkProxy m_https{QNetworkProxy::NoProxy};
    QString m_httpFrom, m_httpsFrom;   ///< "config" or the variable's name
    std::vector<Bypass> m_bypass;
    bool m_bypassAll = false;          ///< no_proxy "*"
    bool m_bypassLoopback = false;     ///< from the environment: loopback is never proxied
};

/// A factory for one manager (Qt owns it) that answers from a session's plan.
QNetworkProxyFactory *makeProxyFactory(std::shared_ptr<const ProxyPlan> plan);

} // namespace berth::netdetail
