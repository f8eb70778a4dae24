// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixture's HTTP/1.1 helpers: endpoint lookup, reason phrases, HTTP-dates, request heads.
#include "httpfixture_p.h"

#include <QtCore/QLocale>

namespace berth::fixturedetail {

Endpoint endpointOf(QByteArrayView path)
{
    for (int i = 0; i < EndpointCount; ++i) {
        if (kPaths[size_t(i)] == path)
            return Endpoint(i);
    }
    return Endpoint::Other;
}

QByteArrayView reasonPhrase(int code)
{
    switch (code) {
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 413: return "Content Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

QByteArray httpDate(const QDateTime &utc)
{
    return QLocale::c().toString(utc, u"ddd, dd MMM yyyy hh:mm:ss 'GMT'").toLatin1();
}

/// Parses the head in \a head (up to and including the empty line). False if malformed.
bool parseHead(QByteArrayView head, Request *req)
{
    qsizetype eol = head.indexOf("\r\n");
    const QByteArrayView line = head.first(eol);
    const qsizetype sp1 = line.indexOf(' ');
    const qsizetype sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
    if (sp1 <= 0 || sp2 <= sp1 + 1)
        return false;
    req->method = line.first(sp1);
    req->target = line.sliced(sp1 + 1, sp2 - sp1 - 1);
    req->version = line.sliced(sp2 + 1);
    if (!req->version.startsWith("HTTP/1.") || !req->target.startsWith('/'))
        return false;
    const qsizetype q = req->target.indexOf('?');
    req->path = q < 0 ? req->target : req->target.first(q);
    req->query = q < 0 ? QByteArrayView() : req->target.sliced(q + 1);
    for (qsizetype pos = eol + 2; pos < head.size();) {
        eol = head.indexOf("\r\n", pos);
        if (eol <= pos)
            break;   // the empty line
        const QByteArrayView h = head.sliced(pos, eol - pos);
        const qsizetype colon = h.indexOf(':');
        if (colon <= 0)
            return false;
        req->headers.append({h.first(colon).trimmed(), h.sliced(colon + 1).trimmed()});
        pos = eol + 2;
    }
    req->headOnly = req->method == "HEAD";
    const QByteArrayView connection = req->header("connection");
    if (req->version == "HTTP/1.0")
        req->keepAlive = connection.compare("keep-alive", Qt::CaseInsensitive) == 0;
    else
        req->keepAlive = connection.compare("close", Qt::CaseInsensitive) != 0;
    const QByteArrayView te = req->header("transfer-encoding");
    req->chunkedBody = !te.isNull() && te.compare("identity", Qt::CaseInsensitive) != 0;
    if (const QByteArrayView cl = req->header("content-length"); !cl.isNull()) {
        bool ok = false;
        req->contentLength = cl.toLongLong(&ok);
        if (!ok || req->contentLength < 0)
            return false;
    }
    return true;
}

} // namespace berth::fixturedetail
