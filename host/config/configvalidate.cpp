// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Validation of a parsed configuration document: shape, service settings, each type's "config"
// against its schema, and the "after" dependencies (unknown names, cycles). Every problem is
// reported, not just the first, so one run shows the user everything to fix.
// The network block is read in configvalidate_network.cpp, the "after" checks are in
// configvalidate_deps.cpp; the Validator class is declared in configvalidate_p.h.
#include "config/configvalidate_p.h"

#include <berth/serviceregistry.h>

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>

#include <algorithm>
#include <cmath>

using namespace Qt::StringLiterals;

namespace berth {

namespace configdetail {

namespace {

const QStringList TopKeys = {u"shutdown"_s, u"network"_s, u"services"_s};
const QStringList ShutdownDurations = {u"deadline"_s, u"intakeDelay"_s, u"drain"_s, u"cancel"_s,
                                       u"reserve"_s};
const QStringList ShutdownKeys = ShutdownDurations + QStringList{u"fastExit"_s};
const QStringList ServiceKeys = {u"name"_s, u"type"_s, u"after"_s, u"startTimeout"_s,
                                 u"stopTimeout"_s, u"onFailure"_s, u"restartDelay"_s,
                                 u"restartMaxDelay"_s, u"restartLimit"_s, u"network"_s, u"config"_s};
const QStringList FailurePolicies = {u"stop-host"_s, u"restart"_s, u"ignore"_s};

QString quoted(const QStringList &items)
{
    QStringList out;
    for (const QString &item : items)
        out.append(u'"' + item + u'"');
    return out.join(u", "_s);
}

bool isValidName(const QString &name)
{
    return std::all_of(name.cbegin(), name.cend(), [](QChar c) {
        return (c >= u'a' && c <= u'z') || (c >= u'A' && c <= u'Z') || (c >= u'0' && c <= u'9')
            || c == u'_' || c == u'.' || c == u'-';
    });
}

} // namespace

QString typeName(const QJsonValue &v)
{
    switch (v.type()) {
    case QJsonValue::Null: return u"null"_s;
    case QJsonValue::Bool: return u"a boolean"_s;
    case QJsonValue::Double: return u"a number"_s;
    case QJsonValue::String: return u"a string"_s;
    case QJsonValue::Array: return u"an array"_s;
    case QJsonValue::Object: return u"an object"_s;
    case QJsonValue::Undefined: break;
    }
    return u"nothing"_s;
}

QString didYouMean(const QString &word, const QStringList &candidates)
{
    const QString s = suggestClosest(word, candidates);
    return s.isEmpty() ? QString() : u"; did you mean \"%1\"?"_s.arg(s);
}

bool isWholeNumber(const QJsonValue &v)
{
    const double d = v.toDouble();
    return v.isDouble() && std::trunc(d) == d && std::abs(d) <= 9007199254740992.0;
}

void Validator::run()
{
    if (!m_doc.root.isObject()) {
        error(QString(), u"expected an object at the top level, got %1"_s.arg(typeName(m_doc.root)));
        return;
    }
    const QJsonObject root = m_doc.root.toObject();
    checkKeys(root, QString(), TopKeys);
    if (root.contains(u"shutdown"_s))
        readShutdown(root.value(u"shutdown"_s));
    if (root.contains(u"network"_s))
        readNetwork(root.value(u"network"_s), u"network"_s, &m_result->config.network);
    const QString servicesPath = u"services"_s;
    if (!root.contains(servicesPath)) {
        error(m_doc.valueAt(QString()), servicesPath, u"missing required key \"services\""_s);
    } else if (expect(root.value(servicesPath), QJsonValue::Array, servicesPath)) {
        const QJsonArray services = root.value(servicesPath).toArray();
        if (services.isEmpty())
            error(servicesPath, u"no services configured"_s);
        for (qsizetype i = 0; i < services.size(); ++i)
            readService(services.at(i), PositionedJson::element(servicesPath, i));
        checkAfter();
        checkCycles();
        checkProxyEnvironment();
    }
}

void Validator::error(JsonPosition at, const QString &path, const QString &message)
{
    m_result->errors.append({m_file, at.line, at.column, path, message});
}

void Validator::error(const QString &path, const QString &message)
{
    error(m_doc.valueAt(path), path, message);
}

bool Validator::expect(const QJsonValue &v, QJsonValue::Type type, const QString &path)
{
    if (v.type() == type)
        return true;
    error(path, u"expected %1, got %2"_s.arg(typeName(QJsonValue(type)), typeName(v)));
    return false;
}

void Validator::checkKeys(const QJsonObject &obj, const QString &path, const QStringList &allowed,
                          const QString &owner)
{
    for (auto it = obj.constBegin(); it != obj.constEnd(); ++it) {
        if (allowed.contains(it.key()))
            continue;
        const QString keyPath = PositionedJson::member(path, it.key());
        const QString hint = didYouMean(it.key(), allowed);
        error(m_doc.keyAt(keyPath), keyPath,
              u"unknown key \"%1\"%2%3"_s.arg(it.key(), owner,
                                              hint.isEmpty() ? u"; known keys: "_s + allowed.join(u", "_s)
                                                             : hint));
    }
}

bool Validator::readDuration(const QJsonValue &v, const QString &path, Millis *out)
{
    if (!v.isString()) {
        error(path, u"expected a duration string such as \"250ms\" or \"10s\", got %1"_s.arg(typeName(v)));
        return false;
    }
    QString reason;
    if (!parseDuration(v.toString(), out, &reason)) {
        error(path, u"bad duration \"%1\": %2"_s.arg(v.toString(), reason));
        return false;
    }
    return true;
}

/// Absent keys keep \a out; returns false only when the key is present and invalid.
bool Validator::readDuration(const QJsonObject &obj, const QString &parent, const QString &key, Millis *out)
{
    return !obj.contains(key) || readDuration(obj.value(key), PositionedJson::member(parent, key), out);
}

bool Validator::checkEnum(const QJsonValue &v, const QString &path, const QStringList &choices)
{
    if (!expect(v, QJsonValue::String, path))
        return false;
    if (choices.contains(v.toString()))
        return true;
    error(path, u"\"%1\" is not one of %2%3"_s.arg(v.toString(), quoted(choices),
                                                  didYouMean(v.toString(), choices)));
    return false;
}

bool Validator::checkStringList(const QJsonValue &v, const QString &path, const QString &expected)
{
    if (!v.isArray()) {
        error(path, u"expected %1, got %2"_s.arg(expected, typeName(v)));
        return false;
    }
    bool ok = true;
    const QJsonArray array = v.toArray();
    for (qsizetype i = 0; i < array.size(); ++i)
        ok = expect(array.at(i), QJsonValue::String, PositionedJson::element(path, i)) && ok;
    return ok;
}

void Validator::readShutdown(const QJsonValue &value)
{
    const QString path = u"shutdown"_s;
    if (!expect(value, QJsonValue::Object, path))
        return;
    const QJsonObject obj = value.toObject();
    checkKeys(obj, path, ShutdownKeys);
    ShutdownConfig s;
    Millis ShutdownConfig::*const fields[] = {&ShutdownConfig::deadline, &ShutdownConfig::intakeDelay,
                                              &ShutdownConfig::drain, &ShutdownConfig::cancel,
                                              &ShutdownConfig::reserve};
    bool ok = true;
    for (qsizetype i = 0; i < ShutdownDurations.size(); ++i)
        ok = readDuration(obj, path, ShutdownDurations.at(i), &(s.*fields[i])) && ok;
    if (obj.contains(u"fastExit"_s)
        && expect(obj.value(u"fastExit"_s), QJsonValue::Bool, PositionedJson::member(path, u"fastExit"_s)))
        s.fastExit = obj.value(u"fastExit"_s).toBool();
    m_result->config.shutdown = s;
    if (!ok)
        return;
    const auto at = [&](const QString &key, const QString &fallback) {
        return PositionedJson::member(path, obj.contains(key) ? key : fallback);
    };
    s.drainGiven = obj.contains(u"drain"_s);
    s.cancelGiven = obj.contains(u"cancel"_s);
    s.reserveGiven = obj.contains(u"reserve"_s);
    if (s.deadline.count() <= 0) {
        error(at(u"deadline"_s, QString()), u"deadline must be greater than 0"_s);
        return;
    }
    if (s.reserveGiven && s.reserve >= s.deadline) {
        error(at(u"reserve"_s, u"deadline"_s),
              u"reserve %1 must be less than deadline %2"_s.arg(formatDuration(s.reserve),
                                                                 formatDuration(s.deadline)));
        return;
    }
    // What the file gives must fit; what it leaves out follows the deadline (shutdownBudgets).
    const ShutdownBudgets derived = shutdownBudgets(s, s.deadline);
    QStringList terms;
    Millis sum{0};
    const auto add = [&](const QString &name, Millis value) {
        terms << u"%1 %2"_s.arg(name, formatDuration(value));
        sum += value;
    };
    add(u"intakeDelay"_s, s.intakeDelay);
    if (s.drainGiven)
        add(u"drain"_s, s.drain);
    if (s.cancelGiven)
        add(u"cancel"_s, s.cancel);
    add(u"reserve"_s, s.reserveGiven ? s.reserve : derived.reserve);
    if (sum > s.deadline) {
        error(path, u"%1 = %2 exceeds deadline %3"_s.arg(terms.join(u" + "_s), formatDuration(sum),
                                                         formatDuration(s.deadline)));
        return;
    }
    if (!s.drainGiven)
        s.drain = derived.drain;
    if (!s.cancelGiven)
        s.cancel = derived.cancel;
    if (!s.reserveGiven)
        s.reserve = derived.reserve;
    m_result->config.shutdown = s;
}

void Validator::readService(const QJsonValue &value, const QString &path)
{
    if (!expect(value, QJsonValue::Object, path))
        return;
    const QJsonObject obj = value.toObject();
    const auto key = [&](const QString &k) { return PositionedJson::member(path, k); };
    checkKeys(obj, path, ServiceKeys);
    ServiceConfig cfg;
    bool nameOk = false;
    if (!obj.contains(u"name"_s)) {
        error(path, u"missing required key \"name\""_s);
    } else if (expect(obj.value(u"name"_s), QJsonValue::String, key(u"name"_s))) {
        cfg.name = obj.value(u"name"_s).toString();
        if (cfg.name.isEmpty()) {
            error(key(u"name"_s), u"service name must not be empty"_s);
        } else if (!isValidName(cfg.name)) {
            error(key(u"name"_s), u"service name \"%1\" may only contain letters, digits, '_', '.' and '-'"_s
                                      .arg(cfg.name));
        } else if (const auto first = m_byName.constFind(cfg.name); first != m_byName.constEnd()) {
            const QString firstPath = PositionedJson::member(m_paths.at(*first), u"name"_s);
            error(key(u"name"_s), u"duplicate service name \"%1\"; first used on line %2"_s
                                      .arg(cfg.name).arg(m_doc.valueAt(firstPath).line));
        } else {
            nameOk = true;
        }
    }

    const ServiceType *type = nullptr;
    if (!obj.contains(u"type"_s)) {
        error(path, u"missing required key \"type\""_s);
    } else if (expect(obj.value(u"type"_s), QJsonValue::String, key(u"type"_s))) {
        cfg.type = obj.value(u"type"_s).toString();
        type = m_types.find(cfg.type);
        if (!type) {
            error(key(u"type"_s), u"unknown service type \"%1\"; known types: %2%3"_s
                                      .arg(cfg.type, m_types.names().join(u", "_s),
                                           didYouMean(cfg.type, m_types.names())));
        }
    }

    QList<AfterRef> refs;
    if (obj.contains(u"after"_s)
        && checkStringList(obj.value(u"after"_s), key(u"after"_s), u"an array of service names"_s)) {
        const QJsonArray after = obj.value(u"after"_s).toArray();
        for (qsizetype i = 0; i < after.size(); ++i) {
            cfg.after.append(after.at(i).toString());
            refs.append({cfg.after.last(), PositionedJson::element(key(u"after"_s), i)});
        }
    }

    if (readDuration(obj, path, u"startTimeout"_s, &cfg.startTimeout) && cfg.startTimeout.count() == 0)
        error(key(u"startTimeout"_s), u"startTimeout must be greater than 0"_s);
    readDuration(obj, path, u"stopTimeout"_s, &cfg.stopTimeout);
    if (obj.contains(u"onFailure"_s)
        && checkEnum(obj.value(u"onFailure"_s), key(u"onFailure"_s), FailurePolicies)) {
        cfg.onFailure = FailurePolicy(FailurePolicies.indexOf(obj.value(u"onFailure"_s).toString()));
    }
    const bool delayOk = readDuration(obj, path, u"restartDelay"_s, &cfg.restartDelay);
    const bool maxOk = readDuration(obj, path, u"restartMaxDelay"_s, &cfg.restartMaxDelay);
    if (delayOk && maxOk && cfg.restartDelay > cfg.restartMaxDelay) {
        const bool own = obj.contains(u"restartDelay"_s);
        error(key(own ? u"restartDelay"_s : u"restartMaxDelay"_s),
              u"restartDelay %1 exceeds restartMaxDelay %2"_s.arg(formatDuration(cfg.restartDelay),
                                                                  formatDuration(cfg.restartMaxDelay)));
    }
    if (obj.contains(u"restartLimit"_s)) {
        const QJsonValue limit = obj.value(u"restartLimit"_s);
        if (!isWholeNumber(limit) || limit.toDouble() < 0 || limit.toDouble() > 1e9)
            error(key(u"restartLimit"_s), u"expected a non-negative whole number, got %1"_s
                                              .arg(limit.isDouble() ? QString::number(limit.toDouble())
                                                                    : typeName(limit)));
        else
            cfg.restartLimit = limit.toInt();
    }
    cfg.network = m_result->config.network;
    if (obj.contains(u"network"_s))
        readNetwork(obj.value(u"network"_s), key(u"network"_s), &cfg.network);
    readTypeConfig(obj, path, type, &cfg);

    if (nameOk)
        m_byName.insert(cfg.name, m_result->config.services.size());
    m_paths.append(path);
    m_refs.append(refs);
    m_result->config.services.append(cfg);
}

void Validator::readTypeConfig(const QJsonObject &obj, const QString &servicePath, const ServiceType *type,
                               ServiceConfig *cfg)
{
    const QString path = PositionedJson::member(servicePath, u"config"_s);
    const bool present = obj.contains(u"config"_s);
    if (present && !expect(obj.value(u"config"_s), QJsonValue::Object, path))
        return;
    cfg->config = obj.value(u"config"_s).toObject();
    if (!type)
        return;
    const QString owner = u" for type \"%1\""_s.arg(type->name);
    QStringList names;
    for (const ConfigKey &k : type->schema)
        names.append(k.name);
    checkKeys(cfg->config, path, names, owner);
    for (const ConfigKey &k : type->schema) {
        if (cfg->config.contains(k.name))
            checkValue(cfg->config.value(k.name), k, PositionedJson::member(path, k.name));
        else if (k.required)
            error(present ? path : servicePath, u"missing required key \"%1\"%2"_s.arg(k.name, owner));
    }
}

void Validator::checkValue(const QJsonValue &v, const ConfigKey &key, const QString &path)
{
    const qsizetype errorsBefore = m_result->errors.size();
    Millis unused{};
    switch (key.kind) {
    case ConfigKey::Kind::String: expect(v, QJsonValue::String, path); break;
    case ConfigKey::Kind::Bool: expect(v, QJsonValue::Bool, path); break;
    case ConfigKey::Kind::Number: expect(v, QJsonValue::Double, path); break;
    case ConfigKey::Kind::Object: expect(v, QJsonValue::Object, path); break;
    case ConfigKey::Kind::Duration: readDuration(v, path, &unused); break;
    case ConfigKey::Kind::Enum: checkEnum(v, path, key.choices); break;
    case ConfigKey::Kind::StringList: checkStringList(v, path, u"an array of strings"_s); break;
    case ConfigKey::Kind::StringOrList:
        if (!v.isString())
            checkStringList(v, path, u"a string or an array of strings"_s);
        break;
    case ConfigKey::Kind::Integer:
        if (!isWholeNumber(v))
            error(path, u"expected a whole number, got %1"_s.arg(v.isDouble() ? QString::number(v.toDouble())
                                                                               : typeName(v)));
        break;
    }
    // The type's own rule, only for a value of the right kind.
    if (key.check && m_result->errors.size() == errorsBefore) {
        if (const QString problem = key.check(v); !problem.isEmpty())
            error(path, problem);
    }
}

} // namespace configdetail

void validateConfig(const PositionedJson &doc, const QString &fileName, const ServiceRegistry &types,
                    ConfigResult *result)
{
    configdetail::Validator(doc, fileName, types, result).run();
}

} // namespace berth
