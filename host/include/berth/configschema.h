// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

#include <functional>

QT_BEGIN_NAMESPACE
class QJsonValue;
QT_END_NAMESPACE

namespace berth {

/// One key a service type accepts in its "config" object. The host validates every service's
/// config against its type's keys before anything starts, so a service never sees a typo.
struct ConfigKey
{
    enum class Kind {
        String,       ///< JSON string
        Bool,         ///< JSON true/false
        Integer,      ///< JSON number without a fraction
        Number,       ///< any JSON number
        Duration,     ///< string such as "250ms", "10s", "2m", "1h"
        StringOrList, ///< a string or an array of strings
        StringList,   ///< array of strings
        Object,       ///< any JSON object
        Enum,         ///< string, one of \c choices
    };
    QString name;
    Kind kind = Kind::String;
    QString help;          ///< one line, shown by `berth services`
    bool required = false;
    QStringList choices;   ///< for Kind::Enum
    /// Optional: what the kind cannot say (a URL's scheme, a range). Called with a value of the
    /// right kind; returns what is wrong with it, or an empty string. The host reports it at the
    /// key's file, line and column, so `berth check` catches it before anything starts.
    std::function<QString(const QJsonValue &)> check = nullptr;
};

using ConfigSchema = QList<ConfigKey>;

} // namespace berth
