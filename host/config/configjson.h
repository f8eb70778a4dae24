// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A strict JSON parser that remembers where every value and key is, so that configuration errors
// can name line:column. QJsonDocument parses fine but forgets positions.
#pragma once

#include <QtCore/QByteArray>
#include <QtCore/QHash>
#include <QtCore/QJsonValue>
#include <QtCore/QString>

namespace berth {

/// 1-based; columns count Unicode code points (a tab is one column). 0 means unknown.
struct JsonPosition
{
    int line = 0;
    int column = 0;
    bool isValid() const { return line > 0; }
};

struct JsonSyntaxError
{
    int line = 0;
    int column = 0;
    QString message;   ///< a sentence, e.g. "expected ',' or '}' after object member"
};

/// A parsed document plus positions addressed by key path: "" is the root,
/// "shutdown.deadline" an object member, "services[0].after[2]" an array element.
struct PositionedJson
{
    QJsonValue root;
    QHash<QString, JsonPosition> values;   ///< path -> first character of the value
    QHash<QString, JsonPosition> keys;     ///< path -> opening quote of the member's key

    JsonPosition valueAt(const QString &path) const { return values.value(path); }
    /// The key's position for object members; the value's for array elements and the root.
    JsonPosition keyAt(const QString &path) const
    {
        const auto it = keys.constFind(path);
        return it != keys.constEnd() ? *it : valueAt(path);
    }

    static QString member(const QString &path, const QString &key)
    {
        return path.isEmpty() ? key : path + u'.' + key;
    }
    static QString element(const QString &path, qsizetype index)
    {
        return path + u'[' + QString::number(index) + u']';
    }
};

/// Parses UTF-8 \a text (an optional BOM is skipped) as strict RFC 8259 JSON: no comments,
/// no trailing commas, no duplicate keys. Returns false and fills \a error on the first problem.
bool parsePositionedJson(const QByteArray &text, PositionedJson *out, JsonSyntaxError *error);

} // namespace berth
