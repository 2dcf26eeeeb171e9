#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <chrono>

namespace moe::cpu {

namespace {
// Spin iterations before a worker sleeps: about 50-100 us, longer than the gap between two ops of one token.
constexpr int kSpinIterations = 20000;
// Lines requested per pump while spinning: a group, then the generation check (a stalled prefetch delays the
// next run's start by at most a memory latency or so).
constexpr int kSpinPumpLines = 8;

// The calling thread's lookahead: its spans and how far they have been requested.
struct LocalLookahead {
    const uint8_t* begin[ThreadPool::kLookaheadSpans] = {};
    const uint8_t* end[ThreadPool::kLookaheadSpans] = {};
    int n = 0;
    int i = 0;           // span being requested
    uintptr_t next = 0;  // next line of span i
    bool fresh = false;  // the spans were added for the current run
};
thread_local LocalLookahead t_lookahead;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
}  // namespace

void spin_step() {
    if (!lookahead_pump(kSpinPumpLines)) cpu_relax();
}

bool lookahead_pump(int max_lines) {
    LocalLookahead& la = t_lookahead;
    while (la.i < la.n) {
        const uintptr_t end = reinterpret_cast<uintptr_t>(la.end[la.i]);
        for (; max_lines > 0 && la.next < end; --max_lines, la.next += 64)
            __builtin_prefetch(reinterpret_cast<const void*>(la.next), 0, 2);  // L2 and up: read in a later region
        if (la.next < end) return true;
        if (++la.i < la.n) la.next = reinterpret_cast<uintptr_t>(la.begin[la.i]) & ~uintptr_t{63};
    }
    return false;
}

std::pair<const uint8_t*, const uint8_t*> claim_lookahead(uint64_t max_bytes) {
    LocalLookahead& la = t_lookahead;
    if (!la.fresh || la.i >= la.n) return {nullptr, nullptr};
    const uintptr_t begin = la.next;
    const uintptr_t span_end = reinterpret_cast<uintptr_t>(la.end[la.i]);
    la.next = std::min<uintptr_t>(span_end, begin + max_bytes);
    const auto claimed =
        std::make_pair(reinterpret_cast<const uint8_t*>(begin), reinterpret_cast<const uint8_t*>(la.next));
    if (la.next >= span_end && ++la.i < la.n) la.next = reinterpret_cast<uintptr_t>(la.begin[la.i]) & ~uintptr_t{63};
    return claimed;
}

void ThreadPool::add_lookahead(int ith, const uint8_t* begin, const uint8_t* end) {
    if (ith < 0 || ith >= m_n_threads || begin >= end) return;
    PendingLookahead& p = m_lookahead[static_cast<size_t>(ith)];
    if (p.bytes == kLookaheadBytes) return;
    const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(end - begin), kLookaheadBytes - p.bytes);
    if (p.n > 0 && p.spans[p.n - 1].end == begin) {
        p.spans[p.n - 1].end = begin + n;
    } else {
        if (p.n == kLookaheadSpans) return;
        p.spans[p.n++] = {begin, begin + n};
    }
    p.bytes += n;
    m_has_lookahead = true;
}

void ThreadPool::clear_pending_lookahead() {
    if (!m_has_lookahead) return;
    for (PendingLookahead& p : m_lookahead) {
        p.n = 0;
        p.bytes = 0;
    }
    m_has_lookahead = false;
}

void ThreadPool::install_lookahead(int ith) {
    LocalLookahead& la = t_lookahead;
    la.fresh = m_has_lookahead;
    if (!m_has_lookahead) return;  // nothing new: what is left of the last one stays
    const PendingLookahead& p = m_lookahead[static_cast<size_t>(ith)];
    la.n = p.n;
    la.i = 0;
    for (int i = 0; i < p.n; ++i) {
        la.begin[i] = p.spans[i].begin;
        la.end[i] = p.spans[i].end;
    }
    la.next = p.n > 0 ? reinterpret_cast<uintptr_t>(p.spans[0].begin) & ~uintptr_t{63} : 0;
}

int ThreadPool::hardware_threads() {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int n_threads)
    : m_n_threads(n_threads <= 0 ? hardware_threads() : n_threads), m_lookahead(static_cast<size_t>(m_n_threads)) {
    m_workers.reserve(static_cast<size_t>(m_n_threads - 1));
    for (int i = 1; i < m_n_threads; ++i) m_workers.emplace_back([this, i] { worker_main(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop.store(true);
        m_generation.fetch_add(1);
    }
    m_wake.notify_all();
    for (auto& t : m_workers) t.join();
}

void ThreadPool::worker_main(int ith) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t gen = m_generation.load(std::memory_order_acquire);
        for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
            spin_step();
            gen = m_generation.load(std::memory_order_acquire);
        }
        if (gen == seen) {
            // seq_cst on m_sleeping and m_generation here and in run(): either run() sees this worker counted
            // as sleeping (and notifies under the lock) or this worker's predicate sees the new generation.
            std::unique_lock<std::mutex> lock(m_mutex);
            m_sleeping.fetch_add(1);
            m_wake.wait(lock, [&] { return m_generation.load() != seen; });
            m_sleeping.fetch_sub(1);
            gen = m_generation.load(std::memory_order_acquire);
        }
        seen = gen;
        if (m_stop.load()) return;
        install_lookahead(ith);
        (*m_job)(ith, m_n_threads);
        m_pending.fetch_sub(1, std::memory_order_acq_rel);
    }
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (m_n_threads == 1) {
        install_lookahead(0);
        clear_pending_lookahead();
        fn(0, 1);
        return;
    }
    m_job = &fn;
    m_pending.store(m_n_threads - 1, std::memory_order_release);
    m_generation.fetch_add(1);
    if (m_sleeping.load() > 0) {
        // The lock orders the notification against a worker between its predicate check and its wait.
        std::lock_guard<std::mutex> lock(m_mutex);
        m_wake.notify_all();
    }
    install_lookahead(0);
    fn(0, m_n_threads);
    // Spin while the workers finish (regions last microseconds).
    wait_until([this] { return m_pending.load(std::memory_order_acquire) == 0; });
    m_job = nullptr;
    clear_pending_lookahead();
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t n_grains = (n + grain - 1) / grain;
    const int nth = static_cast<int>(std::min<int64_t>(m_n_threads, n_grains));
    if (nth <= 1) {
        fn(0, n);
        return;
    }
    run([&](int ith, int) {
        if (ith >= nth) return;
        const int64_t g0 = n_grains * ith / nth;
        const int64_t g1 = n_grains * (ith + 1) / nth;
        const int64_t begin = g0 * grain;
        const int64_t end = std::min(n, g1 * grain);
        if (begin < end) fn(begin, end);
    });
}

}  // namespace moe::cpu
