// A read-only memory map of a whole file (weights are used from the map, never copied).
#pragma once

#include "core/status.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace moe {

class MappedFile {
public:
    MappedFile() = default;
    ~MappedFile();
    MappedFile(MappedFile&& other) noexcept;
    MappedFile& operator=(MappedFile&& other) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    // Maps `path` read-only. Fails with "<path>: <reason>" when the file cannot be opened or mapped.
    // An empty file maps to data() == nullptr, size() == 0.
    static Result<MappedFile> open(const std::string& path);

    const uint8_t* data() const { return m_data; }
    size_t size() const { return m_size; }
    const std::string& path() const { return m_path; }
    // Bytes of the map now mapped with 2 MiB pages (FilePmdMapped in /proc/self/smaps); -1 where unknown.
    int64_t huge_page_bytes() const;

    // This process's read-only shared maps of files under `path` (the file itself, or every file of a folder;
    // relative or not): resident bytes and those mapped with 2 MiB pages (Rss and FilePmdMapped in
    // /proc/self/smaps); {-1, -1} where unreadable.
    struct Residency {
        int64_t resident_bytes = 0;
        int64_t huge_page_bytes = 0;
    };
    static Residency residency(const std::string& path);
    // When this process's maps of files under `path` (as residency() takes it) hold at least
    // kRefreshCacheBytes and part but not nearly all of them (under 97%) has 2 MiB pages, drops those pages from the
    // maps and the page cache and returns true: read again in order, they come back in 2 MiB folios (a cache left in
    // small folios: see mapped_file.cpp). The caller reads the weights again.
    static bool refresh_small_pages(const std::string& path);

    // Files from this size on are checked for a page cache of 4 KiB folios when mapped (see mapped_file.cpp).
    static constexpr size_t kRefreshCacheBytes = size_t(64) << 20;

private:
    void release();
    const uint8_t* m_data = nullptr;
    size_t m_size = 0;
    std::string m_path;
};

// Reads a whole (small) file into a string; used for JSON configs and templates.
Result<std::string> read_text_file(const std::string& path, size_t max_bytes = 512u << 20);

// Streams a file to "<path>.tmp<pid>", and on commit() flushes it to disk and renames it over `path`,
// so a reader never sees a half-written file. Destroyed without commit(), it removes the temporary file. A file of
// kDropCacheBytes or more is dropped from the page cache once on disk (see commit()).
class AtomicFileWriter {
public:
    static constexpr uint64_t kDropCacheBytes = uint64_t(64) << 20;
    AtomicFileWriter() = default;
    ~AtomicFileWriter();
    AtomicFileWriter(const AtomicFileWriter&) = delete;
    AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

    Status open(const std::string& path);
    Status write(const void* data, size_t size);
    Status write_zeros(size_t count);
    uint64_t bytes_written() const { return m_written; }
    Status commit();

private:
    void discard();
    int m_fd = -1;
    uint64_t m_written = 0;
    std::string m_path;
    std::string m_tmp_path;
};

// Writes `data` to `path` atomically (AtomicFileWriter in one call).
Status write_file_atomic(const std::string& path, const void* data, size_t size);

}  // namespace moe
