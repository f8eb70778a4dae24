// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#pragma once

#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

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
};

using ConfigSchema = QList<ConfigKey>;

} // namespace berth
