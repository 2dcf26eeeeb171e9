// The CPU backend's element-wise ops: RMSNorm, RoPE (adjacent pairs or rotate-half, YaRN), residual add.
#include "backend/cpu/cpu_ops.h"

#include "backend/cpu/simd.h"
#include "backend/cpu/thread_pool.h"

#include <cmath>
#include <vector>

namespace moe::cpu {

void rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
              int64_t y_stride) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        const float* xt = x + t * x_stride;
        float* yt = y + t * y_stride;
        // Sum of squares in double: llama.cpp's ggml_rms_norm accumulates in ggml_float (double) too.
        double ss = 0.0;
        for (int64_t i = 0; i < n; ++i) ss += double(xt[i]) * double(xt[i]);
        const float scale = static_cast<float>(1.0 / std::sqrt(ss / double(n) + double(eps)));
        for (int64_t i = 0; i < n; ++i) yt[i] = xt[i] * scale * w[i];
    }
}

void rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride, const int32_t* pos,
          const RopeParams& p) {
    const int64_t half = p.n_rot / 2;
    std::vector<float> angles(static_cast<size_t>(half));
    std::vector<float> cs(static_cast<size_t>(half));
    std::vector<float> sn(static_cast<size_t>(half));
    for (int64_t t = 0; t < n_tokens; ++t) {
        rope_angles(p, pos[t], angles.data());
        for (int64_t i = 0; i < half; ++i) {
            cs[i] = std::cos(angles[i]) * static_cast<float>(p.magnitude);
            sn[i] = std::sin(angles[i]) * static_cast<float>(p.magnitude);
        }
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

}  // namespace moe::cpu
