// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Entry points: read, parse (configjson.cpp) and validate (configvalidate.cpp) a configuration,
// then present the errors in file order.
#include "config/config.h"

#include "config/configjson.h"
#include "config/configvalidate_p.h"

#include <QtCore/QFile>

#include <algorithm>

using namespace Qt::StringLiterals;

namespace berth {

namespace {

int editDistance(const QString &a, const QString &b)
{
    QList<int> row(b.size() + 1);
    for (qsizetype j = 0; j <= b.size(); ++j)
        row[j] = int(j);
    for (qsizetype i = 1; i <= a.size(); ++i) {
        int diagonal = row[0];
        row[0] = int(i);
        for (qsizetype j = 1; j <= b.size(); ++j) {
            const int next = std::min({row[j] + 1, row[j - 1] + 1,
                                       diagonal + (a.at(i - 1) == b.at(j - 1) ? 0 : 1)});
            diagonal = row[j];
            row[j] = next;
        }
    }
    return row[b.size()];
}

} // namespace

QString ConfigError::toString() const
{
    QStringList location;
    if (!file.isEmpty())
        location.append(file);
    if (line > 0)
        location.append(QString::number(line));
    if (line > 0 && column > 0)
        location.append(QString::number(column));
    QString out = location.join(u':');
    if (!out.isEmpty())
        out += u": "_s;
    if (!keyPath.isEmpty())
        out += keyPath + u": "_s;
    return out + message;
}

QString suggestClosest(const QString &word, const QStringList &candidates)
{
    const QString lower = word.toLower();
    int best = std::max<int>(2, int(lower.size() / 3)) + 1;
    QString closest;
    for (const QString &candidate : candidates) {
        const int d = editDistance(lower, candidate.toLower());
        if (d < best && d < lower.size()) {
            best = d;
            closest = candidate;
        }
    }
    return closest;
}

ConfigResult parseConfig(const QByteArray &json, const QString &fileName, const ServiceRegistry &types)
{
    ConfigResult result;
    PositionedJson doc;
    JsonSyntaxError syntax;
    if (!parsePositionedJson(json, &doc, &syntax)) {
        result.errors.append({fileName, syntax.line, syntax.column, QString(), syntax.message});
        return result;
    }
    validateConfig(doc, fileName, types, &result);
    // The validator reports in the order it checks (cross-service checks come last); users read
    // the file top to bottom, so present the errors that way.
    std::stable_sort(result.errors.begin(), result.errors.end(), [](const ConfigError &a, const ConfigError &b) {
        return a.line != b.line ? a.line < b.line : a.column < b.column;
    });
    return result;
}

ConfigResult loadConfigFile(const QString &path, const ServiceRegistry &types)
{
    QFile file(path);
    ConfigResult result;
    QByteArray json;
    if (file.open(QIODevice::ReadOnly))
        json = file.readAll();
    if (file.error() != QFileDevice::NoError) {
        result.errors.append({path, 0, 0, QString(),
                              u"cannot read the config file: %1"_s.arg(file.errorString())});
    } else {
        result = parseConfig(json, path, types);
    }
    result.config.sourceFile = path;
    return result;
}

QByteArray demoConfigJson()
{
    // "site" is a small HTTP server of the demo's own on 127.0.0.1:28080; "poller" polls it with
    // tracked requests, so a stop shows them drain (or, with a second Ctrl+C, cancelled).
    // BERTH_DEMO_PORT moves it (the tests' hook: they run the demo on a free port, not 28080).
    QByteArray json = QByteArrayLiteral(R"({
  "shutdown": { "deadline": "10s", "drain": "3s", "cancel": "2s" },
  "services": [
    { "name": "store", "type": "chaos",
      "config": { "startDelay": "300ms", "stopDelay": "200ms" } },
    { "name": "worker", "type": "chaos", "after": ["store"],
      "config": { "workEvery": "200ms", "workDuration": "600ms", "stopDelay": "100ms" } },
    { "name": "reporter", "type": "chaos", "after": ["worker", "store"],
      "config": { "startDelay": "100ms" } },
    { "name": "site", "type": "http-fixture", "config": { "port": 28080 } },
    { "name": "poller", "type": "http-poller", "after": ["site"],
      "config": { "url": ["http://127.0.0.1:28080/delay?ms=1500", "http://127.0.0.1:28080/fast"],
                  "concurrency": 2, "interval": "1s" } }
  ]
}
)");
    const QByteArray port = qgetenv("BERTH_DEMO_PORT");
    bool ok = false;
    if (const int p = port.toInt(&ok); ok && p > 0 && p < 65536)
        json.replace("28080", QByteArray::number(p));
    return json;
}

} // namespace berth
