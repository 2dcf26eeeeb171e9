// The CPU backend's element-wise ops: RMSNorm, RoPE (adjacent pairs or rotate-half, YaRN), residual add, SwiGLU.
#include "backend/cpu/cpu_ops.h"

#include "backend/cpu/cpu_kernels.h"
#include "backend/cpu/simd.h"
#include "backend/cpu/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace moe::cpu {

void rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
              int64_t y_stride) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * x_stride;
        float* yt = y + t * y_stride;
        // Sum of squares in double (llama.cpp's ggml_rms_norm accumulates in ggml_float too), in eight running
        // sums added pairwise at the end: one chain of n dependent double adds took ~0.8 us for a 512-wide row
        // (a decode step has three per layer). Each square is exact in double; only the order of the adds moved.
        double acc[8] = {};
        int64_t i = 0;
        for (; i + 8 <= n; i += 8)
            for (int j = 0; j < 8; ++j) acc[j] += double(xt[i + j]) * double(xt[i + j]);
        for (; i < n; ++i) acc[0] += double(xt[i]) * double(xt[i]);
        const double ss = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + double(eps)));
        for (int64_t i = 0; i < n; ++i) yt[i] = xt[i] * scale * w[i];
    }
}

namespace {
bool same_rope(const RopeParams& a, const RopeParams& b) {
    return a.n_rot == b.n_rot && a.freq_base == b.freq_base && a.yarn == b.yarn && a.yarn_factor == b.yarn_factor &&
           a.yarn_original_ctx == b.yarn_original_ctx && a.yarn_beta_fast == b.yarn_beta_fast &&
           a.yarn_beta_slow == b.yarn_beta_slow && a.linear_factor == b.linear_factor && a.magnitude == b.magnitude &&
           (a.freq_factors == nullptr) == (b.freq_factors == nullptr);
}

// cos and sin of one position's angles (times the magnitude), kept per thread for the last position: a decode
// step rotates q and k of every layer at the same position, so the 2 x n_layer calls compute them once.
struct RopeTable {
    RopeParams params;
    int32_t pos = 0;
    bool valid = false;
    std::vector<float> factors, angles, cs, sn;  // factors: a copy of params.freq_factors (compared by value)

    void compute(const RopeParams& p, int32_t at) {
        const auto half = static_cast<size_t>(p.n_rot / 2);
        if (valid && pos == at && same_rope(params, p) &&
            (p.freq_factors == nullptr || std::equal(factors.begin(), factors.end(), p.freq_factors)))
            return;
        factors.assign(p.freq_factors, p.freq_factors == nullptr ? p.freq_factors : p.freq_factors + half);
        angles.resize(half);
        cs.resize(half);
        sn.resize(half);
        rope_angles(p, at, angles.data());
        for (size_t i = 0; i < half; ++i) {
            cs[i] = std::cos(angles[i]) * static_cast<float>(p.magnitude);
            sn[i] = std::sin(angles[i]) * static_cast<float>(p.magnitude);
        }
        params = p;
        pos = at;
        valid = true;
    }
};
}  // namespace

void rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride, const int32_t* pos,
          const RopeParams& p) {
    const int64_t half = p.n_rot / 2;
    thread_local RopeTable table;
    for (int64_t t = 0; t < n_tokens; ++t) {
        table.compute(p, pos[t]);
        const float* cs = table.cs.data();
        const float* sn = table.sn.data();
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + t * x_stride + h * head_stride;
            for (int64_t i = 0; i < half; ++i) {
                // Adjacent pairs (x[2i], x[2i+1]) or rotate-half pairs (x[i], x[i + n_rot/2]).
                float* a = p.interleaved ? v + 2 * i : v + i;
                float* b = p.interleaved ? v + 2 * i + 1 : v + i + half;
                const float x0 = *a;
                const float x1 = *b;
                *a = x0 * cs[i] - x1 * sn[i];
                *b = x0 * sn[i] + x1 * cs[i];
            }
        }
    }
}

void add(float* y, const float* x, int64_t n) { axpy_f32(y, 1.0f, x, n); }

namespace {
// silu(v) = v / (1 + exp(-v)) as ggml computes it. Outside [-88, 88] expf would overflow/underflow, which takes
// glibc's slow errno path (~1 us a call): there the result is v (1 + exp(-v) == 1 in float, exact) or a value
// below 1e-36 in magnitude, returned as -0.
inline float silu(float v) {
    if (v > 88.0f) return v;
    if (!(v >= -88.0f)) return v != v ? v : -0.0f;
    return v / (1.0f + std::exp(-v));
}

#if MOE_CPU_AVX2
// silu(v) * u for eight lanes, exp(-v) by exp8 (which clamps -v to [-87.3, 88]); the ends then give silu's limits
// as above (v, and -0 for v < -88 by a blend); a NaN v stays NaN.
inline __m256 silu_mul8(__m256 v, __m256 u) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), v));
    __m256 s = _mm256_div_ps(v, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    s = _mm256_blendv_ps(s, _mm256_set1_ps(-0.0f), _mm256_cmp_ps(v, _mm256_set1_ps(-88.0f), _CMP_LT_OQ));
    return _mm256_mul_ps(s, u);
}
#endif
}  // namespace

void silu_mul(float* h, const float* u, int64_t n) {
#if MOE_CPU_AVX2
    if (detail::use_simd()) return map8(h, u, n, silu_mul8);
#endif
    for (int64_t i = 0; i < n; ++i) h[i] = silu(h[i]) * u[i];
}

}  // namespace moe::cpu
