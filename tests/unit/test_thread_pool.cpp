// The CPU thread pool: every run() calls each thread exactly once and returns after all calls, including
// runs that find the workers asleep (gaps longer than their spin) and back-to-back runs.
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
