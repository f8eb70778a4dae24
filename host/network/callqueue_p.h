// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The network session's queue of send() calls waiting for a connection (networkcall.cpp's
// pump()). Private, not installed.
#pragma once

#include <QtCore/QtGlobal>

#include <algorithm>
#include <deque>
#include <vector>

namespace berth {
class NetworkCall;

namespace netdetail {

/// Calls in the order they go out, each with its host id, counting how many wait for each host.
/// pump() looks at it in passes: a host found without room is skipped for the rest of the pass,
/// and the pass ends once every host with calls waiting was found without room (one busy host
/// with 1 000 calls behind it costs a look at one call, not at 64).
class CallQueue
{
public:
    struct Waiting
    {
        NetworkCall *call;
        int host;
    };
    using const_iterator = std::deque<Waiting>::const_iterator;

    bool empty() const { return m_calls.empty(); }
    size_t size() const { return m_calls.size(); }
    NetworkCall *front() const { return m_calls.front().call; }
    const_iterator begin() const { return m_calls.cbegin(); }
    const_iterator end() const { return m_calls.cend(); }

    void push_back(NetworkCall *call, int host) { count(host, 1); m_calls.push_back({call, host}); }
    void push_front(NetworkCall *call, int host) { count(host, 1); m_calls.push_front({call, host}); }
    void erase(const_iterator it) { count(it->host, -1); m_calls.erase(it); }
    void remove(NetworkCall *call)
    {
        const auto it = std::find_if(m_calls.cbegin(), m_calls.cend(), [call](const Waiting &w) { return w.call == call; });
        if (it != m_calls.cend())
            erase(it);
    }

    /// A new look at the queue: no host is known to be without room yet.
    void beginPass() { ++m_pass; m_blockedHosts = 0; }
    bool isBlocked(int host) const { return size_t(host) < m_blockedIn.size() && m_blockedIn[size_t(host)] == m_pass; }
    /// \a host has no room in this pass. True when that holds for every host with calls waiting.
    bool block(int host)
    {
        if (m_blockedIn.size() <= size_t(host))
            m_blockedIn.resize(size_t(host) + 1, 0);
        m_blockedIn[size_t(host)] = m_pass;
        return ++m_blockedHosts == m_hosts;
    }

private:
    void count(int host, int delta)
    {
        if (m_perHost.size() <= size_t(host))
            m_perHost.resize(size_t(host) + 1, 0);
        int &n = m_perHost[size_t(host)];
        m_hosts += (n == 0) - (n + delta == 0);
        n += delta;
    }

    std::deque<Waiting> m_calls;
    std::vector<int> m_perHost;      ///< by host id: calls waiting
    int m_hosts = 0;                 ///< hosts with at least one call waiting
    std::vector<quint32> m_blockedIn; ///< by host id: the pass it was found without room in
    quint32 m_pass = 0;
    int m_blockedHosts = 0;
};

} // namespace netdetail
} // namespace berth
