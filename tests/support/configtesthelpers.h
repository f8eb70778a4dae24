// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Shared by the configuration tests (tst_config, tst_configjson): a registry of known types so
// that results do not depend on which real services are built, and a parse that names a fixed
// file so that expected error strings are stable.
#pragma once

#include "config/config.h"

#include <berth/serviceregistry.h>

#include <QtCore/QStringList>

namespace berth {

inline ServiceRegistry testRegistry()
{
    using namespace Qt::StringLiterals;
    using K = ConfigKey::Kind;
    ServiceRegistry registry;
    registry.add({u"chaos"_s, u"misbehaves on purpose"_s,
                  {{u"startDelay"_s, K::Duration, {}, false, {}},
                   {u"startFail"_s, K::Bool, {}, false, {}},
                   {u"stopDelay"_s, K::Duration, {}, false, {}},
                   {u"stopHang"_s, K::Bool, {}, false, {}},
                   {u"stopBlock"_s, K::Duration, {}, false, {}},
                   {u"leak"_s, K::Integer, {}, false, {}},
                   {u"failAfter"_s, K::Duration, {}, false, {}},
                   {u"throwIn"_s, K::Enum, {}, false, {u"start"_s, u"stop"_s, u"event"_s}},
                   {u"blockAfter"_s, K::Duration, {}, false, {}},
                   {u"blockFor"_s, K::Duration, {}, false, {}},
                   {u"workEvery"_s, K::Duration, {}, false, {}},
                   {u"workDuration"_s, K::Duration, {}, false, {}}},
                  {}});
    // Exercises the schema kinds chaos does not use.
    registry.add({u"probe"_s, u"test only"_s,
                  {{u"target"_s, K::String, {}, true, {}},
                   {u"tags"_s, K::StringList, {}, false, {}},
                   {u"hosts"_s, K::StringOrList, {}, false, {}},
                   {u"ratio"_s, K::Number, {}, false, {}},
                   {u"options"_s, K::Object, {}, false, {}}},
                  {}});
    return registry;
}

inline ConfigResult parse(const QByteArray &json)
{
    using namespace Qt::StringLiterals;
    return parseConfig(json, u"test.json"_s, testRegistry());
}

/// All errors, one per line, for failure messages.
inline QString dump(const QList<ConfigError> &errors)
{
    QStringList lines;
    for (const ConfigError &e : errors)
        lines.append(e.toString());
    return lines.join(u'\n');
}

} // namespace berth
