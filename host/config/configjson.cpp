// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "config/configjson.h"

#include <QtCore/QJsonArray>
#include <QtCore/QJsonObject>

#include <cctype>
#include <cmath>

using namespace Qt::StringLiterals;

namespace berth {

namespace {

constexpr int MaxDepth = 256;

bool isContinuation(uchar c) { return (c & 0xC0) == 0x80; }

QString hex(uint value, int width)
{
    return QString::number(value, 16).toUpper().rightJustified(width, u'0');
}

/// Offset of the first byte that is not part of well-formed UTF-8 (no overlongs, no surrogates,
/// nothing above U+10FFFF), or -1.
qsizetype firstInvalidUtf8(const QByteArray &text, qsizetype from)
{
    const auto *p = reinterpret_cast<const uchar *>(text.constData());
    const qsizetype n = text.size();
    for (qsizetype i = from; i < n;) {
        const uchar c = p[i];
        int len = 0;
        char32_t min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        char32_t cp = c & (0x7F >> len);
        for (int k = 1; k < len; ++k) {
            if (!isContinuation(p[i + k]))
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return -1;
}

void appendUtf8(QByteArray *out, char32_t cp)
{
    if (cp < 0x80) {
        out->append(char(cp));
    } else if (cp < 0x800) {
        out->append(char(0xC0 | (cp >> 6)));
        out->append(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out->append(char(0xE0 | (cp >> 12)));
        out->append(char(0x80 | ((cp >> 6) & 0x3F)));
        out->append(char(0x80 | (cp & 0x3F)));
    } else {
        out->append(char(0xF0 | (cp >> 18)));
        out->append(char(0x80 | ((cp >> 12) & 0x3F)));
        out->append(char(0x80 | ((cp >> 6) & 0x3F)));
        out->append(char(0x80 | (cp & 0x3F)));
    }
}

class Parser
{
public:
    Parser(const QByteArray &text, PositionedJson *out, JsonSyntaxError *error)
        : m_text(text), m_out(out), m_error(error)
    {
    }

    bool run()
    {
        if (m_text.startsWith("\xEF\xBB\xBF"))
            m_pos = 3;
        const qsizetype bad = firstInvalidUtf8(m_text, m_pos);
        if (bad >= 0) {
            while (m_pos < bad)
                advance();
            return fail(here(), u"invalid UTF-8 (byte 0x%1); the file must be saved as UTF-8"_s
                                    .arg(hex(uchar(m_text.at(bad)), 2)));
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
        } else if (c != '\r' && !isContinuation(uchar(c))) {
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

    QString describeHere() const
    {
        if (atEnd())
            return u"end of input"_s;
        const auto c = uchar(peek());
        if (c >= 0x80) {
            qsizetype len = 1;
            while (m_pos + len < m_text.size() && isContinuation(uchar(peek(len))))
                ++len;
            return u"character '%1'"_s.arg(QString::fromUtf8(m_text.mid(m_pos, len)));
        }
        if (c < 0x20 || c == 0x7F)
            return u"control character U+%1"_s.arg(hex(c, 4));
        return u"character '%1'"_s.arg(QLatin1Char(char(c)));
    }

    bool skipWhitespace()
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

    bool failEnd(JsonPosition open, const QString &what)
    {
        return fail(here(), u"unexpected end of input; the %1 opened at line %2, column %3 is not closed"_s
                                .arg(what).arg(open.line).arg(open.column));
    }

    bool parseValue(const QString &path, QJsonValue *out, int depth)
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

    bool parseWord(QJsonValue *out)
    {
        const JsonPosition start = here();
        QString word;
        while (!atEnd() && (std::isalnum(uchar(peek())) || peek() == '_')) {
            word.append(QLatin1Char(peek()));
            advance();
        }
        if (word == u"true"_s || word == u"false"_s) {
            *out = word == u"true"_s;
            return true;
        }
        if (word == u"null"_s) {
            *out = QJsonValue(QJsonValue::Null);
            return true;
        }
        const QString lower = word.toLower();
        if (lower == u"true"_s || lower == u"false"_s || lower == u"null"_s)
            return fail(start, u"\"%1\" is not valid JSON; write \"%2\""_s.arg(word, lower));
        return fail(start, u"unexpected word \"%1\"; strings must be in double quotes"_s.arg(word));
    }

    bool parseNumber(QJsonValue *out)
    {
        const JsonPosition start = here();
        const qsizetype begin = m_pos;
        const auto digits = [this] {
            int n = 0;
            for (; peek() >= '0' && peek() <= '9'; ++n)
                advance();
            return n;
        };
        if (peek() == '-')
            advance();
        if (peek() == '0') {
            advance();
            if (peek() >= '0' && peek() <= '9')
                return fail(start, u"numbers must not have leading zeros"_s);
        } else if (digits() == 0) {
            return fail(here(), u"expected a digit after '-'"_s);
        }
        if (peek() == '.') {
            advance();
            if (digits() == 0)
                return fail(here(), u"expected a digit after '.'"_s);
        }
        if (peek() == 'e' || peek() == 'E') {
            advance();
            if (peek() == '+' || peek() == '-')
                advance();
            if (digits() == 0)
                return fail(here(), u"expected a digit in the exponent"_s);
        }
        if (std::isalpha(uchar(peek())))
            return fail(here(), u"unexpected %1 after a number; durations are strings, e.g. \"10s\""_s
                                    .arg(describeHere()));
        bool ok = false;
        const double d = m_text.mid(begin, m_pos - begin).toDouble(&ok);
        if (!ok || !std::isfinite(d))
            return fail(start, u"number is out of range"_s);
        *out = d;
        return true;
    }

    bool parseHex4(char32_t *out)
    {
        *out = 0;
        for (int i = 0; i < 4; ++i) {
            const char c = peek();
            int v = -1;
            if (c >= '0' && c <= '9')
                v = c - '0';
            else if (c >= 'a' && c <= 'f')
                v = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                v = c - 'A' + 10;
            if (v < 0)
                return false;
            *out = (*out << 4) | char32_t(v);
            advance();
        }
        return true;
    }

    bool parseEscape(QByteArray *raw)
    {
        const JsonPosition at = here();
        advance(); // backslash
        const char c = peek();
        static constexpr char from[] = "\"\\/bfnrt";
        static constexpr char to[] = "\"\\/\b\f\n\r\t";
        for (int i = 0; from[i]; ++i) {
            if (c == from[i]) {
                raw->append(to[i]);
                advance();
                return true;
            }
        }
        if (c != 'u') {
            if (atEnd())
                return fail(at, u"unterminated string"_s);
            return fail(at, u"invalid escape '\\%1' in string"_s.arg(QLatin1Char(c)));
        }
        advance();
        char32_t cp = 0;
        if (!parseHex4(&cp))
            return fail(at, u"expected four hex digits after '\\u'"_s);
        if (cp >= 0xDC00 && cp <= 0xDFFF)
            return fail(at, u"unpaired low surrogate in '\\u' escape"_s);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            char32_t low = 0;
            if (peek() != '\\' || peek(1) != 'u')
                return fail(at, u"high surrogate in '\\u' escape is not followed by a low surrogate"_s);
            advance();
            advance();
            if (!parseHex4(&low) || low < 0xDC00 || low > 0xDFFF)
                return fail(at, u"high surrogate in '\\u' escape is not followed by a low surrogate"_s);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        appendUtf8(raw, cp);
        return true;
    }

    bool parseString(QString *out)
    {
        const JsonPosition start = here();
        advance(); // opening quote
        QByteArray raw;
        while (true) {
            if (atEnd() || peek() == '\n' || peek() == '\r')
                return fail(start, u"unterminated string"_s);
            const auto c = uchar(peek());
            if (c == '"') {
                advance();
                break;
            }
            if (c == '\\') {
                if (!parseEscape(&raw))
                    return false;
            } else if (c < 0x20) {
                return fail(here(), u"%1 in string; escape it (e.g. \\t)"_s.arg(describeHere()));
            } else {
                raw.append(char(c));
                advance();
            }
        }
        *out = QString::fromUtf8(raw);
        return true;
    }

    bool parseObject(const QString &path, QJsonValue *out, int depth)
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

    bool parseArray(const QString &path, QJsonValue *out, int depth)
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

    const QByteArray &m_text;
    PositionedJson *m_out;
    JsonSyntaxError *m_error;
    qsizetype m_pos = 0;
    int m_line = 1;
    int m_column = 1;
};

} // namespace

bool parsePositionedJson(const QByteArray &text, PositionedJson *out, JsonSyntaxError *error)
{
    *out = PositionedJson();
    *error = JsonSyntaxError();
    return Parser(text, out, error).run();
}

} // namespace berth
