// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Where a network session's requests go: the session's proxy plan (networkproxy_p.h).
#include "network/networkproxy_p.h"

#include <QtCore/QRegularExpression>
#include <QtNetwork/QNetworkProxyFactory>

using namespace Qt::StringLiterals;

namespace berth::netdetail {

namespace {

/// The first of the variables that is set and not empty: (name, value).
std::pair<QString, QString> firstSet(const QProcessEnvironment &env, std::initializer_list<QString> names)
{
    for (const QString &n : names) {
        const QString v = env.value(n).trimmed();
        if (!v.isEmpty())
            return {n, v};
    }
    return {};
}

/// \a text with whatever stands before an "@" hidden: a proxy URL that does not parse may
/// still hold a password.
QString hideUserInfo(const QString &text)
{
    const qsizetype at = text.lastIndexOf(u'@');
    if (at < 0)
        return text;
    const qsizetype start = text.contains(u"://"_s) ? text.indexOf(u"://"_s) + 3 : 0;
    return text.first(start) + u"***"_s + text.sliced(at);
}

bool isLoopback(const QString &host)
{
    if (host == u"localhost"_s || host.endsWith(u".localhost"_s))
        return true;
    const QHostAddress a(host);
    return !a.isNull() && a.isLoopback();
}

} // namespace

QNetworkProxy ProxyPlan::parseProxyUrl(const QString &text, QString *error)
{
    const QString t = text.trimmed();
    const QUrl url = QUrl(t.contains(u"://"_s) ? t : u"http://"_s + t, QUrl::StrictMode);
    const QString scheme = url.scheme().toLower();
    const auto fail = [&](const QString &why) {
        *error = why;
        return QNetworkProxy(QNetworkProxy::NoProxy);
    };
    if (t.isEmpty())
        return fail(u"empty; expected a proxy URL such as http://proxy.example:3128"_s);
    if (!url.isValid() || url.host().isEmpty())
        return fail(u"\"%1\" is not a proxy URL (expected http://[user:password@]host:port, or socks5://)"_s
                        .arg(hideUserInfo(t)));
    if (scheme == u"https"_s)
        return fail(u"https:// proxies (TLS to the proxy) are not supported by Qt; use http:// "
                    u"(HTTPS requests still go through a CONNECT tunnel, encrypted end to end) or socks5://"_s);
    QNetworkProxy proxy;
    if (scheme == u"http"_s) {
        proxy = QNetworkProxy(QNetworkProxy::HttpProxy, url.host(), quint16(url.port(80)));
    } else if (scheme == u"socks5"_s || scheme == u"socks5h"_s) {
        proxy = QNetworkProxy(QNetworkProxy::Socks5Proxy, url.host(), quint16(url.port(1080)));
        if (scheme == u"socks5"_s)   // names are resolved here; socks5h leaves them to the proxy
            proxy.setCapabilities(proxy.capabilities() & ~QNetworkProxy::HostNameLookupCapability);
    } else {
        return fail(u"unsupported proxy scheme \"%1\" (expected http://, socks5:// or socks5h://)"_s.arg(scheme));
    }
    if (!url.path().isEmpty() && url.path() != u"/"_s)
        return fail(u"a proxy URL has no path (\"%1\"): expected %2://host:port"_s.arg(url.path(), scheme));
    proxy.setUser(url.userName(QUrl::FullyDecoded));
    proxy.setPassword(url.password(QUrl::FullyDecoded));
    return proxy;
}

QString ProxyPlan::describeProxy(const QNetworkProxy &proxy)
{
    QUrl u;
    u.setScheme(proxy.type() == QNetworkProxy::Socks5Proxy
                    ? (proxy.capabilities() & QNetworkProxy::HostNameLookupCapability ? u"socks5h"_s : u"socks5"_s)
                    : u"http"_s);
    u.setHost(proxy.hostName());
    u.setPort(proxy.port());
    u.setUserName(proxy.user());
    if (!proxy.password().isEmpty())
        u.setPassword(u"***"_s);
    return u.toString();
}

bool ProxyPlan::parseBypass(const QString &entry, Bypass *out)
{
    QString e = entry.trimmed().toLower();
    if (e.isEmpty() || e.contains(u"://"_s) || e.contains(u' ') || e.count(u'/') > 1)
        return false;
    // An optional port: "host:port", "[v6]:port"; a bare IPv6 address has several colons.
    if (e.startsWith(u'[')) {
        const qsizetype close = e.indexOf(u']');
        if (close < 0)
            return false;
        if (close + 1 < e.size()) {
            if (e.at(close + 1) != u':')
                return false;
            bool ok = false;
            out->port = e.sliced(close + 2).toInt(&ok);
            if (!ok || out->port < 1 || out->port > 65535)
                return false;
        }
        e = e.sliced(1, close - 1);
    } else if (e.count(u':') == 1) {
        bool ok = false;
        out->port = e.sliced(e.indexOf(u':') + 1).toInt(&ok);
        if (!ok || out->port < 1 || out->port > 65535)
            return false;
        e.truncate(e.indexOf(u':'));
    }
    if (e.contains(u'/')) {
        const auto subnet = QHostAddress::parseSubnet(e);
        if (subnet.first.isNull())
            return false;
        out->address = subnet.first;
        out->prefix = subnet.second;
        return true;
    }
    if (const QHostAddress a(e); !a.isNull()) {
        out->address = a;
        out->prefix = a.protocol() == QAbstractSocket::IPv6Protocol ? 128 : 32;
        return true;
    }
    if (e.startsWith(u"*."_s))
        e.remove(0, 2);
    else if (e.startsWith(u'.'))
        e.remove(0, 1);
    if (e.isEmpty() || e.contains(u'*'))
        return false;
    out->name = e;
    return true;
}

bool ProxyPlan::checkNoProxyEntry(const QString &entry, QString *why)
{
    if (entry.trimmed() == u"*"_s)
        return true;
    Bypass b;
    if (parseBypass(entry, &b))
        return true;
    *why = u"\"%1\" is not a host name, an IP address or a CIDR block (each with an optional :port), nor \"*\""_s
               .arg(entry);
    return false;
}

ProxyPlan ProxyPlan::make(const NetworkOptions &options, const QProcessEnvironment &env, QString *error)
{
    ProxyPlan plan;
    const QString mode = options.proxy.trimmed();
    QStringList bypass = options.noProxy;
    if (mode == u"none"_s)
        return plan;
    if (mode.isEmpty() || mode == u"environment"_s) {
        plan.m_bypassLoopback = true;
        const auto all = firstSet(env, {u"all_proxy"_s, u"ALL_PROXY"_s});
        auto http = firstSet(env, {u"http_proxy"_s, u"HTTP_PROXY"_s});
        auto https = firstSet(env, {u"https_proxy"_s, u"HTTPS_PROXY"_s});
        if (http.first.isEmpty())
            http = all;
        if (https.first.isEmpty())
            https = all;
        for (auto [from, proxy] : {std::make_pair(&http, &plan.m_http), std::make_pair(&https, &plan.m_https)}) {
            if (from->first.isEmpty())
                continue;
            QString why;
            *proxy = parseProxyUrl(from->second, &why);
            if (!why.isEmpty()) {
                *error = u"environment variable %1: %2"_s.arg(from->first, why);
                return ProxyPlan();
            }
        }
        plan.m_httpFrom = http.first;
        plan.m_httpsFrom = https.first;
        const auto noProxy = firstSet(env, {u"no_proxy"_s, u"NO_PROXY"_s});
        // A list from the environment is taken as it comes: an entry that is no host is skipped
        // (curl and Go do the same), never a reason to refuse to start.
        bypass += noProxy.second.split(QRegularExpression(u"[,\\s]+"_s), Qt::SkipEmptyParts);
    } else {
        QString why;
        plan.m_http = parseProxyUrl(mode, &why);
        if (!why.isEmpty()) {
            *error = why;
            return ProxyPlan();
        }
        plan.m_https = plan.m_http;
        plan.m_httpFrom = plan.m_httpsFrom = u"config"_s;
    }
    for (const QString &entry : std::as_const(bypass)) {
        Bypass b;
        if (entry.trimmed() == u"*"_s)
            plan.m_bypassAll = true;
        else if (parseBypass(entry, &b))
            plan.m_bypass.push_back(b);
    }
    if (plan.m_bypassAll)
        plan.m_http = plan.m_https = QNetworkProxy(QNetworkProxy::NoProxy);
    return plan;
}

bool ProxyPlan::bypassed(const QUrl &url) const
{
    const QString host = url.host();   // QUrl keeps host names in lower case
    if (m_bypassLoopback && isLoopback(host))
        return true;
    if (m_bypass.empty())
        return false;
    const int port = url.port(url.scheme() == u"https"_s ? 443 : 80);
    const QHostAddress address(host);
    for (const Bypass &b : m_bypass) {
        if (b.port >= 0 && b.port != port)
            continue;
        if (b.name.isEmpty() ? !address.isNull() && address.isInSubnet(b.address, b.prefix)
                             : host == b.name || (host.endsWith(b.name) && host.size() > b.name.size()
                                                  && host.at(host.size() - b.name.size() - 1) == u'.'))
            return true;
    }
    return false;
}

QNetworkProxy ProxyPlan::forUrl(const QUrl &url) const
{
    const QNetworkProxy &proxy = url.scheme() == u"https"_s ? m_https : m_http;
    if (proxy.type() == QNetworkProxy::NoProxy || bypassed(url))
        return QNetworkProxy(QNetworkProxy::NoProxy);
    return proxy;
}

QString ProxyPlan::describe() const
{
    if (direct())
        return u"no proxy"_s;
    QStringList parts;
    const auto one = [](const QNetworkProxy &p, const QString &from) {
        return p.type() == QNetworkProxy::NoProxy ? u"direct"_s
                                                  : from == u"config"_s ? describeProxy(p)
                                                                        : u"%1 (%2)"_s.arg(describeProxy(p), from);
    };
    if (m_http == m_https && m_httpFrom == m_httpsFrom)
        parts << u"proxy %1 for http and https"_s.arg(one(m_http, m_httpFrom));
    else
        parts << u"http: %1, https: %2"_s.arg(one(m_http, m_httpFrom), one(m_https, m_httpsFrom));
    QStringList direct;
    if (m_bypassLoopback)
        direct << u"loopback"_s;
    for (const Bypass &b : m_bypass)
        direct << (b.name.isEmpty() ? u"%1/%2"_s.arg(b.address.toString()).arg(b.prefix) : b.name)
                      + (b.port >= 0 ? u":%1"_s.arg(b.port) : QString());
    if (!direct.isEmpty())
        parts << u"direct to "_s + direct.join(u", "_s);
    return parts.join(u"; "_s);
}

namespace {

class PlanFactory final : public QNetworkProxyFactory
{
public:
    explicit PlanFactory(std::shared_ptr<const ProxyPlan> plan) : m_plan(std::move(plan)) {}
    QList<QNetworkProxy> queryProxy(const QNetworkProxyQuery &query) override
    {
        QUrl url = query.url();
        if (url.isEmpty()) {   // a socket-level query: the peer and the protocol are all there is
            url.setScheme(query.protocolTag().isEmpty() ? u"http"_s : query.protocolTag());
            url.setHost(query.peerHostName());
            url.setPort(query.peerPort());
        }
        return {m_plan->forUrl(url)};
    }

private:
    std::shared_ptr<const ProxyPlan> m_plan;
};

} // namespace

QNetworkProxyFactory *makeProxyFactory(std::shared_ptr<const ProxyPlan> plan)
{
    return new PlanFactory(std::move(plan));
}

} // namespace berth::netdetail
