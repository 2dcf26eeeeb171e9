// The CPU thread pool: every run() calls each thread exactly once and returns after all calls, including
// runs that find the workers asleep (gaps longer than their spin) and back-to-back runs; the lookahead (lines a
// thread requests before a coming region reads them) and the products' announcements that fill it.
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "check.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

using moe::cpu::ThreadPool;

MOE_TEST(run_calls_every_thread_once_per_run) {
    for (int n : {1, 2, 3}) {
        ThreadPool pool(n);
        CHECK_EQ(pool.size(), n);
        std::vector<std::atomic<int>> calls(static_cast<size_t>(n));
        std::atomic<int> bad{0};
        for (int r = 0; r < 4000; ++r) {
            pool.run([&](int ith, int nth) {
                if (nth != n || ith < 0 || ith >= n)
                    bad.fetch_add(1);
                else
                    calls[static_cast<size_t>(ith)].fetch_add(1);
            });
            // Every thread's call has returned when run() returns.
            if (r % 997 == 0)
                for (int i = 0; i < n; ++i) CHECK_EQ(calls[static_cast<size_t>(i)].load(), r + 1);
            if (r % 1000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // workers fall asleep
        }
        CHECK_EQ(bad.load(), 0);
        for (int i = 0; i < n; ++i) CHECK_EQ(calls[static_cast<size_t>(i)].load(), 4000);
    }
}

MOE_TEST(parallel_for_covers_the_range_once) {
    ThreadPool pool(2);
    for (int64_t n : {0, 1, 5, 64, 1001}) {
        for (int64_t grain : {1, 4, 100}) {
            std::vector<std::atomic<int>> hit(static_cast<size_t>(n));
            pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
                for (int64_t i = b; i < e; ++i) hit[static_cast<size_t>(i)].fetch_add(1);
            });
            for (int64_t i = 0; i < n; ++i) CHECK_EQ(hit[static_cast<size_t>(i)].load(), 1);
        }
    }
}

namespace {
// Lines of the calling thread's lookahead, requesting them all (lookahead_pump(1) until none are left).
int drain_lookahead() {
    int lines = 0;
    while (moe::cpu::lookahead_pump(1)) ++lines;
    return lines + 1;  // the call that returned false requested the last line (or nothing, when empty)
}
}  // namespace

MOE_TEST(lookahead_starts_with_the_next_run_and_is_requested_once) {
    alignas(64) static uint8_t buf[4096];
    ThreadPool pool(1);
    pool.run([](int, int) {});
    while (moe::cpu::lookahead_pump(64)) {
    }
    CHECK(!moe::cpu::lookahead_pump(1));
    pool.add_lookahead(0, buf, buf + 640);          // 10 lines
    pool.add_lookahead(0, buf + 1000, buf + 1100);  // lines at 960, 1024, 1088: 3
    pool.add_lookahead(0, buf + 2048, buf + 2048);  // empty: ignored
    CHECK(!moe::cpu::lookahead_pump(1));  // added spans wait for the run
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), 13);
    // What a run leaves unrequested stays for the next runs until new spans replace it.
    pool.add_lookahead(0, buf, buf + 1280);
    pool.run([](int, int) {});
    CHECK(moe::cpu::lookahead_pump(5));
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), 15);
    pool.add_lookahead(0, buf, buf + 1280);
    pool.run([](int, int) {});
    CHECK(moe::cpu::lookahead_pump(5));
    pool.add_lookahead(0, buf + 2048, buf + 2048 + 128);
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), 2);
    // At most kLookaheadSpans spans per run; a span that starts where the last one ends extends it.
    for (int i = 0; i < ThreadPool::kLookaheadSpans + 3; ++i) pool.add_lookahead(0, buf + 128 * i, buf + 128 * i + 64);
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), ThreadPool::kLookaheadSpans);
    for (int i = 0; i < ThreadPool::kLookaheadSpans + 3; ++i) pool.add_lookahead(0, buf + 64 * i, buf + 64 * i + 64);
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), ThreadPool::kLookaheadSpans + 3);
    // At most kLookaheadBytes per run: the span that crosses it is cut, later ones are dropped.
    constexpr uint64_t kCap = ThreadPool::kLookaheadBytes;
    std::vector<uint8_t> big(kCap + 64 * 1024 + 64);
    uint8_t* b = big.data() + (64 - reinterpret_cast<uintptr_t>(big.data()) % 64) % 64;
    pool.add_lookahead(0, b, b + 64 * 1024);
    pool.add_lookahead(0, b + 64 * 1024, b + 64 * 1024 + kCap);
    pool.add_lookahead(0, buf, buf + 64);
    pool.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), static_cast<int>(kCap / 64));
}

