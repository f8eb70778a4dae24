// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// A one-entry memo for the network session's hot path. Private, not installed.
#pragma once

namespace berth::netdetail {

/// The value last made for a key, kept for the next lookup with an equal key. A worker asks for
/// the same thing again and again (the same request, URL, host), and an equal key costs one
/// compare (for Qt's implicitly shared types the shared data first) where making the value
/// costs a copy, a hash or a parse. \a key may be of another type that compares with and
/// assigns to \c Key (std::tie(...) for a std::tuple key).
template<typename Key, typename Value>
class LastOne
{
public:
    template<typename K, typename Make>
    const Value &get(const K &key, Make make)
    {
        if (!m_valid || !(m_key == key)) {
            m_value = make();
            m_key = key;
            m_valid = true;
        }
        return m_value;
    }
    void clear() { m_valid = false; }

private:
    Key m_key{};
    Value m_value{};
    bool m_valid = false;
};

} // namespace berth::netdetail
