#include "core/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace moe {

namespace {
constexpr uintptr_t kHugePage = uintptr_t(2) << 20;

// One mapping of this process as /proc/self/smaps lists it, and its residency.
struct SmapsMap {
    uintptr_t lo = 0, hi = 0;
    char perms[8] = {};
    std::string file;  // empty for anonymous maps
    int64_t rss_kib = 0, pmd_kib = 0;
};

// The maps `keep` accepts (it sees each one's range, perms and file), with Rss and FilePmdMapped; false when
// /proc/self/smaps cannot be read.
template <class Keep>
bool smaps_maps(const Keep& keep, std::vector<SmapsMap>& out) {
    out.clear();
    FILE* f = std::fopen("/proc/self/smaps", "r");
    if (f == nullptr) return false;
    char line[4096];
    bool in = false;
    while (std::fgets(line, sizeof line, f) != nullptr) {
        SmapsMap m;
        if (std::sscanf(line, "%lx-%lx %7s ", &m.lo, &m.hi, m.perms) == 3) {  // a mapping's first line
            if (const char* name = std::strchr(line, '/')) m.file.assign(name, std::strcspn(name, "\n"));
            in = keep(m);
            if (in) out.push_back(std::move(m));
            continue;
        }
        long long v = 0;
        if (!in) continue;
        if (std::sscanf(line, "Rss: %lld kB", &v) == 1) out.back().rss_kib = v;
        if (std::sscanf(line, "FilePmdMapped: %lld kB", &v) == 1) out.back().pmd_kib = v;
    }
    std::fclose(f);
    return true;
}

// FilePmdMapped of the mapping that holds `addr`, in KiB; -1 when not found.
int64_t pmd_mapped_kib(const void* addr) {
    const auto a = reinterpret_cast<uintptr_t>(addr);
    thread_local std::vector<SmapsMap> maps;
    if (!smaps_maps([&](const SmapsMap& m) { return a >= m.lo && a < m.hi; }, maps) || maps.empty()) return -1;
    return maps.front().pmd_kib;
}

// Whether the 2 MiB block at `block` (aligned, inside the map, not yet read through it) is in the page cache as one
// 2 MiB folio: faults its first byte and compares the mapping's FilePmdMapped before and after.
bool block_maps_huge(const uint8_t* block) {
    const int64_t before = pmd_mapped_kib(block);
    volatile uint8_t sink = *block;
    (void)sink;
    return pmd_mapped_kib(block) > before;
}

// Whether most of the 2 MiB block at `block` is in the page cache.
bool block_cached(const uint8_t* block) {
    unsigned char resident[kHugePage / 4096];
    if (mincore(const_cast<uint8_t*>(block), kHugePage, resident) != 0) return false;
    size_t n = 0;
    for (unsigned char r : resident) n += r & 1;
    return n >= sizeof resident / 2;
}

// A file written by another program in small writes (a download) sits in the page cache as 4 KiB folios, and a map
// of those pages gets 4 KiB pages whatever MADV_HUGEPAGE asks (a TLB miss every 4 KiB of the weight streams). Medium
// Q8_0 decode, 2 threads, a copy written in 4 KiB writes, 3 rounds: 361 / 351 / 348 tok/s as it was, 360 / 362 / 384
// after the refresh below (the first load pays one read of the file from disk: 1.7 s instead of 0.4 s, then 0.12 s).
// A cache can also be part one, part the other (some pages dropped under memory pressure and read again; or, before
// Model::load prefaulted ahead of binding, the blocks after the norms it read): medium Q8_0 was found with 616 of 845
// MB mapped in 2 MiB pages. So kProbeBlocks blocks spread over the file are probed; when at least two of the cached
// ones do not map as one page (or the only cached one does not: a few scattered small blocks, which a fragmented
// memory can leave, are not worth reading the whole file again), one of them is dropped from the cache and read
// again; if it then maps as one page, the file system makes 2 MiB folios and the whole file is dropped from the
// cache, to come back in 2 MiB folios as it is read. Where the file system cannot (4 KiB folios only), only that
// block is read twice. Pages other programs map stay in the cache.
constexpr int kProbeBlocks = 8;

void refresh_small_folios(int fd, const uint8_t* data, size_t size) {
    const auto begin = reinterpret_cast<uintptr_t>(data);
    const uint8_t* small = nullptr;
    int n_cached = 0, n_small = 0;
    for (int i = 0; i < kProbeBlocks; ++i) {
        const uintptr_t at = begin + size / kProbeBlocks * static_cast<size_t>(i) + size / (2 * kProbeBlocks);
        const uintptr_t block = (at + kHugePage - 1) & ~(kHugePage - 1);
        if (block + kHugePage > begin + size) continue;
        const auto* b = reinterpret_cast<const uint8_t*>(block);
        if (!block_cached(b)) continue;
        ++n_cached;
        if (!block_maps_huge(b)) {
            ++n_small;
            small = b;
        }
    }
    if (n_small < 2 && !(n_small == 1 && n_cached == 1)) return;
    const auto off = static_cast<off_t>(small - data);
    (void)madvise(const_cast<uint8_t*>(small), kHugePage, MADV_DONTNEED);  // unmaps our page of the block
    if (posix_fadvise(fd, off, static_cast<off_t>(kHugePage), POSIX_FADV_DONTNEED) != 0) return;
    if (!block_maps_huge(small)) return;
    (void)madvise(const_cast<uint8_t*>(data), size, MADV_DONTNEED);
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
}
}  // namespace

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : m_data(other.m_data), m_size(other.m_size), m_path(std::move(other.m_path)) {
    other.m_data = nullptr;
    other.m_size = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
    if (this != &other) {
        release();
        m_data = other.m_data;
        m_size = other.m_size;
        m_path = std::move(other.m_path);
        other.m_data = nullptr;
        other.m_size = 0;
    }
    return *this;
}

