// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's hosts and pools: what send() knows of a host (HostState), and a lane,
// one of a manager's connection pools to one host (networkhosts.cpp), with what send() counts
// of it. Private, not installed.
#pragma once

#include <QtCore/QtGlobal>

class QObject;
class QString;
class QUrl;

namespace berth::netdetail {

/// Lanes (networkmanagers.cpp): Qt keys a manager's connection pools by the peer verify name
/// too, so a request with a name of its own lands in another pool of the same manager.
constexpr int MaxLanes = 1024;
/// Connections one manager (one HTTP thread) serves at most before the session adds another:
/// 1 000 connections drained ~10% faster over 8 threads than over 2 here, and each thread
/// costs ~80 KiB and a join at close.
constexpr int MaxConnectionsPerManager = 128;
/// Requests send() puts on one lane of a host that speaks HTTP/2: streams of one connection.
/// Qt 6.4 opens at most 100 streams at once on a connection and queues the rest; a server may
/// allow fewer (SETTINGS_MAX_CONCURRENT_STREAMS), which the session learns (laneHasRoom()).
constexpr int Http2StreamsPerLane = 100;

/// One pool of one manager for one host: its requests outstanding, and under HTTP/2 (or before
/// the first handshake tells) those Qt has not written yet (no requestSent() so far).
struct Lane
{
    int load = 0;
    int unsent = 0;
    /// send()'s one request beyond the streams the server is known to take (HTTP/2 only).
    QObject *probe = nullptr;
    /// A request of the lane finished while the probe waited unsent: the probe waited for a
    /// free stream, so the server takes no more than the lane held when it went out.
    bool probeSawFinish = false;
    /// Qt has the server's SETTINGS for the pool's connection: an answer came on it (the
    /// server sends SETTINGS before any answer), or the host's settle time has passed since Qt
    /// first wrote on it: SettleMs, or as long as the first TLS handshake with the host took
    /// (two round trips or more; the SETTINGS come one round trip after Qt's first write).
    /// Before that Qt assumes 100 streams and writes probes beyond the server's limit (seen in
    /// 2 of 8 runs: 12 streams within 18 ms against a limit of 10, and the server closed the
    /// connection; over a 300 ms round trip, in every run). Probes wait for it.
    bool settled = false;
    /// Streams of the pool that ended after Qt wrote them: a pool that has carried streams is
    /// past its first connection, so a request Qt holds there with nothing else in flight for
    /// the grace is held for ever after a GOAWAY, not waiting for a handshake (sweepStalls).
    int ended = 0;
    qint64 lastEndedAt = -1;   ///< session clock (ms) when the last of them ended
    /// Session clock (ms) until which send() hands the pool nothing: the sweep took a request
    /// back from it, so its connection is going away and Qt holds whatever it gets.
    qint64 heldUntil = 0;
    qint64 firstSentAt = -1;   ///< session clock (ms) of Qt's first write on the pool
};
constexpr int SettleMs = 100;
/// The most a pool's probes wait for the server's SETTINGS: a handshake slower than this is
/// not taken as the round trip.
constexpr int MaxSettleMs = 2000;

/// The protocol a host's TLS connections negotiated (ALPN). Unknown until the first handshake
/// of an HTTPS host that may speak HTTP/2; until then send() uses one pool. Under HTTP/2 Qt
/// sends a host's requests as streams of one connection, 100 at once, and queues the rest
/// inside its HTTP/2 handler. The session never cancels those queued ones when the host stops:
/// in Qt 6.4, aborting a queued HTTP/2 request can reset *other* streams of the connection,
/// whose replies then never finish (tst_networkhttp2 saw it in 1 run of 8). They count as in
/// flight and drain.
enum class Proto : quint8 { Unknown, Http1, Http2 };

/// What the session knows and counts of one host (a pool key of Qt's: scheme, host, port and
/// peer verify name), by host id.
struct HostState
{
    int lanes = 1;              ///< lanes one manager offers (lanesFor)
    Proto proto = Proto::Http1; ///< what its TLS connections negotiated (Proto)
    /// Under HTTP/2: streams one connection has been seen to carry at once (the server takes
    /// at least that many). send() never hands Qt more than the server takes, so that nothing
    /// it sent waits inside Qt, where the session could not cancel it when the host stops.
    int h2Seen = 1;
    /// Under HTTP/2: the most streams a connection takes, once a probe has shown it (0: not known).
    int h2Limit = 0;
    qint64 firstAt = -1;        ///< when its first request was made (session clock, ms; -1: none yet)
    /// How long a new pool's probes wait for the server's SETTINGS (Lane::settled): SettleMs,
    /// or the first TLS handshake with the host if that took longer.
    int settleMs = SettleMs;
    int inFlight = 0;           ///< requests Qt holds (sent or not)
};

int lanesFor(const QUrl &url, bool customPeerName);
QString laneName(const QUrl &url, int lane);

} // namespace berth::netdetail
