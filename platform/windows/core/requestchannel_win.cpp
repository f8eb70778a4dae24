// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "requestchannel_win.h"

namespace berth::win {

RequestChannel &RequestChannel::instance()
{
    // Deliberately never destroyed (see the header).
    static RequestChannel *channel = new RequestChannel;
    return *channel;
}

RequestChannel::RequestChannel()
    : m_wake(CreateEventW(nullptr, FALSE, FALSE, nullptr)),
      m_done(CreateEventW(nullptr, TRUE, FALSE, nullptr))
{
}

void RequestChannel::post(HostRequest request)
{
    {
        const std::lock_guard lock(m_mutex);
        if (request.kind == HostRequest::Kind::Stop && m_stopListener)
            m_stopListener();
        m_queue.push_back(std::move(request));
    }
    SetEvent(m_wake);
}

std::vector<HostRequest> RequestChannel::take()
{
    const std::lock_guard lock(m_mutex);
    std::vector<HostRequest> out;
    out.swap(m_queue);
    return out;
}

void RequestChannel::setStopListener(std::function<void()> listener)
{
    const std::lock_guard lock(m_mutex);
    m_stopListener = std::move(listener);
}

void RequestChannel::markDone()
{
    SetEvent(m_done);
}

bool RequestChannel::waitDone(std::uint32_t timeoutMs)
{
    return WaitForSingleObject(m_done, timeoutMs) == WAIT_OBJECT_0;
}

void RequestChannel::resetForTest()
{
    const std::lock_guard lock(m_mutex);
    m_queue.clear();
    ResetEvent(m_done);
    ResetEvent(m_wake);
}

std::wstring toWide(const std::string &utf8)
{
    if (utf8.empty())
        return {};
    const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), int(utf8.size()), nullptr, 0);
    std::wstring out(std::size_t(n), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, utf8.data(), int(utf8.size()), out.data(), n);
    return out;
}

std::string toUtf8(const std::wstring &wide)
{
    if (wide.empty())
        return {};
    const int n = WideCharToMultiByte(CP_UTF8, 0, wide.data(), int(wide.size()), nullptr, 0, nullptr, nullptr);
    std::string out(std::size_t(n), '\0');
    WideCharToMultiByte(CP_UTF8, 0, wide.data(), int(wide.size()), out.data(), n, nullptr, nullptr);
    return out;
}

std::string win32ErrorText(DWORD code)
{
    wchar_t *buffer = nullptr;
    const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM
                                       | FORMAT_MESSAGE_IGNORE_INSERTS,
                                   nullptr, code, 0, reinterpret_cast<wchar_t *>(&buffer), 0, nullptr);
    std::string text = n ? toUtf8(std::wstring(buffer, n)) : std::string("error");
    if (buffer)
        LocalFree(buffer);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '.'))
        text.pop_back();
    return text + " (code " + std::to_string(code) + ")";
}

} // namespace berth::win
