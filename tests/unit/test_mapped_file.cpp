// MappedFile: a large file whose page cache holds 4 KiB folios (written by another program in small writes) maps
// with 2 MiB pages once opened, where the file system can make 2 MiB folios at all; so does one whose cache is part
// 2 MiB, part 4 KiB folios, and a model loaded (prefaulted) from a cold cache.
#include "check.h"
#include "core/mapped_file.h"
#include "model/fixture_writer.h"
#include "model/model.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
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

// Part of the cache in 2 MiB folios, the rest (the first and last quarters) in 4 KiB folios: a middle block maps as
// one page, and yet the quarters are found and read back in 2 MiB pages (before the probes were spread over the file,
// this stayed at about half).
MOE_TEST(a_cache_partly_of_small_folios_is_read_back_in_2_mib_pages) {
    const size_t bytes = moe::MappedFile::kRefreshCacheBytes + (8u << 20);
    const size_t mid0 = bytes / 4 / (2u << 20) * (2u << 20), mid1 = bytes * 3 / 4 / (2u << 20) * (2u << 20);
    const std::string path = moe_test::temp_dir() + "/mixed-folios.bin";
    write_in_small_writes(path, bytes);
    {
        // The middle half dropped and read again through a MADV_HUGEPAGE map: 2 MiB folios where the file system
        // makes them.
        const int fd = ::open(path.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        REQUIRE(posix_fadvise(fd, static_cast<off_t>(mid0), static_cast<off_t>(mid1 - mid0), POSIX_FADV_DONTNEED) == 0);
        void* p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
        REQUIRE(p != MAP_FAILED);
        (void)madvise(p, bytes, MADV_HUGEPAGE);
        (void)touch(static_cast<const uint8_t*>(p) + mid0, mid1 - mid0);
        munmap(p, bytes);
        ::close(fd);
    }
    auto map = moe::MappedFile::open(path);
    REQUIRE_OK(map);
    (void)touch(map->data(), map->size());
    const int64_t huge = map->huge_page_bytes();
    std::printf("mixed cache, MappedFile: %lld of %zu bytes mapped with 2 MiB pages\n", static_cast<long long>(huge),
                bytes);
    if (huge < static_cast<int64_t>(mid1 - mid0) / 2) MOE_SKIP("this file system gives 4 KiB folios only");
    CHECK(huge >= static_cast<int64_t>(bytes - (4u << 20)));
    CHECK_EQ(map->data()[bytes - 1], static_cast<uint8_t>(((bytes - 1) >> 12) & 0xff));
    std::remove(path.c_str());
}

namespace {

// A model of ~79 MB (F16, 32 experts of 512) written to `path` and dropped from the page cache.
void write_cold_model(const std::string& path) {
    auto spec = moe::fixture_preset(moe::Arch::Deepseek2, "tiny");
    REQUIRE_OK(spec);
    spec->n_embd = 256;
    spec->n_layer = 4;
    spec->n_expert = 32;
    spec->n_ff_exp = 512;
    spec->type = moe::GgmlType::F16;
    spec->n_threads = 2;
    REQUIRE_OK(moe::write_fixture(*spec, path));
    const int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
    ::close(fd);
}

// Loads `path` with prefault and checks that all but the partial 2 MiB blocks at its ends are mapped with 2 MiB
// pages (skips where the file system gives 4 KiB folios only).
void check_loaded_in_2_mib_pages(const std::string& path, const char* what) {
    moe::ModelLoadOptions options;
    options.n_threads = 1;
    options.prefault = true;
    auto model = moe::Model::load(path, options);
    REQUIRE_OK(model);
    const int64_t huge = moe::MappedFile::residency(path).huge_page_bytes;
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(path));
    std::printf("%s: %lld of %lld bytes mapped with 2 MiB pages\n", what, static_cast<long long>(huge),
                static_cast<long long>(bytes));
    if (huge <= 0) MOE_SKIP("this file system gives 4 KiB folios only");
    CHECK(huge >= bytes - (4 << 20));
}

}  // namespace

// Model::load prefaults the weights before it binds them: the small vectors binding reads (norms scattered between
// the matrices) leave read-ahead state that made the blocks after them come in as small folios when the prefault came
// second (medium Q8_0: 21 of 412 blocks; this model: 71.3 of 79.2 MB in 2 MiB pages).
MOE_TEST(a_model_prefaulted_from_a_cold_cache_maps_in_2_mib_pages) {
    const std::string path = moe_test::temp_dir() + "/cold-model.gguf";
    write_cold_model(path);
    check_loaded_in_2_mib_pages(path, "model from a cold cache");
    std::remove(path.c_str());
}

// Four blocks already cached in 4 KiB folios (read through a MADV_RANDOM map: no read-ahead), none of them where
// the probes at open look: after the prefault the whole map is looked at and read again
// (MappedFile::refresh_small_pages).
MOE_TEST(a_model_whose_cache_is_partly_small_folios_is_read_again) {
    const std::string path = moe_test::temp_dir() + "/partly-small-model.gguf";
    write_cold_model(path);
    {
        const int fd = ::open(path.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        const auto bytes = static_cast<size_t>(std::filesystem::file_size(path));
        void* p = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
        REQUIRE(p != MAP_FAILED);
        (void)madvise(p, bytes, MADV_RANDOM);
        for (size_t block : {5, 14, 20, 30})  // 2 MiB blocks
            (void)touch(static_cast<const uint8_t*>(p) + (block << 21), size_t(2) << 20);
        munmap(p, bytes);
        ::close(fd);
    }
    check_loaded_in_2_mib_pages(path, "model with a partly small cache");
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
