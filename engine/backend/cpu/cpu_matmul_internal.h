// Internal to the CPU backend: the GEMV machinery shared by matmul / matmul_batch (cpu_matmul.cpp) and
// moe_ffn (cpu_moe.cpp).
#pragma once

#include "backend/cpu/cpu_kernels.h"
#include "core/status.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace moe::cpu::detail {

// From this many tokens on, products use the packed GEMM (weights converted to float once per panel)
// instead of one dot product per (row, token) with weight rows reused from cache across a tile of tokens.
// Measured (1 thread, 1024x2048): the int8/fp16 dots cost ~0.05 ns per weight per token; the GEMM's packing and
// float micro-kernel only win from about 24 tokens (16: equal, 32: GEMM 20-30% faster). Q4_1/Q5_1 always use
// the dot path (their Q8_1 min term has no per-element float form).
constexpr int64_t kGemmMinTokens = 24;

// Checks a product's operands; `what` names the op ("matmul", "moe_ffn: expert 3 gate", ...).
Status check_weights(const char* what, const MatrixView& w);
Status check_product(const char* what, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                     const float* y, int64_t y_stride);

// One matrix of a GEMV region: y[t][r] = W[r] . act[t] for the rows a thread is given.
struct GemvTask {
    MatrixView w;
    RowKernel kernel;
    const uint8_t* acts = nullptr;  // [n_tokens][act_bytes] prepared activations
    int64_t act_bytes = 0;
    float* y = nullptr;
    int64_t y_stride = 0;
};

// Rows [r0, r1) of a task for n_tokens tokens, tiled so a tile of weight rows stays in cache across tokens.
void gemv_rows(const GemvTask& task, int64_t r0, int64_t r1, int64_t n_tokens, ByteSpan then = {});

// The rows of each task that thread ith of nth computes, splitting the total weight bytes evenly:
// out[i] = {r0, r1} for task i.
void split_rows(const GemvTask* tasks, size_t n_tasks, int ith, int nth, std::vector<std::pair<int64_t, int64_t>>& out);

// y[t][c0..c1) = sum_r x[t][r] * W[r][c0..c1) (the transposed product) on the calling thread.
void transposed_columns(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                        int64_t y_stride, int64_t c0, int64_t c1);

// matmul_batch without the operand checks (callers have checked).
void run_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens);

// Prepares n_tokens activation rows of x (stride x_stride) into dst ([n_tokens][dst_stride >= act_row_bytes]);
// parallel when the work is large.
void prepare_acts(ThreadPool& pool, ActType t, const float* x, int64_t x_stride, int64_t n_tokens, int64_t cols,
                  uint8_t* dst, int64_t dst_stride);

// One activation row as the GEMM path multiplies it: dequant(quantize(x)) or the fp16/bf16-rounded x (uses slot 3).
void float_act_row(ActType act, const float* x, int64_t cols, float* dst);

// Whether a product of n_tokens tokens with this kernel takes the packed GEMM path.
inline bool use_gemm(const RowKernel& k, int64_t n_tokens) {
    return n_tokens >= kGemmMinTokens && k.act != ActType::Q8_1;
}

// y = W x for float-ready activations through the packed GEMM (n_tokens >= kGemmMinTokens).
void matmul_gemm(ThreadPool& pool, const MatrixView& w, ActType act, const float* x, int64_t x_stride, int64_t n_tokens,
                 float* y, int64_t y_stride);

// Scratch slots: 0-2 gemm (B panel, packer rows, packed A), 3 matmul activations, 4 GEMM float activations,
// 5 dequantized weight row, 6-12 moe_ffn, 13-15 prompt attention (float K, V, scores). A scratch byte buffer, 64-byte
// aligned:
inline uint8_t* scratch_bytes(int slot, int64_t n) {
    return reinterpret_cast<uint8_t*>(scratch_floats(slot, (n + 3) / 4));
}

// The rows [front, back) a thread has left of its share, packed in one word: its owner takes chunks from the
// front, threads done with their own take them from the back.
class RowRange {
public:
    void reset(int64_t r0, int64_t r1) { m_s.store(pack(r0, r1), std::memory_order_relaxed); }
    // Up to n rows from the front (owner) or the back (others); an empty range when none are left.
    std::pair<int64_t, int64_t> take_front(int64_t n) { return take(n, true); }
    std::pair<int64_t, int64_t> take_back(int64_t n) { return take(n, false); }
    int64_t left() const {
        const uint64_t s = m_s.load(std::memory_order_relaxed);
        return static_cast<int64_t>(s & 0xffffffffu) - static_cast<int64_t>(s >> 32);
    }

private:
    static uint64_t pack(int64_t f, int64_t b) { return static_cast<uint64_t>(f) << 32 | static_cast<uint64_t>(b); }
    std::pair<int64_t, int64_t> take(int64_t n, bool front) {
        uint64_t s = m_s.load(std::memory_order_relaxed);
        for (;;) {
            const auto f = static_cast<int64_t>(s >> 32), b = static_cast<int64_t>(s & 0xffffffffu);
            if (f >= b) return {b, b};
            const int64_t f2 = front ? std::min(b, f + n) : f, b2 = front ? b : std::max(f, b - n);
            if (m_s.compare_exchange_weak(s, pack(f2, b2), std::memory_order_relaxed))
                return front ? std::pair{f, f2} : std::pair{b2, b};
        }
    }
    alignas(64) std::atomic<uint64_t> m_s{0};
};

}  // namespace moe::cpu::detail
