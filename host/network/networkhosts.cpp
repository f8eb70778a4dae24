// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's hosts: a host id (and one HostState) per pool key of Qt's, the names
// of send()'s calls, and the pool a request of send() goes to: a lane of one of a few managers.
#include "network/networksession_p.h"

#include <QtCore/QThread>

#include <algorithm>

namespace berth {

namespace netdetail {

/// Lanes: Qt keys a manager's connection pool by scheme, host, port *and* the request's peer
/// verify name, each pool with its own connections (6 per host on Qt 6.4). A request on lane k
/// carries a peer verify name of its own, so one manager (one HTTP thread) holds many pools to
/// one host. Plain HTTP never verifies a peer: any distinct name will do. HTTPS verifies against
/// that name, so its lanes are the host name in other letter cases (certificate names and SNI are
/// compared case-insensitively); an IP literal has none and gets more managers instead.
/// Lane 0 sets no name. The session follows the redirects of its calls itself, so a lane's name
/// never reaches a request to another host.
int lanesFor(const QUrl &url, bool customPeerName)
{
    if (customPeerName)
        return 1;   // the caller's own name: one pool, like Qt
    if (url.scheme() != u"https"_s)
        return MaxLanes;
    int letters = 0;
    for (QChar c : url.host())
        letters += (c >= u'a' && c <= u'z') ? 1 : 0;
    return letters >= 10 ? MaxLanes : std::min(MaxLanes, 1 + (1 << letters));
}

QString laneName(const QUrl &url, int lane)
{
    if (lane == 0)
        return {};
    if (url.scheme() != u"https"_s)
        return u"lane-%1.berth.invalid"_s.arg(lane);
    // Lane 1: the host as it is; lane k: letter i upper-cased where bit i of k - 1 is set.
    QString name = url.host();
    unsigned bits = unsigned(lane - 1);
    for (QChar &c : name) {
        if (c >= u'a' && c <= u'z') {
            if (bits & 1u)
                c = c.toUpper();
            bits >>= 1;
        }
    }
    return name;
}

} // namespace netdetail

/// A pool with a free connection for \a hostId. Pools are lanes of a few managers: at least as
/// many managers as the machine has cores, and one per MaxConnectionsPerManager connections
/// (each manager has one HTTP thread, which parses every byte that arrives, and its event loop
/// polls all of its sockets on every pass), more when a host has too few lanes (an HTTPS IP
/// literal). The least busy manager takes the request, on its first lane with room, so a
/// light load stays on one manager and few connections.
std::pair<TrackedManager *, int> NetworkSession::Private::pickSlot(int hostId)
{
    static const int cores = std::max(1, QThread::idealThreadCount());
    const int pools = poolsNeeded(hostId);
    const int lanes = std::min(host(hostId).lanes, pools);
    const int byLoad = (perHostLimit + MaxConnectionsPerManager - 1) / MaxConnectionsPerManager;
    const int wanted = std::max({(pools + lanes - 1) / lanes, std::min(cores, pools), std::min(byLoad, pools)});
    const int lanesEach = std::min(lanes, (pools + wanted - 1) / wanted);
    TrackedManager *best = nullptr;
    int bestLane = 0;
    int count = 0;
    for (TrackedManager *m : managers) {
        if (!m || m->forDirect)
            continue;
        if (allHeld(m, hostId, lanesEach))
            continue;   // in quarantine: counts as none, so another manager takes its place
        if (++count > wanted)
            break;
        if (best && m->outstanding >= best->outstanding)
            continue;
        for (int lane = 0; lane < lanesEach; ++lane) {
            if (laneHasRoom(m, hostId, lane)) {
                best = m;
                bestLane = lane;
                break;
            }
        }
    }
    if (count < wanted && (!best || best->outstanding > 0))
        return {addManager(false), 0};
    return {best, bestLane};
}

NetworkSession::Private::Named NetworkSession::Private::namedInCache(const QByteArray &verb, const QUrl &url)
{
    auto key = std::make_pair(verb, url);
    if (const auto it = names.constFind(key); it != names.constEnd())
        return *it;
    if (names.size() >= 256)
        names.clear();   // a bounded cache: many distinct URLs simply stop being shared
    Named n{QString::fromLatin1(verb) + u' ' + q->redact(url), hostIdOf(url, {})};
    names.insert(std::move(key), n);
    return n;
}

int NetworkSession::Private::hostIdByKey(const QUrl &url, const QString &peerVerifyName)
{
    const QString key = hostKeyOf(url, peerVerifyName);
    auto it = hostIds.constFind(key);
    if (it != hostIds.constEnd())
        return *it;
    const int id = int(hostIds.size());
    hostIds.insert(key, id);
    hosts.push_back({.lanes = lanesFor(url, !peerVerifyName.isEmpty()),
                     .proto = url.scheme() == u"https"_s && options.http2 ? Proto::Unknown : Proto::Http1});
    return id;
}

} // namespace berth
