// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "service/servicecontext_p.h"

#include "network/networksessioncontrol_p.h"

#include <berth/networksession.h>

#include <QtCore/QList>
#include <QtCore/QStringList>

#include <exception>

namespace berth {

void StopToken::fireStop()
{
    if (m_stop)
        return;
    m_stop = true;
    Q_EMIT stopRequested();
}

void StopToken::fireCancel()
{
    fireStop();
    if (m_cancel)
        return;
    m_cancel = true;
    Q_EMIT cancelRequested();
}

struct ServiceContext::Private
{
    QString name;
    QString type;
    QJsonObject config;
    WorkLedger *ledger = nullptr;
    QByteArray categoryName;   // must outlive the category, which keeps the pointer
    std::unique_ptr<QLoggingCategory> category;
    std::unique_ptr<StopToken> token;
    QList<std::function<void()>> closeCallbacks;
    NetworkOptions networkOptions;
    const std::atomic<int> *earlyStop = nullptr;
    bool processExitsAfterClose = false;
    NetworkSession *session = nullptr;                     ///< the open one, if any
    std::vector<std::unique_ptr<NetworkSession>> sessions; ///< closed ones keep leaked replies valid
};

ServiceContext::ServiceContext(const QString &name, const QString &type, const QJsonObject &config,
                               WorkLedger *ledger)
    : d(std::make_unique<Private>())
{
    d->name = name;
    d->type = type;
    d->config = config;
    d->ledger = ledger;
    d->categoryName = "berth.service." + name.toUtf8();
    // QtInfoMsg: debug output of services is off unless QT_LOGGING_RULES turns it on.
    d->category = std::make_unique<QLoggingCategory>(d->categoryName.constData(), QtInfoMsg);
    d->token = std::make_unique<StopToken>();
}

ServiceContext::~ServiceContext()
{
    // Sessions go first: their replies must not outlive the token and ledger they report to.
    d->sessions.clear();
}

NetworkSession *ServiceContext::network()
{
    if (d->session && d->session->state() != NetworkSession::State::Closed)
        return d->session;
    auto session = std::make_unique<NetworkSession>(d->name, d->ledger, d->networkOptions);
    NetworkSession::Control::connectToken(*session, d->token.get());
    NetworkSession::Control::setEarlyStop(*session, d->earlyStop);
    d->session = session.get();
    d->sessions.push_back(std::move(session));
    NetworkSession *s = d->session;
    // Registered first, so it runs after the service's own close callbacks (reverse order):
    // a service may still flush through its session in close.
    d->closeCallbacks.prepend([s, p = d.get()] {
        using Teardown = NetworkSession::Control::Teardown;
        NetworkSession::Control::close(*s, p->processExitsAfterClose ? Teardown::AtProcessExit : Teardown::Now);
    });
    return s;
}

void ServiceContext::Control::setNetworkOptions(ServiceContext &context, const NetworkOptions &options,
                                                 const std::atomic<int> *earlyStop)
{
    Private *d = context.d.get();
    d->networkOptions = options;
    d->earlyStop = earlyStop;
}

void ServiceContext::Control::setProcessExitsAfterClose(ServiceContext &context, bool exits)
{
    Private *d = context.d.get();
    d->processExitsAfterClose = exits;
}

QString ServiceContext::name() const { return d->name; }
QString ServiceContext::type() const { return d->type; }
QJsonObject ServiceContext::config() const { return d->config; }
const QLoggingCategory &ServiceContext::log() const { return *d->category; }
StopToken *ServiceContext::stopToken() const { return d->token.get(); }
WorkLedger *ServiceContext::ledger() const { return d->ledger; }

WorkTicket ServiceContext::track(const QString &kind, const QString &name,
                                 std::function<void()> cancel, const std::source_location &where)
{
    const quint64 id = d->ledger->add(d->name, kind, name, std::move(cancel), where);
    return WorkTicket(d->ledger, id);
}

void ServiceContext::onClose(std::function<void()> callback)
{
    d->closeCallbacks.append(std::move(callback));
}

void ServiceContext::Control::setConfig(ServiceContext &context, const QJsonObject &config)
{
    Private *d = context.d.get();
    d->config = config;
}

QStringList ServiceContext::Control::runCloseCallbacks(ServiceContext &context)
{
    Private *d = context.d.get();
    QStringList errors;
    auto callbacks = std::exchange(d->closeCallbacks, {});
    for (auto it = callbacks.crbegin(); it != callbacks.crend(); ++it) {
        // One failing close callback must not keep the others from flushing.
        try {
            (*it)();
        } catch (const std::exception &e) {
            errors.append(QString::fromUtf8(e.what()));
        } catch (...) {
            errors.append(QStringLiteral("unknown exception"));
        }
    }
    return errors;
}

void ServiceContext::Control::resetToken(ServiceContext &context)
{
    Private *d = context.d.get();
    d->token = std::make_unique<StopToken>();
}

} // namespace berth
