// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Durations ("250ms", "10s") and sizes ("64MiB") as written in a configuration, for services
// reading their own "config" object the way the host reads its own keys.
#pragma once

#include <QtCore/QString>

#include <chrono>

QT_BEGIN_NAMESPACE
class QJsonObject;
class QJsonValue;
QT_END_NAMESPACE

namespace berth {

using Millis = std::chrono::milliseconds;

/// "250ms", "10s", "1.5s", "2m", "1h", "0" -> milliseconds (units ms, s, m, h; whole
/// milliseconds only; at most about 24 days). On failure returns false, leaves \a out alone and
/// sets \a error, if given, to a sentence saying what is accepted.
bool parseDuration(const QString &text, Millis *out, QString *error = nullptr);
/// 1500ms -> "1.5s", 120000ms -> "2m": the largest unit that is exact, as parseDuration reads it.
QString formatDuration(Millis ms);

/// A size in bytes: a whole number of bytes, or a number and a unit ("512KiB", "1.5MiB",
/// "64MB"; B, kB, KiB, MB, MiB, GB, GiB), "0" for none; at most 1024GiB. On failure returns
/// false, leaves \a out alone and sets \a error, if given.
bool parseByteSize(const QString &text, qint64 *out, QString *error = nullptr);
/// 65536 -> "64KiB", 1500000 -> "1500000 bytes": the unit only where it is exact.
QString formatByteSize(qint64 bytes);

/// For ConfigKey::check on a size key (declare it ConfigKey::Kind::String): what is wrong with
/// \a value as a size, or an empty string. The host reports it at the key's file:line:column.
/// Duration keys need no check: ConfigKey::Kind::Duration is validated by the host.
QString checkByteSize(const QJsonValue &value);

/// The duration at \a key of a service's config (ServiceContext::config()), or \a fallback when
/// the key is absent or not a duration. The host validates a declared key before the service
/// starts, so a bad value only reaches a service started without a config file (tests).
Millis durationValue(const QJsonObject &config, const QString &key, Millis fallback = Millis(0));
/// The size at \a key of a service's config, a string as parseByteSize reads it or a whole
/// number of bytes, or \a fallback when the key is absent or not a size (see durationValue).
qint64 byteSizeValue(const QJsonObject &config, const QString &key, qint64 fallback = 0);

} // namespace berth
