// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
#include "rotatingfile.h"

#include <system_error>

namespace berth::win {

namespace fs = std::filesystem;

RotatingFile::RotatingFile(fs::path path, std::uint64_t maxBytes, int keep)
    : m_path(std::move(path)), m_maxBytes(maxBytes), m_keep(keep < 0 ? 0 : keep)
{
}

RotatingFile::~RotatingFile() = default;

fs::path RotatingFile::rotatedPath(int n) const
{
    fs::path p = m_path;
    p += "." + std::to_string(n);
    return p;
}

bool RotatingFile::openLocked()
{
    if (m_file.is_open())
        return true;
    std::error_code ec;
    if (m_path.has_parent_path())
        fs::create_directories(m_path.parent_path(), ec);
    // Binary: the lines are written exactly as given (no CRLF translation on Windows).
    m_file.clear();
    m_file.open(m_path, std::ios::binary | std::ios::app);
    if (!m_file.is_open())
        return false;
    const auto size = fs::file_size(m_path, ec);
    m_size = ec ? 0 : size;
    return true;
}

void RotatingFile::rotateLocked()
{
    m_file.close();
    std::error_code ec;
    if (m_keep == 0) {
        fs::remove(m_path, ec);
    } else {
        fs::remove(rotatedPath(m_keep), ec);
        for (int n = m_keep - 1; n >= 1; --n) {
            if (fs::exists(rotatedPath(n), ec))
                fs::rename(rotatedPath(n), rotatedPath(n + 1), ec);
        }
        fs::rename(m_path, rotatedPath(1), ec);
    }
    m_size = 0;
}

bool RotatingFile::writeLine(std::string_view line)
{
    const std::lock_guard lock(m_mutex);
    if (!openLocked())
        return false;
    const std::uint64_t bytes = line.size() + 1;
    if (m_size > 0 && m_size + bytes > m_maxBytes) {
        rotateLocked();
        if (!openLocked())
            return false;
    }
    m_file.write(line.data(), std::streamsize(line.size()));
    m_file.put('\n');
    m_file.flush();
    const bool ok = bool(m_file);
    m_size += bytes;
    return ok;
}

} // namespace berth::win