void MappedFile::release() {
    if (m_data != nullptr) munmap(const_cast<uint8_t*>(m_data), m_size);
    m_data = nullptr;
    m_size = 0;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::error(path + ": cannot open: " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return Status::error(path + ": cannot stat: " + std::strerror(err));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::error(path + ": not a regular file");
    }
    MappedFile file;
    file.m_path = path;
    file.m_size = static_cast<size_t>(st.st_size);
    if (file.m_size > 0) {
        void* p = mmap(nullptr, file.m_size, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            const int err = errno;
            ::close(fd);
            file.m_size = 0;
            return Status::error(path + ": cannot map: " + std::strerror(err));
        }
        file.m_data = static_cast<const uint8_t*>(p);
        // Pages the kernel has yet to read come in as 2 MiB folios where the file system allows it, mapped
        // with one TLB entry each (a decode step reads ~100-300 MB spread over the file). Only a hint.
        (void)madvise(p, file.m_size, MADV_HUGEPAGE);
        if (file.m_size >= kRefreshCacheBytes) refresh_small_folios(fd, file.m_data, file.m_size);
    }
    ::close(fd);
    return file;
}

namespace {
// This process's read-only shared maps (what MappedFile makes: never a program's private or writable ones) of files
// under `path` (a file, or every file of a folder; relative paths and trailing slashes allowed).
bool path_maps(const std::string& path, std::vector<SmapsMap>& maps) {
    std::error_code error;
    std::string abs = std::filesystem::weakly_canonical(path, error).string();
    if (error) return false;
    while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
    return smaps_maps(
        [&](const SmapsMap& m) {
            return m.perms[1] != 'w' && m.perms[3] == 's' && m.file.compare(0, abs.size(), abs) == 0 &&
                   (m.file.size() == abs.size() || m.file[abs.size()] == '/');
        },
        maps);
}

MappedFile::Residency residency_of(const std::vector<SmapsMap>& maps) {
    MappedFile::Residency r;
    for (const SmapsMap& m : maps) {
        r.resident_bytes += m.rss_kib * 1024;
        r.huge_page_bytes += m.pmd_kib * 1024;
    }
    return r;
}
}  // namespace

MappedFile::Residency MappedFile::residency(const std::string& path) {
    std::vector<SmapsMap> maps;
    return path_maps(path, maps) ? residency_of(maps) : Residency{-1, -1};
}