MOE_TEST(a_run_claims_only_what_was_announced_for_it_and_it_is_not_requested_again) {
    alignas(64) static uint8_t buf[4096];
    using Claim = std::pair<const uint8_t*, const uint8_t*>;
    ThreadPool pool(1);
    pool.run([](int, int) {});
    while (moe::cpu::lookahead_pump(64)) {
    }
    Claim c{buf, buf};
    pool.run([&](int, int) { c = moe::cpu::claim_lookahead(512); });
    CHECK(c == Claim(nullptr, nullptr));  // nothing announced
    // Up to max_bytes of the first span; the rest of the lookahead stays for the pump.
    pool.add_lookahead(0, buf, buf + 1000);
    pool.add_lookahead(0, buf + 2048, buf + 2048 + 640);
    pool.run([&](int, int) { c = moe::cpu::claim_lookahead(512); });
    CHECK(c == Claim(buf, buf + 512));
    CHECK_EQ(drain_lookahead(), 8 + 10);  // lines 512 .. 960, then the second span
    // Never past the span's end: the next claim starts at the next span.
    pool.add_lookahead(0, buf, buf + 1000);
    pool.add_lookahead(0, buf + 2048, buf + 2048 + 640);
    Claim c2;
    pool.run([&](int, int) {
        c = moe::cpu::claim_lookahead(4096);
        c2 = moe::cpu::claim_lookahead(128);
    });
    CHECK(c == Claim(buf, buf + 1000));
    CHECK(c2 == Claim(buf + 2048, buf + 2048 + 128));
    CHECK_EQ(drain_lookahead(), 8);
    // What an earlier run left is the pump's, not a claim of this run.
    pool.add_lookahead(0, buf, buf + 1280);
    pool.run([](int, int) {});
    pool.run([&](int, int) { c = moe::cpu::claim_lookahead(512); });
    CHECK(c == Claim(nullptr, nullptr));
    CHECK_EQ(drain_lookahead(), 20);
}

MOE_TEST(announced_products_become_each_threads_rows_capped) {
    // One thread: its rows are every row, the products in announcement order, at most kLookaheadBytes in all.
    constexpr uint64_t kCap = ThreadPool::kLookaheadBytes;
    std::vector<uint8_t> mem((3u << 20) + 64);
    uint8_t* base = mem.data() + (64 - reinterpret_cast<uintptr_t>(mem.data()) % 64) % 64;
    moe::MatrixView small;
    small.type = moe::GgmlType::Q8_0;
    small.rows = 10;
    small.cols = 64;
    small.row_bytes = 68;
    small.data = base;
    moe::MatrixView big = small;
    big.rows = 8192;
    big.row_bytes = 272;
    big.cols = 256;
    big.data = base + 4096;
    ThreadPool one(1);
    moe::cpu::announce_product(one, std::span<const moe::MatrixView>(&small, 1));
    one.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), 11);  // 680 bytes from a line start
    moe::cpu::announce_product(one, std::span<const moe::MatrixView>(&small, 1));
    moe::cpu::announce_product(one, std::span<const moe::MatrixView>(&big, 1));
    one.run([](int, int) {});
    CHECK_EQ(drain_lookahead(), 11 + static_cast<int>((kCap - 680 + 63) / 64));
    // Two threads: the caller's share is the first half of the rows (matmul's split by bytes), so after its run
    // (which may request some of it while waiting for the worker) at most that much is left.
    ThreadPool two(2);
    moe::MatrixView mid = big;
    mid.rows = 1024;  // 278528 bytes: 2176 lines per thread
    moe::cpu::announce_product(two, std::span<const moe::MatrixView>(&mid, 1));
    two.run([](int, int) {});
    const int left = drain_lookahead();
    CHECK(left >= 1 && left <= 2176);
}

MOE_TEST(memory_bandwidth_probe_reports_a_rate) {
    ThreadPool pool(2);
    const double gbs = moe::cpu::measure_memory_bandwidth_gbs(pool, 16u << 20, 1);
    CHECK(gbs > 0.1);
    CHECK(gbs < 10000.0);
}
