// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Validation of a "network" block, at the top level and in a service: limits, redirects,
// retries, rate limit, cookie jar, cache, CA bundle, redaction and proxy. TLS verification cannot be
// switched off, so the keys people use for that are reported, not merely unknown.
#include "config/configvalidate_p.h"
#include "network/networkproxy_p.h"

#include <QtCore/QDir>
#include <QtCore/QFile>
#include <QtCore/QFileInfo>
#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>
#include <QtCore/QProcessEnvironment>

#include <algorithm>
#include <cmath>

using namespace Qt::StringLiterals;
using berth::netdetail::ProxyPlan;

namespace berth {

namespace configdetail {

namespace {

const QStringList NetworkKeys = {u"transferTimeout"_s, u"callTimeout"_s, u"maxConcurrent"_s, u"connectionsPerHost"_s,
                                 u"redirects"_s, u"maxRedirects"_s, u"http2"_s, u"retry"_s,
                                 u"rateLimit"_s, u"cookieJar"_s, u"cache"_s, u"caBundle"_s,
                                 u"redactQuery"_s, u"proxy"_s, u"noProxy"_s, u"maxResponseSize"_s};
const QStringList RetryKeys = {u"attempts"_s, u"base"_s, u"cap"_s, u"nonIdempotent"_s, u"statuses"_s};
const QStringList RateKeys = {u"perSecond"_s, u"burst"_s};
const QStringList CacheKeys = {u"dir"_s, u"maxMiB"_s};
const QStringList RedirectPolicies = {u"no-less-safe"_s, u"same-origin"_s, u"none"_s};
// Keys people reach for to switch TLS verification off. It cannot be switched off.
const QStringList InsecureKeys = {u"insecure"_s, u"verify"_s, u"tlsVerify"_s, u"verifyTls"_s,
                                  u"sslVerify"_s, u"verifySsl"_s, u"ignoreSslErrors"_s,
                                  u"ignoreTlsErrors"_s, u"tlsInsecure"_s};

} // namespace

bool Validator::readInt(const QJsonObject &obj, const QString &parent, const QString &key, int min, int max, int *out)
{
    if (!obj.contains(key))
        return true;
    const QJsonValue v = obj.value(key);
    const QString path = PositionedJson::member(parent, key);
    if (!isWholeNumber(v) || v.toDouble() < min || v.toDouble() > max) {
        error(path, u"expected a whole number from %1 to %2, got %3"_s.arg(min).arg(max)
                        .arg(v.isDouble() ? QString::number(v.toDouble()) : typeName(v)));
        return false;
    }
    *out = v.toInt();
    return true;
}

/// A path in the config is relative to the config file's folder (a service's working
/// directory is often "/").
QString Validator::resolvePath(const QString &path) const
{
    if (path.isEmpty() || QDir::isAbsolutePath(path))
        return path;
    const QFileInfo config(m_file);
    return QDir(config.exists() ? config.absolutePath() : QDir::currentPath()).absoluteFilePath(path);
}

bool Validator::readPath(const QJsonObject &obj, const QString &parent, const QString &key, QString *out)
{
    if (!obj.contains(key))
        return true;
    const QString path = PositionedJson::member(parent, key);
    if (!expect(obj.value(key), QJsonValue::String, path))
        return false;
    if (obj.value(key).toString().isEmpty()) {
        error(path, u"must not be empty"_s);
        return false;
    }
    *out = resolvePath(obj.value(key).toString());
    return true;
}

void Validator::readNetwork(const QJsonValue &value, const QString &path, NetworkOptions *n)
{
    if (!expect(value, QJsonValue::Object, path))
        return;
    const QJsonObject obj = value.toObject();
    for (const QString &k : InsecureKeys) {
        if (obj.contains(k)) {
            const QString keyPath = PositionedJson::member(path, k);
            error(m_doc.keyAt(keyPath), keyPath,
                  u"TLS certificate verification cannot be turned off; to trust a private CA, "
                  u"set \"caBundle\" to its PEM file"_s);
        }
    }
    QJsonObject rest = obj;
    for (const QString &k : InsecureKeys)
        rest.remove(k);
    checkKeys(rest, path, NetworkKeys);
    readDuration(obj, path, u"transferTimeout"_s, &n->transferTimeout);
    readDuration(obj, path, u"callTimeout"_s, &n->callTimeout);
    readInt(obj, path, u"maxConcurrent"_s, 1, 100000, &n->maxConcurrent);
    if (obj.contains(u"maxResponseSize"_s)) {
        const QString spath = PositionedJson::member(path, u"maxResponseSize"_s);
        if (const QString problem = checkByteSize(obj.value(u"maxResponseSize"_s)); !problem.isEmpty())
            error(spath, problem);
        else
            n->maxResponseBytes = byteSizeValue(obj, u"maxResponseSize"_s, n->maxResponseBytes);
    }
    readInt(obj, path, u"connectionsPerHost"_s, 1, 10000, &n->connectionsPerHost);
    if (obj.contains(u"redirects"_s) && checkEnum(obj.value(u"redirects"_s), PositionedJson::member(path, u"redirects"_s), RedirectPolicies))
        n->redirects = NetworkOptions::Redirects(RedirectPolicies.indexOf(obj.value(u"redirects"_s).toString()));
    readInt(obj, path, u"maxRedirects"_s, 0, 100, &n->maxRedirects);
    if (obj.contains(u"http2"_s) && expect(obj.value(u"http2"_s), QJsonValue::Bool, PositionedJson::member(path, u"http2"_s)))
        n->http2 = obj.value(u"http2"_s).toBool();
    if (obj.contains(u"retry"_s)) {
        const QString rpath = PositionedJson::member(path, u"retry"_s);
        if (expect(obj.value(u"retry"_s), QJsonValue::Object, rpath)) {
            const QJsonObject r = obj.value(u"retry"_s).toObject();
            checkKeys(r, rpath, RetryKeys);
            readInt(r, rpath, u"attempts"_s, 1, 100, &n->retry.attempts);
            const bool b = readDuration(r, rpath, u"base"_s, &n->retry.base);
            const bool c = readDuration(r, rpath, u"cap"_s, &n->retry.cap);
            if (b && c && n->retry.base > n->retry.cap)
                error(PositionedJson::member(rpath, r.contains(u"base"_s) ? u"base"_s : u"cap"_s),
                      u"base %1 exceeds cap %2"_s.arg(formatDuration(n->retry.base), formatDuration(n->retry.cap)));
            if (r.contains(u"nonIdempotent"_s)
                && expect(r.value(u"nonIdempotent"_s), QJsonValue::Bool, PositionedJson::member(rpath, u"nonIdempotent"_s)))
                n->retry.nonIdempotent = r.value(u"nonIdempotent"_s).toBool();
            if (r.contains(u"statuses"_s)) {
                const QString spath = PositionedJson::member(rpath, u"statuses"_s);
                if (expect(r.value(u"statuses"_s), QJsonValue::Array, spath)) {
                    const QJsonArray list = r.value(u"statuses"_s).toArray();
                    QList<int> statuses;
                    for (qsizetype i = 0; i < list.size(); ++i) {
                        const QJsonValue v = list.at(i);
                        if (!isWholeNumber(v) || v.toInt() < 400 || v.toInt() > 599)
                            error(PositionedJson::element(spath, i), u"expected an HTTP status from 400 to 599"_s);
                        else
                            statuses.append(v.toInt());
                    }
                    n->retry.statuses = statuses;
                }
            }
        }
    }
    if (obj.contains(u"rateLimit"_s)) {
        const QString rpath = PositionedJson::member(path, u"rateLimit"_s);
        if (expect(obj.value(u"rateLimit"_s), QJsonValue::Object, rpath)) {
            const QJsonObject r = obj.value(u"rateLimit"_s).toObject();
            checkKeys(r, rpath, RateKeys);
            if (!r.contains(u"perSecond"_s)) {
                error(rpath, u"missing required key \"perSecond\""_s);
            } else if (const QJsonValue v = r.value(u"perSecond"_s); !v.isDouble() || v.toDouble() <= 0 || v.toDouble() > 1e6) {
                error(PositionedJson::member(rpath, u"perSecond"_s),
                      u"expected a number of requests per second greater than 0, got %1"_s
                          .arg(v.isDouble() ? QString::number(v.toDouble()) : typeName(v)));
            } else {
                n->ratePerSecond = v.toDouble();
                n->rateBurst = std::max(1, int(std::ceil(n->ratePerSecond)));
            }
            readInt(r, rpath, u"burst"_s, 1, 1000000, &n->rateBurst);
        }
    }
    readPath(obj, path, u"cookieJar"_s, &n->cookieJar);
    if (obj.contains(u"cache"_s)) {
        const QString cpath = PositionedJson::member(path, u"cache"_s);
        if (expect(obj.value(u"cache"_s), QJsonValue::Object, cpath)) {
            const QJsonObject c = obj.value(u"cache"_s).toObject();
            checkKeys(c, cpath, CacheKeys);
            if (!c.contains(u"dir"_s))
                error(cpath, u"missing required key \"dir\""_s);
            readPath(c, cpath, u"dir"_s, &n->cacheDir);
            int mib = int(n->cacheMaxBytes / (1024 * 1024));
            if (readInt(c, cpath, u"maxMiB"_s, 1, 1024 * 1024, &mib))
                n->cacheMaxBytes = qint64(mib) * 1024 * 1024;
        }
    }
    if (readPath(obj, path, u"caBundle"_s, &n->caBundle) && !n->caBundle.isEmpty()) {
        QFile f(n->caBundle);
        if (!f.open(QIODevice::ReadOnly))
            error(PositionedJson::member(path, u"caBundle"_s),
                  u"cannot read %1: %2"_s.arg(n->caBundle, f.errorString()));
        else if (!f.readAll().contains("-----BEGIN CERTIFICATE-----"))
            error(PositionedJson::member(path, u"caBundle"_s),
                  u"%1 holds no PEM certificate (-----BEGIN CERTIFICATE-----)"_s.arg(n->caBundle));
    }
    if (obj.contains(u"redactQuery"_s)
        && checkStringList(obj.value(u"redactQuery"_s), PositionedJson::member(path, u"redactQuery"_s),
                           u"an array of query parameter names"_s)) {
        for (const QJsonValue &v : obj.value(u"redactQuery"_s).toArray())
            n->redactQuery.append(v.toString());
    }
    if (obj.contains(u"proxy"_s)) {
        const QString ppath = PositionedJson::member(path, u"proxy"_s);
        if (expect(obj.value(u"proxy"_s), QJsonValue::String, ppath)) {
            const QString proxy = obj.value(u"proxy"_s).toString().trimmed();
            QString why;
            if (proxy != u"environment"_s && proxy != u"none"_s
                && (ProxyPlan::parseProxyUrl(proxy, &why), !why.isEmpty()))
                error(ppath, why + u" (or \"environment\", the default, or \"none\")"_s);
            else
                n->proxy = proxy;
        }
    }
    if (obj.contains(u"noProxy"_s)) {
        const QString npath = PositionedJson::member(path, u"noProxy"_s);
        if (checkStringList(obj.value(u"noProxy"_s), npath, u"an array of host names, IP addresses or CIDR blocks"_s)) {
            const QJsonArray list = obj.value(u"noProxy"_s).toArray();
            QStringList entries;
            for (qsizetype i = 0; i < list.size(); ++i) {
                QString why;
                if (ProxyPlan::checkNoProxyEntry(list.at(i).toString(), &why))
                    entries.append(list.at(i).toString());
                else
                    error(PositionedJson::element(npath, i), why);
            }
            n->noProxy = entries;
        }
    }
}

void Validator::checkProxyEnvironment()
{
    const QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    QStringList users;
    QString problem;
    qsizetype first = -1;
    for (qsizetype i = 0; i < m_result->config.services.size(); ++i) {
        const NetworkOptions &n = m_result->config.services.at(i).network;
        if (!n.proxy.isEmpty() && n.proxy != u"environment"_s)
            continue;
        QString why;
        ProxyPlan::make(n, env, &why);
        if (why.isEmpty())
            continue;
        problem = why;
        users.append(m_result->config.services.at(i).name);
        if (first < 0)
            first = i;
    }
    if (first >= 0)
        error(m_paths.value(first), u"%1 (the proxy of service(s) %2, which take it from the environment: fix the "
                                    u"variable, or set \"proxy\" in their network block to a proxy URL or \"none\")"_s
                                        .arg(problem, users.join(u", "_s)));
}

} // namespace configdetail

} // namespace berth