// A decode step streams its weights markedly slower through 4 KiB pages: medium Q8_0, 2 threads, with 21 of 412
// blocks of 2 MiB in small folios (95% of the map in 2 MiB pages), 72-73% of the probe against 78% with all of it.
// The probes at open() see a few scattered small blocks only by chance; this looks at the whole map once it is read.
bool MappedFile::refresh_small_pages(const std::string& path) {
    std::vector<SmapsMap> maps;
    if (!path_maps(path, maps)) return false;
    const Residency r = residency_of(maps);
    int64_t mapped = 0;
    for (const SmapsMap& m : maps) mapped += static_cast<int64_t>(m.hi - m.lo);
    // Not where the map is not nearly all resident after the prefault (memory is short: the pages would not stay)
    // or where no page is 2 MiB (the file system makes small folios only).
    if (r.resident_bytes < static_cast<int64_t>(kRefreshCacheBytes) || r.resident_bytes < mapped / 10 * 9 ||
        r.huge_page_bytes <= 0 || r.huge_page_bytes >= r.resident_bytes / 100 * 97)
        return false;
    for (const SmapsMap& m : maps)
        (void)madvise(reinterpret_cast<void*>(m.lo), m.hi - m.lo, MADV_DONTNEED);  // read-only file maps
    for (const SmapsMap& m : maps) {
        const int fd = ::open(m.file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        ::close(fd);
    }
    return true;
}

int64_t MappedFile::huge_page_bytes() const {
    if (m_data == nullptr) return 0;
    const int64_t kib = pmd_mapped_kib(m_data);
    return kib < 0 ? -1 : kib * 1024;
}

Result<std::string> read_text_file(const std::string& path, size_t max_bytes) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) return Status::error(path + ": cannot open: " + std::strerror(errno));
    std::string out;
    char buf[65536];
    size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
        if (out.size() + n > max_bytes) {
            std::fclose(f);
            return Status::error(path + ": larger than " + std::to_string(max_bytes) + " bytes");
        }
        out.append(buf, n);
    }
    const bool failed = std::ferror(f) != 0;
    std::fclose(f);
    if (failed) return Status::error(path + ": read error");
    return out;
}

AtomicFileWriter::~AtomicFileWriter() { discard(); }

void AtomicFileWriter::discard() {
    if (m_fd >= 0) {
        ::close(m_fd);
        ::unlink(m_tmp_path.c_str());
    }
    m_fd = -1;
}

Status AtomicFileWriter::open(const std::string& path) {
    discard();
    m_path = path;
    m_tmp_path = path + ".tmp" + std::to_string(::getpid());
    m_written = 0;
    m_fd = ::open(m_tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (m_fd < 0) return Status::error(m_tmp_path + ": cannot create: " + std::strerror(errno));
    return {};
}

Status AtomicFileWriter::write(const void* data, size_t size) {
    if (m_fd < 0) return Status::error(m_path + ": write to a file that is not open");
    const auto* p = static_cast<const uint8_t*>(data);
    size_t left = size;
    while (left > 0) {
        const ssize_t w = ::write(m_fd, p, left);
        if (w < 0) {
            if (errno == EINTR) continue;
            const Status err = Status::error(m_tmp_path + ": write failed: " + std::strerror(errno));
            discard();
            return err;
        }
        p += w;
        left -= static_cast<size_t>(w);
    }
    m_written += size;
    return {};
}

Status AtomicFileWriter::write_zeros(size_t count) {
    static const uint8_t zeros[4096] = {};
    while (count > 0) {
        const size_t n = count < sizeof zeros ? count : sizeof zeros;
        MOE_RETURN_IF_ERROR(write(zeros, n));
        count -= n;
    }
    return {};
}

Status AtomicFileWriter::commit() {
    if (m_fd < 0) return Status::error(m_path + ": commit of a file that is not open");
    if (::fsync(m_fd) != 0) {
        const Status err = Status::error(m_tmp_path + ": flush failed: " + std::strerror(errno));
        discard();
        return err;
    }
    // A large file (a model) leaves the page cache: written pages sit in whatever folio sizes the writes made,
    // which a mapping cannot use as 2 MiB pages; read back through a MADV_HUGEPAGE mapping (MappedFile) they come
    // in as 2 MiB folios. Medium Q8_0 decode, 2 threads: 4% faster than over the pages the writer left. Only a hint.
    if (m_written >= kDropCacheBytes) (void)::posix_fadvise(m_fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(m_fd);
    m_fd = -1;
    if (std::rename(m_tmp_path.c_str(), m_path.c_str()) != 0) {
        const int err = errno;
        ::unlink(m_tmp_path.c_str());
        return Status::error(m_path + ": rename failed: " + std::strerror(err));
    }
    return {};
}

Status write_file_atomic(const std::string& path, const void* data, size_t size) {
    AtomicFileWriter writer;
    MOE_RETURN_IF_ERROR(writer.open(path));
    MOE_RETURN_IF_ERROR(writer.write(data, size));
    return writer.commit();
}

}  // namespace moe
