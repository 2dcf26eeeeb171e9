// Internal to the CPU backend (not a public header): activation formats, per-row dot kernels and the packed
// float GEMM that cpu_matmul.cpp and cpu_moe.cpp build on.
//
// A product W x in ActivationMode::Native first converts x to the weight's dot type (shared fixtures section
// 4): that "prepared activation" is what the row kernels read. Every kernel exists as portable scalar code and,
// when the build targets AVX2 + FMA + F16C, as an AVX2 version; use_simd() picks one (tests flip it).
#pragma once

#include "backend/matrix_view.h"

#include <cstdint>
#include <vector>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define MOE_CPU_AVX2 1
#else
#define MOE_CPU_AVX2 0
#endif

#if MOE_CPU_AVX2
// The 512-bit kernels (chosen at run time by use_avx512()) are compiled with this target attribute, between
// MOE_AVX512_BEGIN and MOE_AVX512_END (GCC 12 warns inside its own headers' _mm512_undefined_* under a target
// attribute: silenced there).
#define MOE_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))
#define MOE_AVX512_BEGIN                                                                 \
    _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"") \
        _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define MOE_AVX512_END _Pragma("GCC diagnostic pop")
#endif

namespace moe::cpu {
class ThreadPool;
}

namespace moe::cpu::detail {

// True when the AVX2 kernels are compiled in and not disabled by set_simd_enabled(false).
bool use_simd();
// True when use_simd() and the CPU has AVX-512 (F, BW, VL, DQ, VNNI) and set_avx512_enabled did not turn it off:
// the Q8_0 four-row kernels then hold two rows (quantized activations) or 16 columns (float activations) per
// 512-bit register, the transposed tiles 16 columns. (F16 rows stay 256-bit: twice the arithmetic rate from L2,
// but 5-7% slower from memory on Zen 5.)
bool use_avx512();

// What a prepared activation row holds.
enum class ActType {
    F32,        // [cols] float32, x unchanged
    F16Round,   // [cols] float32, each x rounded to fp16 (F16 weights)
    BF16Round,  // [cols] float32, each x rounded to bf16 (BF16 weights)
    Q8_0,       // [cols/32] ActQ8x32 (Q8_0/Q4_0/Q5_0 weights)
    Q8_1,       // [cols/32] ActQ8x32 with s (Q4_1/Q5_1 weights)
    Q8_K,       // [cols/256] ActQ8x256 (Q4_K/Q5_K/Q6_K weights)
    Q8_KFloat,  // [cols] float32 = dequantized Q8_K (Q2_K/Q3_K weights: dequantize-and-dot kernel)
};

// One Q8_0 / Q8_1 block of the activation. d is the fp16-rounded scale (as llama.cpp stores it), held as a
// float; s (Q8_1 only) = fp16(d_unrounded * sum(q)), the term Q4_1/Q5_1 multiply their min by.
struct ActQ8x32 {
    float d;
    float s;
    float dsum;  // d * sum(q) (exact in float): Q4_0/Q5_0 kernels multiply unsigned quants, then subtract bias * d_w *
                 // dsum
    int8_t q[32];
    // -128 * (the sum of q[4i .. 4i+3]) for i = 0..7: the VNNI kernels multiply (w + 128) as unsigned bytes by q
    // (vpdpbusd) starting from this, which leaves exactly the int32 sums of w * q.
    int32_t vnni_bias[8];
};

// One Q8_K block: float32 d = 1/iscale, 256 quants, and the sums of each 16 quants (for the K-quant mins).
struct ActQ8x256 {
    float d;
    int16_t bsums[16];
    int8_t q[256];
};

// The float float-type weights are rounded to / dequantized to; everything float-like uses the float kernels.
bool act_is_float(ActType t);
ActType act_type_for(GgmlType type, ActivationMode mode);
// Bytes of one prepared row of `cols` elements (cols a multiple of the type's block).
int64_t act_row_bytes(ActType t, int64_t cols);
// Converts x[0..cols) to the activation format; dst holds act_row_bytes(t, cols) bytes.
void prepare_act(ActType t, const float* x, int64_t cols, void* dst);
// The float values a prepared row stands for (dequant(quantize(x))): dst[0..cols). For Q8_1 this is d*q (the
// s term is not representable per element; the GEMM path is not used for Q4_1/Q5_1).
void act_to_float(ActType t, const void* act, int64_t cols, float* dst);

// The cache lines a four-row kernel requests ahead of its reads, 64-byte lines: those of its range [.., end), up to
// `next`, then those of what the thread reads after it, [then_begin, then_end), up to then_next. A position
// `end + d` past the range stands for then_begin + d. Requested by the kernel evenly over its iterations (see
// dot_rows and SpreadPrefetch).
struct PrefetchCursor {
    uintptr_t next = 0;
    uintptr_t end = 0;
    uintptr_t then_begin = 0;
    uintptr_t then_next = 0;
    uintptr_t then_end = 0;
};

// A row kernel: the dot product of weight row r with a prepared activation row.
// One weight row (stored bytes) times one prepared activation row of `cols` columns.
using RowKernelFn = float (*)(const uint8_t* w, const void* x, int64_t cols);

// The portable kernel of a weight type with ActivationMode::Native activations (cpu_dot_scalar.cpp); nullptr for
// types without one. Also what the SIMD kernels are tested against.
RowKernelFn scalar_kernel(GgmlType type);
// sum a[i] * b[i] in the portable kernels' order (eight partial sums).
float dot_f32_scalar(const float* a, const float* b, int64_t n);

struct RowKernel {
    GgmlType wtype = GgmlType::F32;
    ActType act = ActType::F32;
    // Direct kernel on the stored bytes; nullptr: dequantize the row to float then use the float kernel.
    RowKernelFn fn = nullptr;
    // Optional: n_groups groups of four consecutive rows (row stride rb) into out[0 .. 4 n_groups), four rows at a
    // time. One activation load serves four weight streams and the horizontal sums share one reduction (decode's
    // rows are short); each row keeps fn's summation order (the same bits). While it runs it requests the lines of
    // `pf` (its range, then the then-range), a group's bytes per group, spread over the group's iterations.
    void (*fn4)(const uint8_t* w, uint64_t rb, const void* x, int64_t cols, int64_t n_groups, float* out,
                PrefetchCursor* pf) = nullptr;
};

// False when the type has no kernel.
bool make_row_kernel(GgmlType type, ActivationMode mode, RowKernel* out);
// scratch: >= w.cols + 256 floats (used by the dequantizing kernels only).
float row_dot(const MatrixView& w, const RowKernel& k, int64_t r, const void* x, float* scratch);
// Bytes the calling thread reads next (the following range of rows): dot_rows starts requesting them while it
// finishes its own, so a new range does not begin with a full memory latency.
struct ByteSpan {
    const uint8_t* begin = nullptr;
    const uint8_t* end = nullptr;
};
inline ByteSpan row_span(const MatrixView& w, int64_t r0, int64_t r1) {
    if (r0 >= r1) return {};
    return {w.data + static_cast<uint64_t>(r0) * w.row_bytes, w.data + static_cast<uint64_t>(r1) * w.row_bytes};
}

// Requests every line of `s` at once (small matrices read soon after: a few KiB to ~100 KiB).
inline void request_lines(ByteSpan s) {
    for (const uint8_t* p = s.begin; p < s.end; p += 64) __builtin_prefetch(p, 0, 3);
}

// out[r - r0] = row r . x for r in [r0, r1) (fn4 where it has one), same scratch contract as row_dot. `then`:
// what this thread reads next (empty: nothing known).
void dot_rows(const MatrixView& w, const RowKernel& k, int64_t r0, int64_t r1, const void* x, float* out,
              float* scratch, ByteSpan then = {});
// Dequantizes row r, columns [c0, c0 + n) of w (c0 and n multiples of the type's block) to dst.
void dequant_row_segment(const MatrixView& w, int64_t r, int64_t c0, int64_t n, float* dst);
// Float dot product of two float rows (the kernel for F32 weights and dequantized rows).
float dot_f32(const float* a, const float* b, int64_t n);

// ---- packed float GEMM: C[m][n] = alpha * sum_k A[m][k] B(k, n) + beta * C[m][n] ----
constexpr int64_t kGemmMR = 6;    // rows of A per micro tile
constexpr int64_t kGemmNR = 16;   // columns of B per micro tile
constexpr int64_t kGemmKC = 256;  // k per packed panel (a multiple of every block size)
constexpr int64_t kGemmNC = 256;  // columns of B per packed panel (a multiple of 256: see pack_nn_stored)

// Packs B columns [n0, n0 + nc) over k [k0, k0 + kc) into ceil(nc/NR) slivers, each [kc][NR] (zero padded).
class BPacker {
public:
    virtual ~BPacker() = default;
    virtual void pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const = 0;
};

// A: [m][lda >= k] float32 row-major; C: [m][ldc >= n]. Threads split n (or m when n is small); every element
// is computed by the same sequence of operations whatever the thread count.
void gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BPacker& b, float* c,
          int64_t ldc, float alpha, float beta);

// gemm with alpha = 1, beta = 0 on the calling thread only (the same values as gemm: for work already split
// between threads, e.g. one expert per thread).
void gemm_serial(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BPacker& b, float* c, int64_t ldc);

// B = weight matrix in its stored type, C = A W^T (matmul's GEMM path): B(k, n) = dequant(W)[n][k].
class WeightPacker final : public BPacker {
public:
    explicit WeightPacker(const MatrixView& w) : m_w(w) {}
    void pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const override;

private:
    MatrixView m_w;
};

// B = weight matrix in its stored type, transposed product: B(k, n) = dequant(W)[k][n] (k = W's rows).
class WeightPackerT final : public BPacker {
public:
    explicit WeightPackerT(const MatrixView& w) : m_w(w) {}
    void pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const override;

private:
    MatrixView m_w;
};

// Reusable per-thread scratch memory (grows, never shrinks), 64-byte aligned.
float* scratch_floats(int slot, int64_t n);

}  // namespace moe::cpu::detail
