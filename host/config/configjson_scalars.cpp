// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// JSON with positions: scalars (literals, numbers, strings and their escapes) and UTF-8.
#include "config/configjson_p.h"

#include <cctype>
#include <cmath>

using namespace Qt::StringLiterals;

namespace berth {

namespace {
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

} // namespace

QString upperHex(uint value, int width)
{
    return QString::number(value, 16).toUpper().rightJustified(width, u'0');
}

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
            if (!isUtf8Continuation(p[i + k]))
                return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += len;
    }
    return -1;
}

bool JsonParser::parseWord(QJsonValue *out)
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

bool JsonParser::parseNumber(QJsonValue *out)
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

bool JsonParser::parseHex4(char32_t *out)
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

bool JsonParser::parseEscape(QByteArray *raw)
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

bool JsonParser::parseString(QString *out)
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

} // namespace berth
