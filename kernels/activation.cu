#include "activation.h"

#include "cuda_common.cuh"

#include <string>

namespace moe::cuda {

namespace {

// One thread per element; grid (ceil(cols/256), n_tokens).
template <ActRound R>
__global__ void round_elementwise(const float* x, int64_t xs, int64_t cols, float* y, int64_t ys) {
    const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t t = blockIdx.y;
    if (c >= cols) return;
    const float v = x[t * xs + c];
    y[t * ys + c] = R == ActRound::F16 ? round_fp16(v) : R == ActRound::BF16 ? round_bf16(v) : v;
}

// One warp per 32-element block: d = fp16(amax / 127), q = rint(x * 127 / amax), value d * q.
__global__ void round_q8_0(const float* x, int64_t xs, int64_t n_blocks, float* y, int64_t ys) {
    const int64_t b = int64_t(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
    const int64_t t = blockIdx.y;
    if (b >= n_blocks) return;
    const int lane = threadIdx.x % kWarp;
    const float v = x[t * xs + 32 * b + lane];
    const float amax = warp_max(fabsf(v));
    const float d = round_fp16(amax / 127.0f);
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    y[t * ys + 32 * b + lane] = d * rintf(v * id);
}

// One 256-thread block per 256-element Q8_K block: max = the element of largest magnitude (first one on ties),
// iscale = -127 / max, q = min(127, rint(iscale * x)), value (1 / iscale) * q; all zero when amax == 0.
__global__ void round_q8_k(const float* x, int64_t xs, float* y, int64_t ys) {
    __shared__ float s_ax[8];
    __shared__ int s_idx[8];
    __shared__ float s_max;  // read before any thread writes: the rounding may run in place
    const int64_t t = blockIdx.y;
    const int64_t base = t * xs + 256 * int64_t(blockIdx.x);
    const int i = threadIdx.x;
    const float v = x[base + i];
    float ax = fabsf(v);
    int idx = i;
    for (int o = 16; o > 0; o >>= 1) {
        const float oax = __shfl_xor_sync(0xffffffffu, ax, o);
        const int oidx = __shfl_xor_sync(0xffffffffu, idx, o);
        if (oax > ax || (oax == ax && oidx < idx)) ax = oax, idx = oidx;
    }
    if (i % kWarp == 0) s_ax[i / kWarp] = ax, s_idx[i / kWarp] = idx;
    __syncthreads();
    if (i == 0) {
        for (int w = 1; w < 8; ++w)
            if (s_ax[w] > s_ax[0] || (s_ax[w] == s_ax[0] && s_idx[w] < s_idx[0]))
                s_ax[0] = s_ax[w], s_idx[0] = s_idx[w];
        s_max = x[base + s_idx[0]];
    }
    __syncthreads();
    const float amax = s_ax[0];
    const int64_t out = t * ys + 256 * int64_t(blockIdx.x) + i;
    if (amax == 0.0f) {
        y[out] = 0.0f;
        return;
    }
    const float iscale = -127.0f / s_max;
    const float d = 1.0f / iscale;
    y[out] = d * float(min(127, int(rintf(iscale * v))));
}

}  // namespace

ActRound act_round_for(GgmlType type, ActivationMode mode) {
    return mode == ActivationMode::Float ? ActRound::None : native_rounding(type);
}

int64_t act_round_block(ActRound r) {
    return r == ActRound::Q8_0 ? 32 : r == ActRound::Q8_K ? 256 : 1;
}

Status round_activations(ActRound r, const float* x, int64_t xs, int64_t n, int64_t cols, float* y, int64_t ys,
                         cudaStream_t stream) {
    const char* op = "round_activations";
    if (n < 0 || cols < 0 || xs < cols || ys < cols)
        return shape_error(op, "bad shape: " + std::to_string(n) + " rows of " + std::to_string(cols) + ", strides " +
                                   std::to_string(xs) + " / " + std::to_string(ys));
    if (cols % act_round_block(r) != 0)
        return shape_error(op, std::to_string(cols) + " columns are not a multiple of the rounding block " +
                                   std::to_string(act_round_block(r)));
    if (n == 0 || cols == 0) return {};
    if (n > 65535) return shape_error(op, "more than 65535 rows in one call");
    switch (r) {
        case ActRound::None:
            if (x == y && xs == ys) return {};
            round_elementwise<ActRound::None>
                <<<dim3(blocks_for(cols, 256), unsigned(n)), 256, 0, stream>>>(x, xs, cols, y, ys);
            break;
        case ActRound::F16:
            round_elementwise<ActRound::F16>
                <<<dim3(blocks_for(cols, 256), unsigned(n)), 256, 0, stream>>>(x, xs, cols, y, ys);
            break;
        case ActRound::BF16:
            round_elementwise<ActRound::BF16>
                <<<dim3(blocks_for(cols, 256), unsigned(n)), 256, 0, stream>>>(x, xs, cols, y, ys);
            break;
        case ActRound::Q8_0:
            round_q8_0<<<dim3(blocks_for(cols / 32, 8), unsigned(n)), 256, 0, stream>>>(x, xs, cols / 32, y, ys);
            break;
        case ActRound::Q8_K:
            round_q8_k<<<dim3(unsigned(cols / 256), unsigned(n)), 256, 0, stream>>>(x, xs, y, ys);
            break;
    }
    return launch_status(op);
}

}  // namespace moe::cuda
