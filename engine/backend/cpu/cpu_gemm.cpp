// Packed, register-blocked float32 GEMM (the BLIS loop structure): A is packed once into MR-row slivers
// [k][MR] per KC panel, B into NR-column slivers [k][NR] per (NC, KC) panel, and a 6x16 FMA micro-kernel keeps
// 12 accumulators in registers. B's packer converts weights from their stored type, so each weight is
// converted once per product and reused for every token. Also sgemm_nt / sgemm_nn.
#include "backend/cpu/cpu_kernels.h"

#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <cstring>

#if MOE_CPU_AVX2
#include <immintrin.h>
#endif

namespace moe::cpu::detail {

namespace {

constexpr int64_t MR = kGemmMR, NR = kGemmNR, KC = kGemmKC, NC = kGemmNC;
constexpr int64_t MC = 96;  // rows of A per L2-resident block (16 slivers)

// How the micro-kernel writes its tile: overwrite with alpha*acc (+ beta*C), or add alpha*acc.
struct Store {
    float alpha;
    float beta;
    bool first;  // first k panel: apply beta (beta == 0: C is not read, so NaN garbage in C is ignored)
};

inline void store_tile(const float* acc /*[MR][NR]*/, float* c, int64_t ldc, int64_t mr, int64_t nr, Store st) {
    for (int64_t i = 0; i < mr; ++i) {
        float* crow = c + i * ldc;
        for (int64_t j = 0; j < nr; ++j) {
            const float v = st.alpha * acc[i * NR + j];
            if (!st.first)
                crow[j] += v;
            else
                crow[j] = st.beta == 0.0f ? v : v + st.beta * crow[j];
        }
    }
}

void kernel_scalar(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                   Store st) {
    float acc[MR * NR] = {};
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR)
        for (int64_t i = 0; i < MR; ++i)
            for (int64_t j = 0; j < NR; ++j) acc[i * NR + j] += a[i] * b[j];
    store_tile(acc, c, ldc, mr, nr, st);
}

#if MOE_CPU_AVX2
void kernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mr, int64_t nr, Store st) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
        const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
        __m256 av = _mm256_broadcast_ss(a);
        c00 = _mm256_fmadd_ps(av, b0, c00);
        c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1);
        c10 = _mm256_fmadd_ps(av, b0, c10);
        c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2);
        c20 = _mm256_fmadd_ps(av, b0, c20);
        c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3);
        c30 = _mm256_fmadd_ps(av, b0, c30);
        c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4);
        c40 = _mm256_fmadd_ps(av, b0, c40);
        c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5);
        c50 = _mm256_fmadd_ps(av, b0, c50);
        c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    const __m256 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (mr == MR && nr == NR) {
        const __m256 alpha = _mm256_set1_ps(st.alpha), beta = _mm256_set1_ps(st.beta);
        for (int64_t i = 0; i < MR; ++i)
            for (int h = 0; h < 2; ++h) {
                float* p = c + i * ldc + 8 * h;
                const __m256 v = _mm256_mul_ps(alpha, acc[i][h]);
                if (!st.first)
                    _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), v));
                else if (st.beta == 0.0f)
                    _mm256_storeu_ps(p, v);
                else
                    _mm256_storeu_ps(p, _mm256_add_ps(v, _mm256_mul_ps(beta, _mm256_loadu_ps(p))));
            }
        return;
    }
    alignas(32) float tile[MR * NR];
    for (int64_t i = 0; i < MR; ++i) {
        _mm256_store_ps(tile + i * NR, acc[i][0]);
        _mm256_store_ps(tile + i * NR + 8, acc[i][1]);
    }
    store_tile(tile, c, ldc, mr, nr, st);
}
#endif

#if MOE_CPU_AVX2
// 8x8 float transpose: src rows of stride ss -> dst rows of stride ds.
inline void transpose8x8(const float* src, int64_t ss, float* dst, int64_t ds) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ss);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x20));
        _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(r[i], r[i + 4], 0x31));
    }
}
#endif

using KernelFn = void (*)(int64_t, const float*, const float*, float*, int64_t, int64_t, int64_t, Store);

// Packs A rows [m0, m0 + MR) x k [k0, k0 + kc) into dst[kc][MR], zero rows past m.
void pack_a_sliver(const float* a, int64_t lda, int64_t m, int64_t m0, int64_t k0, int64_t kc, float* dst) {
    const int64_t mr = std::min(MR, m - m0);
    for (int64_t i = 0; i < MR; ++i) {
        if (i < mr) {
            const float* src = a + (m0 + i) * lda + k0;
            for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = src[p];
        } else {
            for (int64_t p = 0; p < kc; ++p) dst[p * MR + i] = 0.0f;
        }
    }
}

