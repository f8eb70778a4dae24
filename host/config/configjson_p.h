// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The positioned JSON parser behind parsePositionedJson() (configjson.h): structure (values,
// objects, arrays, whitespace) in configjson.cpp, scalars (literals, numbers, strings and their
// escapes, UTF-8) in configjson_scalars.cpp.
#pragma once

#include "config/configjson.h"

#include <QtCore/QByteArray>
#include <QtCore/QJsonValue>
#include <QtCore/QString>

namespace berth {

inline bool isUtf8Continuation(uchar c) { return (c & 0xC0) == 0x80; }
/// \a value in upper-case hex, zero-padded to \a width digits.
QString upperHex(uint value, int width);
/// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, no surrogates,
/// nothing above U+10FFFF), or -1.
qsizetype firstInvalidUtf8(const QByteArray &text, qsizetype from);

class JsonParser
{
public:
    JsonParser(const QByteArray &text, PositionedJson *out, JsonSyntaxError *error)
        : m_text(text), m_out(out), m_error(error)
    {
    }

    bool run();

private:
    bool atEnd() const { return m_pos >= m_text.size(); }
    char peek(qsizetype ahead = 0) const
    {
        return m_pos + ahead < m_text.size() ? m_text.at(m_pos + ahead) : '\0';
    }
    JsonPosition here() const { return {m_line, m_column}; }

    void advance()
    {
        const char c = m_text.at(m_pos++);
        if (c == '\n' || (c == '\r' && peek() != '\n')) {
            ++m_line;
            m_column = 1;
        } else if (c != '\r' && !isUtf8Continuation(uchar(c))) {
            ++m_column;
        }
    }

    bool fail(JsonPosition at, const QString &message)
    {
        m_error->line = at.line;
        m_error->column = at.column;
        m_error->message = message;
        return false;
    }

    QString describeHere() const;
    bool failEnd(JsonPosition open, const QString &what);

    // Structure (configjson.cpp).
    bool skipWhitespace();
    bool parseValue(const QString &path, QJsonValue *out, int depth);
    bool parseObject(const QString &path, QJsonValue *out, int depth);
    bool parseArray(const QString &path, QJsonValue *out, int depth);

    // Scalars (configjson_scalars.cpp).
    bool parseWord(QJsonValue *out);
    bool parseNumber(QJsonValue *out);
    bool parseHex4(char32_t *out);
    bool parseEscape(QByteArray *raw);
    bool parseString(QString *out);

    const QByteArray &m_text;
    PositionedJson *m_out;
    JsonSyntaxError *m_error;
    qsizetype m_pos = 0;
    int m_line = 1;
    int m_column = 1;
};

} // namespace berth
