// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "eventlog_win.h"

#include "requestchannel_win.h"

namespace berth::win {

EventLog::EventLog(const std::string &source)
    : m_handle(RegisterEventSourceW(nullptr, toWide(source).c_str()))
{
}

EventLog::~EventLog()
{
    if (m_handle)
        DeregisterEventSource(m_handle);
}

void EventLog::write(Level level, const std::string &text)
{
    if (!m_handle)
        return;
    const WORD type = level == Level::Error ? EVENTLOG_ERROR_TYPE
        : level == Level::Warning ? EVENTLOG_WARNING_TYPE : EVENTLOG_INFORMATION_TYPE;
    const std::wstring wide = toWide(text);
    const wchar_t *strings[] = {wide.c_str()};
    ReportEventW(m_handle, type, 0, 1, nullptr, 1, 0, strings, nullptr);
}

} // namespace berth::win