// Offset of the packed A sliver (k panel pc, sliver s) in the whole packed A: panels of ceil(m/MR) slivers.
inline int64_t a_offset(int64_t n_slivers, int64_t k, int64_t pc_k0, int64_t s) {
    // Panel pc covers k [pc_k0, pc_k0 + kc): all slivers of earlier panels hold pc_k0 * MR floats each.
    (void)k;
    return n_slivers * pc_k0 * MR + s * std::min<int64_t>(KC, k - pc_k0) * MR;
}

// C rows [m_lo, m_hi) x cols [n_lo, n_hi), reading the shared packed A.
void gemm_block(int64_t m, int64_t k, const float* pa, int64_t n_slivers, const BPacker& b, float* c, int64_t ldc,
                float alpha, float beta, int64_t m_lo, int64_t m_hi, int64_t n_lo, int64_t n_hi) {
    KernelFn kernel = kernel_scalar;
#if MOE_CPU_AVX2
    if (use_simd()) kernel = kernel_avx2;
#endif
    float* pb = scratch_floats(0, KC * NC);
    for (int64_t jc = n_lo; jc < n_hi; jc += NC) {
        const int64_t nc = std::min(NC, n_hi - jc);
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = std::min(KC, k - pc);
            b.pack(jc, nc, pc, kc, pb);
            const Store st{alpha, beta, pc == 0};
            for (int64_t ic = m_lo; ic < m_hi; ic += MC) {
                const int64_t mc = std::min(MC, m_hi - ic);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const float* bs = pb + (jr / NR) * kc * NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t row = ic + ir;
                        const float* as = pa + a_offset(n_slivers, k, pc, row / MR);
                        kernel(kc, as, bs, c + row * ldc + jc + jr, ldc, std::min(MR, m - row), std::min(NR, nc - jr),
                               st);
                    }
                }
            }
        }
    }
}

// B given as a float matrix: nt: B(k, n) = b[n][k]; nn: B(k, n) = b[k][n].
class FloatPacker final : public BPacker {
public:
    FloatPacker(const float* b, int64_t ldb, int64_t n, bool transposed)
        : m_b(b), m_ldb(ldb), m_n(n), m_nt(transposed) {}
    void pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const override {
        for (int64_t jr = 0; jr < nc; jr += NR, dst += kc * NR) {
            const int64_t nr = std::min(NR, nc - jr);
            if (m_nt) {
                if (nr < NR) std::fill(dst, dst + kc * NR, 0.0f);
                for (int64_t j = 0; j < nr; ++j) {
                    const float* src = m_b + (n0 + jr + j) * m_ldb + k0;
                    for (int64_t p = 0; p < kc; ++p) dst[p * NR + j] = src[p];
                }
            } else {
                for (int64_t p = 0; p < kc; ++p) {
                    const float* src = m_b + (k0 + p) * m_ldb + n0 + jr;
                    for (int64_t j = 0; j < nr; ++j) dst[p * NR + j] = src[j];
                    for (int64_t j = nr; j < NR; ++j) dst[p * NR + j] = 0.0f;
                }
            }
        }
        (void)m_n;
    }

private:
    const float* m_b;
    int64_t m_ldb;
    int64_t m_n;
    bool m_nt;
};

// rows: [NR][KC] (kc used) -> dst[kc][NR].
void transpose_to_sliver(const float* rows, int64_t kc, float* dst) {
#if MOE_CPU_AVX2
    if (use_simd()) {
        int64_t p = 0;
        for (; p + 8 <= kc; p += 8)
            for (int64_t j0 = 0; j0 < NR; j0 += 8) transpose8x8(rows + j0 * KC + p, KC, dst + p * NR + j0, NR);
        for (; p < kc; ++p)
            for (int64_t j = 0; j < NR; ++j) dst[p * NR + j] = rows[j * KC + p];
        return;
    }
#endif
    for (int64_t p = 0; p < kc; ++p)
        for (int64_t j = 0; j < NR; ++j) dst[p * NR + j] = rows[j * KC + p];
}

int64_t block_elems(GgmlType t) {
    if (t == GgmlType::F8_E4M3_B128) return 1;
    const auto info = ggml_type_info(static_cast<uint32_t>(t));
    return info ? static_cast<int64_t>(info->block_elems) : 1;
}

}  // namespace

