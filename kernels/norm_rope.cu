#include "norm_rope.h"

#include "cuda_common.cuh"

#include <cmath>
#include <string>

namespace moe::cuda {

namespace {

// One 256-thread block per token.
__global__ void rms_norm_kernel(const float* x, int64_t xs, const float* w, int64_t n, float eps, float* y,
                                int64_t ys) {
    __shared__ double s_part[8];
    const int64_t t = blockIdx.x;
    const float* xt = x + t * xs;
    double ss = 0.0;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += double(xt[i]) * double(xt[i]);
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if (threadIdx.x % kWarp == 0) s_part[threadIdx.x / kWarp] = ss;
    __syncthreads();
    double total = 0.0;
    for (int i = 0; i < 8; ++i) total += s_part[i];
    const float scale = float(1.0 / sqrt(total / double(n) + double(eps)));
    float* yt = y + t * ys;
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yt[i] = xt[i] * scale * w[i];
}

struct RopeDev {
    int64_t n_rot = 0;
    double freq_base = 10000.0;
    bool interleaved = true;
    bool yarn = false;
    double yarn_factor = 1.0;
    double low = 0.0, high = 0.0;
    double linear_factor = 1.0;
    float magnitude = 1.0f;
};

// grid (n_tokens), threads over (head, pair); the angle of pair i as moe::rope_angles computes it.
__global__ void rope_kernel(float* x, int64_t xs, int64_t n_heads, int64_t hs, const int32_t* pos, RopeDev p,
                            const float* ff) {
    const int64_t t = blockIdx.x;
    const int64_t half = p.n_rot / 2;
    for (int64_t k = threadIdx.x; k < n_heads * half; k += blockDim.x) {
        const int64_t h = k / half, i = k % half;
        double theta = double(pos[t]) * pow(p.freq_base, -2.0 * double(i) / double(p.n_rot));
        if (ff) theta /= double(ff[i]);
        theta /= p.linear_factor;
        if (p.yarn) {
            const double yv = (double(i) - p.low) / fmax(0.001, p.high - p.low);
            const double ramp = 1.0 - fmin(1.0, fmax(0.0, yv));
            theta = theta / p.yarn_factor * (1.0 - ramp) + theta * ramp;
        }
        const float a = float(theta);
        const float cs = cosf(a) * p.magnitude, sn = sinf(a) * p.magnitude;
        float* v = x + t * xs + h * hs;
        float* pa = p.interleaved ? v + 2 * i : v + i;
        float* pb = p.interleaved ? v + 2 * i + 1 : v + i + half;
        const float x0 = *pa, x1 = *pb;
        *pa = x0 * cs - x1 * sn;
        *pb = x0 * sn + x1 * cs;
    }
}

double yarn_corr_dim(int64_t n_rot, double orig_ctx, double n_rotations, double base) {
    return double(n_rot) * std::log(orig_ctx / (n_rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

}  // namespace

Status rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                int64_t ys, cudaStream_t stream) {
    if (n <= 0 || n_tokens < 0 || xs < n || ys < n)
        return shape_error("rms_norm", "width " + std::to_string(n) + " with strides " + std::to_string(xs) + " / " +
                                           std::to_string(ys));
    if (n_tokens == 0) return {};
    rms_norm_kernel<<<unsigned(n_tokens), 256, 0, stream>>>(x, xs, w, n, eps, y, ys);
    return launch_status("rms_norm");
}

Status rope(float* x, int64_t xs, int64_t n_tokens, int64_t n_heads, int64_t hs, const int32_t* pos,
            const RopeParams& p, const float* ff, cudaStream_t stream) {
    if (p.n_rot <= 0 || p.n_rot % 2 != 0)
        return shape_error("rope", "n_rot must be positive and even, got " + std::to_string(p.n_rot));
    if (n_tokens < 0 || n_heads < 0 || hs < p.n_rot) return shape_error("rope", "head stride below n_rot");
    if (n_tokens == 0 || n_heads == 0) return {};
    RopeDev d;
    d.n_rot = p.n_rot;
    d.freq_base = p.freq_base;
    d.interleaved = p.interleaved;
    d.yarn = p.yarn;
    d.yarn_factor = p.yarn_factor;
    d.linear_factor = p.linear_factor;
    d.magnitude = float(p.magnitude);
    if (p.yarn) {
        d.low = std::max(
            0.0, std::floor(yarn_corr_dim(p.n_rot, double(p.yarn_original_ctx), p.yarn_beta_fast, p.freq_base)));
        d.high =
            std::min(double(p.n_rot - 1),
                     std::ceil(yarn_corr_dim(p.n_rot, double(p.yarn_original_ctx), p.yarn_beta_slow, p.freq_base)));
    }
    rope_kernel<<<unsigned(n_tokens), 256, 0, stream>>>(x, xs, n_heads, hs, pos, d, ff);
    return launch_status("rope");
}

}  // namespace moe::cuda
