// Copyright (c) Berth authors. SPDX-License-Identifier: MIT
// The service-mode log: a service's stdout and stderr go nowhere, so every log line is appended
// to a file that rotates by size (berth.log -> berth.log.1 -> ... -> berth.log.<keep>).
// Plain standard C++: unit-tested everywhere, used by the Windows adapter.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <string_view>

namespace berth::win {

class RotatingFile
{
public:
    /// \a maxBytes: rotate before a line would make the file larger (a single longer line is
    /// still written whole). \a keep: rotated files kept besides the current one.
    RotatingFile(std::filesystem::path path, std::uint64_t maxBytes, int keep);
    ~RotatingFile();
    RotatingFile(const RotatingFile &) = delete;
    RotatingFile &operator=(const RotatingFile &) = delete;

    /// Appends \a line and a newline, then flushes. Thread-safe. False if the file could not be
    /// opened or written (the line is lost; nothing else can be done with it).
    bool writeLine(std::string_view line);

    const std::filesystem::path &path() const { return m_path; }
    /// berth.log.<n> (n >= 1).
    std::filesystem::path rotatedPath(int n) const;

private:
    bool openLocked();
    void rotateLocked();

    std::mutex m_mutex;
    std::filesystem::path m_path;
    std::uint64_t m_maxBytes;
    int m_keep;
    std::ofstream m_file;
    std::uint64_t m_size = 0;
};

} // namespace berth::win
