// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The host's configuration: parsed from JSON with the position of every value, strictly
// validated, each error naming file:line:column and the key path.
#pragma once

#include <berth/configvalue.h>   // Millis, parseDuration, parseByteSize and their format functions
#include <berth/networkoptions.h>

#include <QtCore/QJsonObject>
#include <QtCore/QList>
#include <QtCore/QString>
#include <QtCore/QStringList>

namespace berth {

class ServiceRegistry;

enum class FailurePolicy { StopHost, Restart, Ignore };

struct ShutdownConfig
{
    Millis deadline{10000};   ///< "deadline": the whole shutdown, request to exit
    Millis intakeDelay{0};    ///< "intakeDelay": keep serving this long after the request (k8s)
    /// "drain", "cancel", "reserve" as the file gives them. One not given follows the deadline
    /// (shutdownBudgets()); after validation these hold the values for the configured deadline.
    Millis drain{5000};       ///< "drain": in-flight work may finish
    Millis cancel{2000};      ///< "cancel": cancelled work may wind down
    Millis reserve{250};      ///< "reserve": kept back at the end for close, report and log flush
    bool drainGiven = false;
    bool cancelGiven = false;
    bool reserveGiven = false;
    /// "fastExit": once close is done and the report written, the berth executable ends the
    /// process without unwinding (idle connections and memory go back through the kernel).
    bool fastExit = true;
};

/// The phases' budgets for one shutdown whose deadline is \a deadline (the configured one, or
/// the smaller one a supervisor allows). What the config does not give follows the deadline:
/// after the intake delay, drain takes half of what is left and cancel a fifth; the reserve is
/// 250ms; join has the rest. Given values are kept, and every value is clamped so that the
/// phases end by deadline - reserve, where the reserve is at most a quarter of the deadline.
struct ShutdownBudgets
{
    Millis intakeDelay{0};
    Millis drain{0};
    Millis cancel{0};
    Millis join{0};
    Millis reserve{0};
};
ShutdownBudgets shutdownBudgets(const ShutdownConfig &config, Millis deadline);
/// "deadline 2s: drain 1s, cancel 400ms, join 350ms, reserve 250ms (drain, cancel and reserve
/// follow the deadline)", for `berth check` and the log.
QString describeBudgets(const ShutdownConfig &config, Millis deadline);

struct ServiceConfig
{
    QString name;
    QString type;
    QStringList after;               ///< names of services this one depends on
    Millis startTimeout{10000};      ///< "startTimeout"
    Millis stopTimeout{0};           ///< "stopTimeout"; 0 = only the shutdown budget applies
    FailurePolicy onFailure = FailurePolicy::StopHost; ///< "onFailure": "stop-host"|"restart"|"ignore"
    Millis restartDelay{1000};       ///< "restartDelay": first backoff step
    Millis restartMaxDelay{30000};   ///< "restartMaxDelay": backoff cap
    int restartLimit = 0;            ///< "restartLimit": restarts allowed, 0 = unlimited
    QJsonObject config;              ///< "config": the type's own settings, already validated
    NetworkOptions network;          ///< "network": the top-level "network", then the service's own
};

struct HostConfig
{
    QString sourceFile;              ///< empty for the built-in demo
    ShutdownConfig shutdown;
    NetworkOptions network;          ///< top-level "network": defaults for every service
    QList<ServiceConfig> services;   ///< in file order
};

struct ConfigError
{
    QString file;
    int line = 0;      ///< 1-based; 0 when unknown
    int column = 0;    ///< 1-based; 0 when unknown
    QString keyPath;   ///< "services[1].config.stopDelay"; empty for syntax errors
    QString message;
    /// "berth.json:12:7: services[1].config.stopDelay: bad duration \"5x\" ..."
    QString toString() const;
};

struct ConfigResult
{
    HostConfig config;
    QList<ConfigError> errors;
    bool ok() const { return errors.isEmpty(); }
};

/// Parses and validates \a json; \a fileName is used in error messages only.
ConfigResult parseConfig(const QByteArray &json, const QString &fileName,
                         const ServiceRegistry &types);
/// Reads \a path and parses it. A missing or unreadable file is one error naming the file.
ConfigResult loadConfigFile(const QString &path, const ServiceRegistry &types);
/// The built-in configuration used when no --config is given (valid for the built-in types).
QByteArray demoConfigJson();

/// The closest of \a candidates to \a word (edit distance), or empty if none is close.
QString suggestClosest(const QString &word, const QStringList &candidates);

} // namespace berth
