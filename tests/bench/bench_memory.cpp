// The memory as decode sees it, 2 threads (or argv[1]): what bounds moewb bench's generation figures on a machine.
//  - latency: a pointer chase over buffers of 1 MiB - 1 GiB (where it jumps: the last-level cache this process gets);
//  - the bandwidth probe by buffer size (a buffer that fits that cache reads faster than memory);
//  - one core reading ranges of 64 KiB - 1 MiB in order and shuffled (decode reads each expert matrix as such a range
//    at a random place: a core starts a stream at a new place slower than it keeps one going).
// Each range is read by itself (no request runs on into the next). Figures of one KVM Xeon, 15 s: latency 38-61 ns from
// 4 to 64 MiB, 113 at 128 MiB, 179 at 1 GiB; probe 56 GB/s at 64 MiB, 39.6 at 1 GiB; one core, in order / shuffled,
// 64 KiB 18.0 / 14.9, 128 KiB 18.0 / 16.1, 256 KiB 18.8 / 18.2, 1 MiB 19.4 / 19.1 GB/s.
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

using namespace moe::cpu;

namespace {

// A buffer in 2 MiB pages where the kernel gives them, touched once.
struct Buffer {
    uint8_t* data = nullptr;
    uint64_t bytes = 0;
    explicit Buffer(uint64_t n) : bytes((n + (2u << 20) - 1) / (2u << 20) * (2u << 20)) {
        data = static_cast<uint8_t*>(std::aligned_alloc(2u << 20, bytes));
        if (data == nullptr) return;
#if defined(__linux__)
        (void)madvise(data, bytes, MADV_HUGEPAGE);
#endif
        std::memset(data, 1, bytes);
    }
    ~Buffer() {
        std::free(data);
    }
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
};

// Nanoseconds per dependent load over `bytes`, one line per 64 bytes visited in a random cycle.
double chase_ns(uint64_t bytes, std::mt19937& rng) {
    Buffer b(bytes);
    if (b.data == nullptr) return 0.0;
    const uint64_t n = bytes / 64;
    std::vector<uint32_t> order(n);
    for (uint64_t i = 0; i < n; ++i) order[i] = static_cast<uint32_t>(i);
    std::shuffle(order.begin(), order.end(), rng);
    for (uint64_t i = 0; i < n; ++i) {
        const uint64_t next = uint64_t{order[(i + 1) % n]} * 64;
        std::memcpy(b.data + uint64_t{order[i]} * 64, &next, 8);
    }
    uint64_t p = uint64_t{order[0]} * 64;
    for (uint64_t i = 0; i < n; ++i) std::memcpy(&p, b.data + p, 8);  // warm
    const int steps = 2000000;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) std::memcpy(&p, b.data + p, 8);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    volatile uint64_t sink = p;
    (void)sink;
    return s / steps * 1e9;
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = argc > 1 ? std::max(1, std::atoi(argv[1])) : 2;
    std::mt19937 rng(7);

    std::printf("latency (pointer chase, ns):");
    for (uint64_t mib : {1, 4, 16, 32, 64, 128, 256, 1024})
        std::printf("  %llu MiB %.0f", (unsigned long long)mib, chase_ns(mib << 20, rng));
    std::printf("\n");

    ThreadPool pool(threads), one(1);
    std::printf("probe, %d threads, GB/s by buffer:", pool.size());
    for (uint64_t mib : {64, 128, 256, 512, 1024, 2048})
        std::printf("  %llu MiB %.1f", (unsigned long long)mib, measure_memory_bandwidth_gbs(pool, mib << 20, 3));
    std::printf("\n");

    Buffer big(2ull << 30);
    if (big.data == nullptr) return 1;
    std::printf("one core, ranges in order / shuffled (GB/s):");
    for (uint64_t range : {64u << 10, 128u << 10, 256u << 10, 1u << 20}) {
        std::vector<ReadRange> ranges;
        for (uint64_t at = 0; at + range <= big.bytes; at += range) ranges.push_back({big.data + at, range});
        const double in_order = measure_read_gbs(one, ranges, 2);
        std::shuffle(ranges.begin(), ranges.end(), rng);
        const double shuffled = measure_read_gbs(one, ranges, 2);
        std::printf("  %llu KiB %.1f / %.1f", (unsigned long long)(range >> 10), in_order, shuffled);
    }
    std::printf("\n");
    return 0;
}
