// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// JSON with positions: the document's structure (values, objects, arrays, whitespace).
#include "config/configjson_p.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>

using namespace Qt::StringLiterals;

namespace berth {

namespace {
constexpr int MaxDepth = 256;
} // namespace

bool JsonParser::run()
{
    if (m_text.startsWith("\xEF\xBB\xBF"))
        m_pos = 3;
    const qsizetype bad = firstInvalidUtf8(m_text, m_pos);
    if (bad >= 0) {
        while (m_pos < bad)
            advance();
        return fail(here(), u"invalid UTF-8 (byte 0x%1); the file must be saved as UTF-8"_s
                                .arg(upperHex(uchar(m_text.at(bad)), 2)));
    }
    if (!skipWhitespace())
        return false;
    if (atEnd())
        return fail(here(), u"empty document; expected a JSON value"_s);
    if (!parseValue(QString(), &m_out->root, 0) || !skipWhitespace())
        return false;
    if (!atEnd())
        return fail(here(), u"unexpected %1 after the end of the document"_s.arg(describeHere()));
    return true;
}

QString JsonParser::describeHere() const
{
    if (atEnd())
        return u"end of input"_s;
    const auto c = uchar(peek());
    if (c >= 0x80) {
        qsizetype len = 1;
        while (m_pos + len < m_text.size() && isUtf8Continuation(uchar(peek(len))))
            ++len;
        return u"character '%1'"_s.arg(QString::fromUtf8(m_text.mid(m_pos, len)));
    }
    if (c < 0x20 || c == 0x7F)
        return u"control character U+%1"_s.arg(upperHex(c, 4));
    return u"character '%1'"_s.arg(QLatin1Char(char(c)));
}

bool JsonParser::skipWhitespace()
{
    while (!atEnd()) {
        const char c = peek();
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            advance();
        else if (c == '/' && (peek(1) == '/' || peek(1) == '*'))
            return fail(here(), u"comments are not allowed in JSON"_s);
        else
            break;
    }
    return true;
}

bool JsonParser::failEnd(JsonPosition open, const QString &what)
{
    return fail(here(), u"unexpected end of input; the %1 opened at line %2, column %3 is not closed"_s
                            .arg(what).arg(open.line).arg(open.column));
}

bool JsonParser::parseValue(const QString &path, QJsonValue *out, int depth)
{
    if (depth > MaxDepth)
        return fail(here(), u"nesting is deeper than %1 levels"_s.arg(MaxDepth));
    if (atEnd())
        return fail(here(), u"unexpected end of input; expected a value"_s);
    m_out->values.insert(path, here());
    const char c = peek();
    if (c == '{')
        return parseObject(path, out, depth);
    if (c == '[')
        return parseArray(path, out, depth);
    if (c == '"') {
        QString s;
        if (!parseString(&s))
            return false;
        *out = s;
        return true;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return parseWord(out);
    if (c == '\'')
        return fail(here(), u"strings must use double quotes, not single quotes"_s);
    return fail(here(), u"expected a value, found %1"_s.arg(describeHere()));
}

bool JsonParser::parseObject(const QString &path, QJsonValue *out, int depth)
{
    const JsonPosition open = here();
    advance();
    QJsonObject object;
    QHash<QString, JsonPosition> seen;
    if (!skipWhitespace())
        return false;
    if (peek() == '}') {
        advance();
        *out = object;
        return true;
    }
    while (true) {
        if (atEnd())
            return failEnd(open, u"object"_s);
        if (peek() != '"') {
            if (peek() == '\'')
                return fail(here(), u"strings must use double quotes, not single quotes"_s);
            return fail(here(), u"expected a key in double quotes, found %1"_s.arg(describeHere()));
        }
        const JsonPosition keyPos = here();
        QString key;
        if (!parseString(&key) || !skipWhitespace())
            return false;
        const auto first = seen.constFind(key);
        if (first != seen.constEnd()) {
            return fail(keyPos, u"duplicate key \"%1\" on line %2; it is already defined on line %3"_s
                                    .arg(key).arg(keyPos.line).arg(first->line));
        }
        seen.insert(key, keyPos);
        if (atEnd())
            return failEnd(open, u"object"_s);
        if (peek() != ':')
            return fail(here(), u"expected ':' after object key, found %1"_s.arg(describeHere()));
        advance();
        if (!skipWhitespace())
            return false;
        const QString childPath = PositionedJson::member(path, key);
        m_out->keys.insert(childPath, keyPos);
        QJsonValue child;
        if (!parseValue(childPath, &child, depth + 1) || !skipWhitespace())
            return false;
        object.insert(key, child);
        if (atEnd())
            return failEnd(open, u"object"_s);
        if (peek() == '}') {
            advance();
            break;
        }
        if (peek() != ',')
            return fail(here(), u"expected ',' or '}' after object member, found %1"_s.arg(describeHere()));
        const JsonPosition comma = here();
        advance();
        if (!skipWhitespace())
            return false;
        if (peek() == '}')
            return fail(comma, u"trailing comma before '}' is not allowed"_s);
    }
    *out = object;
    return true;
}

bool JsonParser::parseArray(const QString &path, QJsonValue *out, int depth)
{
    const JsonPosition open = here();
    advance();
    QJsonArray array;
    if (!skipWhitespace())
        return false;
    if (peek() == ']') {
        advance();
        *out = array;
        return true;
    }
    while (true) {
        if (atEnd())
            return failEnd(open, u"array"_s);
        QJsonValue child;
        if (!parseValue(PositionedJson::element(path, array.size()), &child, depth + 1)
            || !skipWhitespace())
            return false;
        array.append(child);
        if (atEnd())
            return failEnd(open, u"array"_s);
        if (peek() == ']') {
            advance();
            break;
        }
        if (peek() != ',')
            return fail(here(), u"expected ',' or ']' after array element, found %1"_s.arg(describeHere()));
        const JsonPosition comma = here();
        advance();
        if (!skipWhitespace())
            return false;
        if (peek() == ']')
            return fail(comma, u"trailing comma before ']' is not allowed"_s);
    }
    *out = array;
    return true;
}

bool parsePositionedJson(const QByteArray &text, PositionedJson *out, JsonSyntaxError *error)
{
    *out = PositionedJson();
    *error = JsonSyntaxError();
    return JsonParser(text, out, error).run();
}

} // namespace berth
