// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The "after" dependencies, checked once every service has been read: unknown or repeated
// names, a service after itself, and cycles.
#include "config/configvalidate_p.h"

#include <algorithm>
#include <functional>

using namespace Qt::StringLiterals;

namespace berth {

namespace configdetail {

void Validator::checkAfter()
{
    const auto &services = m_result->config.services;
    m_edges.resize(services.size());
    for (qsizetype s = 0; s < services.size(); ++s) {
        QStringList seen;
        for (const AfterRef &ref : m_refs.at(s)) {
            const auto target = m_byName.constFind(ref.name);
            if (!ref.name.isEmpty() && ref.name == services.at(s).name) {
                error(ref.path, u"service \"%1\" cannot be after itself"_s.arg(ref.name));
            } else if (target == m_byName.constEnd()) {
                QStringList others = m_byName.keys();
                others.removeOne(services.at(s).name);
                others.sort();
                error(ref.path, u"unknown service \"%1\"%2"_s.arg(ref.name, didYouMean(ref.name, others)));
            } else if (seen.contains(ref.name)) {
                error(ref.path, u"service \"%1\" is listed twice"_s.arg(ref.name));
            } else if (m_byName.value(services.at(s).name, -1) == s) {
                m_edges[s].append(*target);
            }
            seen.append(ref.name);
        }
    }
}

// Depth-first search in file order; every back edge closes one cycle. Each cycle is rotated
// to start at its earliest service so that the same loop is reported once, in the same words.
void Validator::checkCycles()
{
    enum State { New, Open, Done };
    QList<State> state(m_edges.size(), New);
    QList<qsizetype> stack;
    QList<QList<qsizetype>> cycles;
    std::function<void(qsizetype)> visit = [&](qsizetype u) {
        state[u] = Open;
        stack.append(u);
        for (qsizetype v : m_edges.at(u)) {
            if (state.at(v) == New) {
                visit(v);
            } else if (state.at(v) == Open) {
                QList<qsizetype> cycle = stack.mid(stack.indexOf(v));
                std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
                if (!cycles.contains(cycle))
                    cycles.append(cycle);
            }
        }
        stack.removeLast();
        state[u] = Done;
    };
    for (qsizetype i = 0; i < m_edges.size(); ++i) {
        if (state.at(i) == New)
            visit(i);
    }
    const auto &services = m_result->config.services;
    for (const auto &cycle : std::as_const(cycles)) {
        QStringList names;
        for (qsizetype i : cycle)
            names.append(services.at(i).name);
        names.append(names.first());
        const QString path = PositionedJson::member(m_paths.at(cycle.first()), u"after"_s);
        error(m_doc.keyAt(path), path, u"dependency cycle: "_s + names.join(u" -> "_s));
    }
}

} // namespace configdetail

} // namespace berth
