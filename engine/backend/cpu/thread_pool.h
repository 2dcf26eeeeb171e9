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
#include <utility>
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

    // Lookahead: lines a thread will read in a coming region, requested (into L2) while it has nothing else to do
    // for the memory: spinning between regions, and in compute-bound ops that call lookahead_pump(). Spans added
    // for thread ith before run() become that thread's lookahead when the run starts (replacing what was left);
    // at most kLookaheadSpans spans and kLookaheadBytes (spans cut to fit: a thread's L2 must hold them) per run;
    // a span that starts where the last one ends extends it.
    // Only hints: a request never faults, so a span may outlive its memory (an unloaded model) harmlessly, and no
    // result depends on it. Called by the thread that calls run().
    static constexpr int kLookaheadSpans = 8;
    static constexpr uint64_t kLookaheadBytes = 512 * 1024;
    void add_lookahead(int ith, const uint8_t* begin, const uint8_t* end);

private:
    struct Span {
        const uint8_t* begin = nullptr;
        const uint8_t* end = nullptr;
    };
    struct PendingLookahead {
        Span spans[kLookaheadSpans];
        int n = 0;
        uint64_t bytes = 0;
    };
    void install_lookahead(int ith);
    void clear_pending_lookahead();
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
    std::vector<PendingLookahead> m_lookahead;  // [n_threads], for the next run
    bool m_has_lookahead = false;
};

// One step of a spin wait: requests a few lines of the calling thread's lookahead while it has any (the memory is
// idle while the thread waits), else pauses.
void spin_step();

// Spin steps of a waiting thread before it starts yielding its core.
inline constexpr int kWaitSpins = 4000;

// Waits until done() holds (another thread's part of a region: microseconds): spin steps, then yields after
// kWaitSpins of them, so that a thread descheduled on a machine busier than its cores can run here.
template <class Done>
void wait_until(const Done& done) {
    for (int spin = 0; !done(); ++spin) {
        if (spin < kWaitSpins)
            spin_step();
        else
            std::this_thread::yield();
    }
}

// Requests up to max_lines lines of the calling thread's lookahead; false when it has none left.
bool lookahead_pump(int max_lines);

// What a thread reads right after the current region, for a stream of this region to request as it ends (paced
// with its own reads rather than in a burst at a spin): up to max_bytes of the calling thread's lookahead from
// where it has been requested to, within one span, if the spans were added for this run (announced right before
// it, so they describe what follows it), else nothing. Those bytes count as requested.
std::pair<const uint8_t*, const uint8_t*> claim_lookahead(uint64_t max_bytes);

}  // namespace moe::cpu
