// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixtureService: the "http-fixture" service type, HttpFixture on the host's event loop.
#include "httpfixture.h"

#include <berth/servicecontext.h>

#include <QtCore/QJsonObject>

using namespace Qt::StringLiterals;

namespace berth {

// ---- HttpFixtureService ------------------------------------------------------------------------

HttpFixtureService::HttpFixtureService() = default;

HttpFixtureService::~HttpFixtureService()
{
    if (m_fixture)
        m_fixture->stop();   // ends what is left through the hooks, while m_tickets still exists
}

ServiceType HttpFixtureService::type()
{
    using K = ConfigKey::Kind;
    return ServiceType{
        u"http-fixture"_s,
        u"a local HTTP test server (fast, delayed, never-replying, failing, resetting, trickling endpoints)"_s,
        {
            {u"port"_s, K::Integer, u"port to listen on (default 0: any free port, logged at start)"_s, false, {}},
            {u"address"_s, K::Enum, u"address to listen on (default 127.0.0.1); never outside the machine"_s, false,
             {u"127.0.0.1"_s, u"::1"_s}},
        },
        [] { return std::make_unique<HttpFixtureService>(); },
    };
}

void HttpFixtureService::start()
{
    const QJsonObject cfg = context().config();
    const qint64 port = cfg.value(u"port"_s).toInteger(0);
    const QHostAddress address(cfg.value(u"address"_s).toString(u"127.0.0.1"_s));
    if (port < 0 || port > 65535) {
        reportFailed(u"port %1 is out of range (0 to 65535)"_s.arg(port));
        return;
    }
    m_fixture = std::make_unique<HttpFixture>();
    m_fixture->setPendingHooks(
        [this](quint64 id, const QString &what) {
            // The ledger may cancel on arrival (after the cancel phase): that closes the connection.
            m_tickets.emplace(id, context().track(u"response"_s, what, [this, id] { m_fixture->cancelPending(id); }));
        },
        [this](quint64 id) {
            if (auto it = m_tickets.find(id); it != m_tickets.end()) {
                it->second.finish();
                m_tickets.erase(it);
            }
        });
    if (!m_fixture->start(address, quint16(port))) {
        const QString error = m_fixture->errorString();
        m_fixture.reset();
        reportFailed(error);
        return;
    }
    m_listenConfig = cfg;
    qCInfo(context().log()).noquote() << u"listening on %1"_s.arg(m_fixture->url(QString()).toString());
    reportReady();
}

void HttpFixtureService::stop()
{
    // Not at intake: the services that depend on this one stop first and may still drain into it.
    if (m_fixture) {
        m_fixture->drain();
        if (const int n = m_fixture->pendingResponses())
            qCInfo(context().log()).noquote() << u"stopped listening; %1 response(s) in progress"_s.arg(n);
    }
    reportStopped();
}

void HttpFixtureService::cancel()
{
    // The host has cancelled our ledger entries (their connections are closed); close the rest.
    if (m_fixture)
        m_fixture->stop();
}

void HttpFixtureService::reload(const QJsonObject &config)
{
    const QJsonObject &old = m_listenConfig;
    if (config.value(u"port"_s) != old.value(u"port"_s) || config.value(u"address"_s) != old.value(u"address"_s))
        qCWarning(context().log()) << "port and address changes take effect when the service restarts";
}

} // namespace berth
