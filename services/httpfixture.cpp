// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// HttpFixture's public API (start, stop, counters) and HttpFixtureServer, its listener.
#include "httpfixture_p.h"

#include "platform.h"

#include <QtCore/QThread>

#include <limits>

namespace berth {

// ---- HttpFixtureServer -------------------------------------------------------------------------

HttpFixtureServer::HttpFixtureServer(std::shared_ptr<HttpFixtureStats> stats,
                                     std::function<void(quint64, const QString &)> started,
                                     std::function<void(quint64)> ended)
    : m_stats(std::move(stats)), m_started(std::move(started)), m_ended(std::move(ended))
{
    const QByteArray fast = "HTTP/1.1 200 OK\r\nContent-Length: " + QByteArray::number(kFastBody.size())
        + "\r\nContent-Type: text/plain\r\n";
    fastKeepAlive = fast + "\r\n" + kFastBody.toByteArray();
    fastClose = fast + "Connection: close\r\n\r\n" + kFastBody.toByteArray();
    // 1 000 clients connecting at once must not overflow the accept queue (Qt's default is 50).
    setListenBacklogSize(4096);
}

HttpFixtureServer::~HttpFixtureServer()
{
    shutdown();
}

void HttpFixtureServer::incomingConnection(qintptr fd)
{
    m_stats->opened();
    auto *c = new HttpFixtureConnection(this);
    if (!c->setSocketDescriptor(fd)) {
        delete c;   // counted as accepted, and closed at once
        return;
    }
    c->setSocketOption(QAbstractSocket::LowDelayOption, 1);
    m_connections.insert(c);
}

const QByteArray &HttpFixtureServer::date()
{
    const qint64 secs = QDateTime::currentSecsSinceEpoch();
    if (secs != m_dateSecs) {
        m_dateSecs = secs;
        m_date = httpDate(QDateTime::currentDateTimeUtc());
    }
    return m_date;
}

void HttpFixtureServer::pendingBegan(HttpFixtureConnection *c, const QString &description, quint64 *id)
{
    *id = ++m_nextPending;
    m_pending.insert(*id, c);
    ++m_stats->pending;
    if (m_started)
        m_started(*id, description);
}

void HttpFixtureServer::pendingEnded(quint64 id)
{
    if (!m_pending.remove(id))
        return;
    --m_stats->pending;
    if (m_ended)
        m_ended(id);
}

bool HttpFixtureServer::cancelPending(quint64 id)
{
    HttpFixtureConnection *c = m_pending.value(id);
    if (!c)
        return false;
    c->closeByServer(false);
    return true;
}

void HttpFixtureServer::drain()
{
    m_draining = true;
    close();
    for (HttpFixtureConnection *c : QSet<HttpFixtureConnection *>(m_connections)) {
        if (!c->isBusy())
            c->disconnectFromHost();   // idle, or its response is already queued: flush, close
    }
}

void HttpFixtureServer::shutdown()
{
    m_draining = true;
    close();
    const auto connections = std::exchange(m_connections, {});
    for (HttpFixtureConnection *c : connections) {
        c->closeByServer(false);
        delete c;
    }
}

// ---- HttpFixture -------------------------------------------------------------------------------

HttpFixture::HttpFixture(QObject *parent)
    : QObject(parent), m_stats(std::make_shared<HttpFixtureStats>())
{
}

HttpFixture::~HttpFixture()
{
    stop();
}

bool HttpFixture::start(const QHostAddress &address, quint16 port)
{
    return startOn(address, port, false);
}

bool HttpFixture::startInThread(const QHostAddress &address, quint16 port)
{
    return startOn(address, port, true);
}

bool HttpFixture::startOn(const QHostAddress &address, quint16 port, bool ownThread)
{
    if (m_server) {
        m_error = u"HttpFixture is already listening on port %1"_s.arg(m_port);
        return false;
    }
    if (address != QHostAddress(QHostAddress::LocalHost) && address != QHostAddress(QHostAddress::LocalHostIPv6)) {
        m_error = u"HttpFixture listens on 127.0.0.1 or ::1 only, not on %1"_s.arg(address.toString());
        return false;
    }
    platform::raiseOpenFileLimit();   // 1 000 connections need ~1 000 descriptors
    m_server = new HttpFixtureServer(m_stats, m_started, m_ended);
    if (ownThread) {
        m_thread = new QThread;
        m_thread->setObjectName(u"HttpFixture"_s);
        m_server->moveToThread(m_thread);
        m_thread->start();
    }
    bool ok = false;
    QString error;
    runOnServer([&] {
        ok = m_server->listen(address, port);
        error = m_server->errorString();
        m_port = m_server->serverPort();
    });
    m_address = address;
    if (!ok) {
        stop();
        m_port = 0;
        m_error = u"cannot listen on %1:%2: %3"_s.arg(address.toString()).arg(port).arg(error);
        return false;
    }
    m_error.clear();
    return true;
}

void HttpFixture::runOnServer(const std::function<void()> &fn) const
{
    if (!m_server)
        return;
    if (QThread::currentThread() == m_server->thread())
        fn();
    else
        QMetaObject::invokeMethod(m_server, [&fn] { fn(); }, Qt::BlockingQueuedConnection);
}

void HttpFixture::drain()
{
    runOnServer([this] { m_server->drain(); });
}

void HttpFixture::stop()
{
    if (!m_server)
        return;
    QThread *home = thread();
    runOnServer([this, home] {
        m_server->shutdown();
        if (m_thread)
            m_server->moveToThread(home);   // deleted below, on this thread
    });
    if (m_thread) {
        m_thread->quit();
        m_thread->wait();
        delete std::exchange(m_thread, nullptr);
    }
    delete std::exchange(m_server, nullptr);
}

bool HttpFixture::isListening() const
{
    bool listening = false;
    runOnServer([&] { listening = m_server->isListening(); });
    return listening;
}

QHostAddress HttpFixture::address() const { return m_address; }
quint16 HttpFixture::port() const { return m_port; }
QString HttpFixture::errorString() const { return m_error; }

QUrl HttpFixture::url(const QString &pathAndQuery) const
{
    const QString host = m_address.protocol() == QAbstractSocket::IPv6Protocol ? u"[::1]"_s : u"127.0.0.1"_s;
    return QUrl(u"http://"_s + host + u':' + QString::number(m_port) + pathAndQuery);
}

qint64 HttpFixture::connectionsAccepted() const { return m_stats->accepted; }
int HttpFixture::connectionsOpen() const { return m_stats->open; }
int HttpFixture::peakConnectionsOpen() const { return m_stats->peak; }
qint64 HttpFixture::requestsReceived() const { return m_stats->received; }
qint64 HttpFixture::requestsCompleted() const { return m_stats->completed; }
qint64 HttpFixture::requestsAbandoned() const { return m_stats->abandoned; }
qint64 HttpFixture::requestsAborted() const { return m_stats->aborted; }
int HttpFixture::pendingResponses() const { return m_stats->pending; }

qint64 HttpFixture::requestsReceived(const QString &path) const
{
    const Endpoint e = endpointOf(path.toLatin1());
    if (e != Endpoint::Other)
        return m_stats->perEndpoint[size_t(e)];
    QMutexLocker lock(&m_stats->mutex);
    return m_stats->otherPaths.value(path);
}

QHash<QString, qint64> HttpFixture::requestsPerPath() const
{
    QMutexLocker lock(&m_stats->mutex);
    QHash<QString, qint64> all = m_stats->otherPaths;
    for (int i = 0; i < EndpointCount; ++i) {
        if (const qint64 n = m_stats->perEndpoint[size_t(i)])
            all.insert(QString::fromLatin1(kPaths[size_t(i)]), n);
    }
    return all;
}

QList<qint64> HttpFixture::arrivalTimesMs() const
{
    QMutexLocker lock(&m_stats->mutex);
    return m_stats->arrivals;
}

void HttpFixture::reset()
{
    QMutexLocker lock(&m_stats->mutex);
    HttpFixtureStats &s = *m_stats;
    s.accepted = 0;
    s.received = 0;
    s.completed = 0;
    s.abandoned = 0;
    s.aborted = 0;
    s.peak = s.open.load();
    for (auto &n : s.perEndpoint)
        n = 0;
    s.otherPaths.clear();
    s.arrivals.clear();
    s.flaky.clear();
}

void HttpFixture::setPendingHooks(std::function<void(quint64, const QString &)> started,
                                  std::function<void(quint64)> ended)
{
    m_started = std::move(started);
    m_ended = std::move(ended);
}

bool HttpFixture::cancelPending(quint64 id)
{
    bool cancelled = false;
    runOnServer([&] { cancelled = m_server->cancelPending(id); });
    return cancelled;
}

} // namespace berth
