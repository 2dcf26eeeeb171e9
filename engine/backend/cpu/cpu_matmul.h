// The CPU backend's matrix kernels: products of stored-type weights (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
// Q5_1, Q4_K, Q5_K, Q6_K, FP8 block-scaled) with float32 activations, the SwiGLU expert FFN, float32 GEMM, and
// the memory-bandwidth probe the benchmarks divide by. SIMD (AVX2/FMA/F16C) where the CPU has it, scalar
// otherwise; every SIMD path is tested against the scalar one.
#pragma once

#include "backend/matrix_view.h"
#include "core/status.h"

#include <cstdint>
#include <span>

namespace moe::cpu {

class ThreadPool;

// True when matmul() handles weights of `type`: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, F8_E4M3_B128. (Q2_K/Q3_K and FP8 dequantize each row and take a float dot product; the others have
// direct integer / fp16 kernels.)
bool matmul_supports(GgmlType type);

// y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tokens, r < w.rows.
//   x: [n_tokens][x_stride >= w.cols] float32, y: [n_tokens][y_stride >= w.rows] float32 (overwritten).
// `mode` says how x is rounded first (see ActivationMode). Native matches llama.cpp's CPU backend: the result
// is dequant(W) . dequant(quantize(x)) up to float rounding, except that Q4_1/Q5_1 rows add min * s per block
// with s = fp16(d * sum(q)) as llama.cpp's Q8_1 dot does. Few tokens (< 24): one dot product per (row, token)
// on the stored weights; more: a packed float GEMM (weights converted once per panel). Results do not depend
// on the pool's thread count. Errors: unsupported type, cols not a multiple of the type's block size,
// row_bytes too small, strides narrower than the matrix.
Status matmul(ThreadPool& pool, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
              int64_t y_stride, ActivationMode mode = ActivationMode::Native);

// Several independent products over the same n_tokens in one parallel region (q and kv_a of one layer, ...).
Status matmul_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens);

// Announces a coming one-token product (a matmul_batch of these matrices, or one matmul): each thread of the pool
// requests the rows it will compute there (the split matmul_batch makes; ThreadPool::kLookaheadBytes at most)
// while it waits or computes in the next regions (ThreadPool's lookahead).
void announce_product(ThreadPool& pool, std::span<const MatrixView> product);

// y[t][c] = sum_r x[t][r] * W[r][c] (the transposed product, float32 activations, dequantized weights):
//   x: [n_tokens][x_stride >= w.rows], y: [n_tokens][y_stride >= w.cols] (overwritten).
// Used by absorbed MLA with the legacy attn_kv_b layout: q_lat = W_UK^T q_nope.
Status matmul_transposed(ThreadPool& pool, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens,
                         float* y, int64_t y_stride);

// Several transposed products over the same n_tokens in one parallel region (the per-head W_UK^T of absorbed MLA).
Status matmul_transposed_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens);

// Mixture-of-experts SwiGLU:  y[t] += sum_j weights[t][j] * down_e(silu(gate_e x[t]) * up_e x[t]),
//   e = ids[t][j], j < k.  x: [n_tokens][n_embd], y: [n_tokens][n_embd] (accumulated), ids/weights: [n_tokens][k].
// Tokens routed to one expert are gathered and multiplied together (a GEMM per expert when n_tokens > 1).
// A dense or shared FFN is the case of one expert, k = 1, ids 0, weight 1. Activation rounding: Native.
Status moe_ffn(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens,
               int64_t n_embd, int64_t k, const int32_t* ids, const float* weights, float* y);

// C[m][n] = alpha * sum_k A[m][k] * B[n][k] + beta * C[m][n]: both operands row-major with k innermost.
void sgemm_nt(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, float alpha = 1.0f, float beta = 0.0f);
// C[m][n] = alpha * sum_k A[m][k] * B[k][n] + beta * C[m][n].
void sgemm_nn(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, float alpha = 1.0f, float beta = 0.0f);

// The probe's buffer: much larger than the last-level cache a process gets. A KVM Xeon with 480 MiB of L3
// (shared with other guests), 2 threads, GB/s by buffer size: 64 MiB 60, 128 MiB 58, 256 MiB 44, 512 MiB 40,
// 1 GiB 38, 2 GiB 38.
constexpr uint64_t kBandwidthProbeBytes = 1ull << 30;

// Read bandwidth of main memory with every pool thread streaming its own part of a buffer much larger than the
// caches (bytes read / seconds, best of `repetitions`), in GB/s (1e9 bytes).
double measure_memory_bandwidth_gbs(ThreadPool& pool, uint64_t buffer_bytes = kBandwidthProbeBytes,
                                    int repetitions = 5);

// Read bandwidth of the given memory (its whole 256-byte units), every pool thread streaming a part of each range
// in turn: the probe's method (the best of a plain stream and one requested into L2 ahead) on memory the caller
// has, such as a model's mapped weights, whose pages may sit on slower memory than a fresh buffer's.
struct ReadRange {
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
};
double measure_read_gbs(ThreadPool& pool, std::span<const ReadRange> ranges, int repetitions);

// The same probe with its buffer kept, for repeated readings (a benchmark measures the bandwidth next to each
// timed run: on a shared machine it changes over seconds). The buffer's pages are touched once, by the threads
// that read them. measure() returns 0 when the buffer could not be allocated.
class BandwidthProbe {
public:
    BandwidthProbe(ThreadPool& pool, uint64_t buffer_bytes);
    ~BandwidthProbe();
    BandwidthProbe(const BandwidthProbe&) = delete;
    BandwidthProbe& operator=(const BandwidthProbe&) = delete;
    double measure(int repetitions);

private:
    ThreadPool& m_pool;
    uint8_t* m_buf = nullptr;
    uint64_t m_lines = 0;  // 256-byte units
};

// True when this build has the AVX2/FMA/F16C kernels (MOE_NATIVE on an x86 CPU that has them).
bool simd_available();
// Testing hook (process-wide): false makes every function above run its portable scalar kernels even in an
// AVX2 build, so tests can check both paths. Not meant to be flipped while products run on other threads.
void set_simd_enabled(bool enabled);
// Testing hook (process-wide): false keeps the AVX2 kernels where the CPU has AVX-512 (the 512-bit kernels give
// the same bits; tests compare them). Read when a product picks its kernels.
void set_avx512_enabled(bool enabled);

}  // namespace moe::cpu
