// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Private to config.cpp: the checks applied to an already parsed document. Kept apart from the
// entry points so that the rules for what a valid configuration is live in one place.
// The Validator below is shared by configvalidate.cpp (top level, shutdown, services and each
// type's config), configvalidate_network.cpp ("network" blocks) and configvalidate_deps.cpp
// ("after": unknown names, cycles). Not installed.
#pragma once

#include "config/config.h"
#include "config/configjson.h"

#include <QtCore/QHash>
#include <QtCore/QJsonObject>
#include <QtCore/QJsonValue>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace berth {

class ServiceRegistry;
struct ConfigKey;
struct ConfigResult;
struct PositionedJson;
struct ServiceType;

/// Checks \a doc against the configuration rules and the schemas of \a types, filling
/// \a result's config and appending one error per problem (in the order found, not sorted).
/// \a fileName is used in error messages only.
void validateConfig(const PositionedJson &doc, const QString &fileName, const ServiceRegistry &types,
                    ConfigResult *result);

namespace configdetail {

QString typeName(const QJsonValue &v);
QString didYouMean(const QString &word, const QStringList &candidates);
bool isWholeNumber(const QJsonValue &v);

struct AfterRef
{
    QString name;
    QString path;
};

class Validator
{
public:
    Validator(const PositionedJson &doc, const QString &file, const ServiceRegistry &types,
              ConfigResult *result)
        : m_doc(doc), m_file(file), m_types(types), m_result(result)
    {
    }

    void run();

private:
    void error(JsonPosition at, const QString &path, const QString &message);
    void error(const QString &path, const QString &message);
    bool expect(const QJsonValue &v, QJsonValue::Type type, const QString &path);
    void checkKeys(const QJsonObject &obj, const QString &path, const QStringList &allowed,
                   const QString &owner = QString());
    bool readDuration(const QJsonValue &v, const QString &path, Millis *out);
    bool readDuration(const QJsonObject &obj, const QString &parent, const QString &key, Millis *out);
    bool checkEnum(const QJsonValue &v, const QString &path, const QStringList &choices);
    bool checkStringList(const QJsonValue &v, const QString &path, const QString &expected);
    void readShutdown(const QJsonValue &value);
    void readService(const QJsonValue &value, const QString &path);
    void readTypeConfig(const QJsonObject &obj, const QString &servicePath, const ServiceType *type,
                        ServiceConfig *cfg);
    void checkValue(const QJsonValue &v, const ConfigKey &key, const QString &path);

    // configvalidate_network.cpp
    bool readInt(const QJsonObject &obj, const QString &parent, const QString &key, int min, int max, int *out);
    QString resolvePath(const QString &path) const;
    bool readPath(const QJsonObject &obj, const QString &parent, const QString &key, QString *out);
    void readNetwork(const QJsonValue &value, const QString &path, NetworkOptions *n);

    // configvalidate_deps.cpp
    void checkAfter();
    void checkCycles();
    /// The proxy variables of the environment, for the services that take their proxy from it.
    void checkProxyEnvironment();

    const PositionedJson &m_doc;
    const QString m_file;
    const ServiceRegistry &m_types;
    ConfigResult *m_result;
    QHash<QString, qsizetype> m_byName;   ///< valid, unique name -> index in services
    QStringList m_paths;                  ///< per service: "services[i]"
    QList<QList<AfterRef>> m_refs;        ///< per service: its "after" entries
    QList<QList<qsizetype>> m_edges;      ///< per service: the services it is after
};

} // namespace configdetail

} // namespace berth
