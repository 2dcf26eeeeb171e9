// MappedFile: a large file whose page cache holds 4 KiB folios (written by another program in small writes) maps
// with 2 MiB pages once opened, where the file system can make 2 MiB folios at all.
#include "check.h"
#include "core/mapped_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

// Writes `bytes` of a pattern in 4 KiB writes and flushes them (clean 4 KiB folios in the page cache).
void write_in_small_writes(const std::string& path, size_t bytes) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fd >= 0);
    std::vector<char> page(4096);
    for (size_t off = 0; off < bytes; off += page.size()) {
        std::memset(page.data(), static_cast<int>((off >> 12) & 0xff), page.size());
        REQUIRE(::write(fd, page.data(), page.size()) == static_cast<ssize_t>(page.size()));
    }
    REQUIRE(::fsync(fd) == 0);
    ::close(fd);
}

// Reads one byte per 4 KiB page of the map (into a volatile sum, so that the reads happen).
unsigned touch(const uint8_t* p, size_t n) {
    volatile unsigned s = 0;
    for (size_t i = 0; i < n; i += 4096) s = s + p[i];
    return s;
}

}  // namespace

MOE_TEST(a_cache_of_small_folios_is_read_back_in_2_mib_pages) {
    const size_t bytes = moe::MappedFile::kRefreshCacheBytes + (8u << 20);
    const std::string path = moe_test::temp_dir() + "/small-folios.bin";

    // Control: the file out of the page cache, read through the map. Without 2 MiB pages here the file system (or
    // kernel) makes 4 KiB folios only, and there is nothing to test.
    write_in_small_writes(path, bytes);
    {
        const int fd = ::open(path.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
        ::close(fd);
        auto cold = moe::MappedFile::open(path);
        REQUIRE_OK(cold);
        (void)touch(cold->data(), cold->size());
        const int64_t huge = cold->huge_page_bytes();
        std::printf("control: %lld of %zu bytes mapped with 2 MiB pages\n", static_cast<long long>(huge), bytes);
        if (huge <= 0) MOE_SKIP("this file system gives 4 KiB folios only");
    }

    // Written again in 4 KiB writes, the file's cache is 4 KiB folios (a plain map of it gets 4 KiB pages only:
    // 0 bytes with 2 MiB pages, checked by hand); MappedFile has them read back as 2 MiB folios.
    write_in_small_writes(path, bytes);
    auto map = moe::MappedFile::open(path);
    REQUIRE_OK(map);
    (void)touch(map->data(), map->size());
    const int64_t huge = map->huge_page_bytes();
    std::printf("MappedFile: %lld of %zu bytes mapped with 2 MiB pages\n", static_cast<long long>(huge), bytes);
    CHECK(huge >= static_cast<int64_t>(bytes / 2));
    // The bytes are the file's.
    CHECK_EQ(map->data()[0], 0);
    CHECK_EQ(map->data()[bytes - 1], static_cast<uint8_t>(((bytes - 1) >> 12) & 0xff));
    std::remove(path.c_str());
}

MOE_TEST(a_small_file_maps_as_written) {
    // Under kRefreshCacheBytes nothing is probed; the map reads the file as written.
    const std::string path = moe_test::temp_dir() + "/small.bin";
    write_in_small_writes(path, 1u << 20);
    auto map = moe::MappedFile::open(path);
    REQUIRE_OK(map);
    CHECK_EQ(map->size(), size_t(1) << 20);
    CHECK_EQ(map->data()[5 * 4096], 5);
    std::remove(path.c_str());
}
