// A fixed pool of worker threads for the CPU backend. The calling thread takes part in every run, so a pool of
// n threads starts n - 1 workers. Workers spin briefly between runs (decode issues thousands of small runs per
// token) and then sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace moe::cpu {

class ThreadPool {
public:
    // n_threads <= 0: one per hardware thread.
    explicit ThreadPool(int n_threads = 0);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return m_n_threads; }

    // Calls fn(ith, nth) once on each of the nth = size() threads (ith = 0 is the caller) and returns when all
    // calls have returned. Not reentrant: fn must not call run() on the same pool.
    void run(const std::function<void(int ith, int nth)>& fn);

    // Splits [0, n) into size() contiguous chunks (multiples of `grain` except the last) and calls
    // fn(begin, end) for each non-empty chunk.
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

    static int hardware_threads();

private:
    void worker_main(int ith);

    int m_n_threads = 1;
    std::vector<std::thread> m_workers;
    const std::function<void(int, int)>* m_job = nullptr;
    std::atomic<uint64_t> m_generation{0};
    std::atomic<int> m_pending{0};
    std::atomic<bool> m_stop{false};
    std::atomic<int> m_sleeping{0};  // workers blocked on m_wake: run() locks and notifies only when > 0
    std::mutex m_mutex;
    std::condition_variable m_wake;
};

}  // namespace moe::cpu
