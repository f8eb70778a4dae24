// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// Optional copy of warnings and errors to the Windows Application event log (service mode,
// --event-log). No message file is registered, so the Event Viewer prefixes each entry with
// "The description for Event ID 1 ... cannot be found"; the text itself is complete.
#pragma once

#include <windows.h>

#include <string>

namespace berth::win {

class EventLog
{
public:
    enum class Level { Info, Warning, Error };
    explicit EventLog(const std::string &source);
    ~EventLog();
    EventLog(const EventLog &) = delete;
    EventLog &operator=(const EventLog &) = delete;

    bool isOpen() const { return m_handle != nullptr; }
    void write(Level level, const std::string &text);

private:
    HANDLE m_handle = nullptr;
};

} // namespace berth::win