void WeightPacker::pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const {
    float* rows = scratch_floats(1, NR * KC);
    for (int64_t jr = 0; jr < nc; jr += NR, dst += kc * NR) {
        const int64_t nr = std::min(NR, nc - jr);
        for (int64_t j = 0; j < nr; ++j) dequant_row_segment(m_w, n0 + jr + j, k0, kc, rows + j * KC);
        for (int64_t j = nr; j < NR; ++j) std::fill(rows + j * KC, rows + j * KC + kc, 0.0f);
        transpose_to_sliver(rows, kc, dst);
    }
}

void WeightPackerT::pack(int64_t n0, int64_t nc, int64_t k0, int64_t kc, float* dst) const {
    // Rows k0..k0+kc of W, columns [n0, n0 + nc), dequantized from the enclosing whole blocks.
    const int64_t bs = block_elems(m_w.type);
    const int64_t c_lo = n0 / bs * bs, c_hi = std::min(m_w.cols, (n0 + nc + bs - 1) / bs * bs);
    float* seg = scratch_floats(1, c_hi - c_lo);
    const float* s0 = seg + (n0 - c_lo);
    for (int64_t p = 0; p < kc; ++p) {
        dequant_row_segment(m_w, k0 + p, c_lo, c_hi - c_lo, seg);
        for (int64_t jr = 0; jr < nc; jr += NR) {
            float* d = dst + (jr / NR) * kc * NR + p * NR;
            const int64_t nr = std::min(NR, nc - jr);
            for (int64_t j = 0; j < nr; ++j) d[j] = s0[jr + j];
            for (int64_t j = nr; j < NR; ++j) d[j] = 0.0f;
        }
    }
}

void gemm_serial(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BPacker& b, float* c,
                 int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
        return;
    }
    const int64_t n_slivers = (m + MR - 1) / MR;
    float* pa = scratch_floats(2, n_slivers * MR * k);
    for (int64_t pc = 0; pc < k; pc += KC)
        for (int64_t s = 0; s < n_slivers; ++s)
            pack_a_sliver(a, lda, m, s * MR, pc, std::min(KC, k - pc), pa + a_offset(n_slivers, k, pc, s));
    gemm_block(m, k, pa, n_slivers, b, c, ldc, 1.0f, 0.0f, 0, m, 0, n);
}

void gemm(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const BPacker& b, float* c,
          int64_t ldc, float alpha, float beta) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    // Pack all of A once (shared by the threads): panel pc holds ceil(m/MR) slivers [kc][MR].
    const int64_t n_slivers = (m + MR - 1) / MR;
    float* pa = scratch_floats(2, n_slivers * MR * k);
    pool.parallel_for(n_slivers, 1, [&](int64_t s0, int64_t s1) {
        for (int64_t pc = 0; pc < k; pc += KC)
            for (int64_t s = s0; s < s1; ++s)
                pack_a_sliver(a, lda, m, s * MR, pc, std::min(KC, k - pc), pa + a_offset(n_slivers, k, pc, s));
    });
    // Split n across threads in whole NC panels when there are enough of them, else in NR slivers; split m
    // when n is too narrow to share.
    const int nth = pool.size();
    const bool split_n = n >= NR * nth * 2 || m < MR * nth * 2;
    const int64_t unit = split_n ? (n >= NC * nth ? NC : NR) : MR;
    const int64_t total = split_n ? n : m;
    pool.parallel_for((total + unit - 1) / unit, 1, [&](int64_t u0, int64_t u1) {
        const int64_t lo = u0 * unit, hi = std::min(total, u1 * unit);
        if (split_n)
            gemm_block(m, k, pa, n_slivers, b, c, ldc, alpha, beta, 0, m, lo, hi);
        else
            gemm_block(m, k, pa, n_slivers, b, c, ldc, alpha, beta, lo, hi, 0, n);
    });
}

}  // namespace moe::cpu::detail

namespace moe::cpu {

void sgemm_nt(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, float alpha, float beta) {
    detail::gemm(pool, m, n, k, a, lda, detail::FloatPacker(b, ldb, n, true), c, ldc, alpha, beta);
}

void sgemm_nn(ThreadPool& pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
              int64_t ldb, float* c, int64_t ldc, float alpha, float beta) {
    detail::gemm(pool, m, n, k, a, lda, detail::FloatPacker(b, ldb, n, false), c, ldc, alpha, beta);
}

}  // namespace moe::cpu
