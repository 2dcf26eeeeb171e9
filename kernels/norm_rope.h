// RMSNorm and RoPE (adjacent pairs or rotate-half, YaRN, freq factors) on the device. Contracts: Backend::rms_norm
// and Backend::rope (backend/backend.h); angles follow moe::rope_angles (computed in double, then float cos/sin).
#pragma once

#include "backend/backend.h"
#include "core/status.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

// y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w (sum of squares in double, like the CPU). x, y: [n_tokens][stride],
// width n; in place when y == x. w: [n] device floats.
Status rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                int64_t y_stride, cudaStream_t stream);

// Rotates in place n_heads vectors of p.n_rot dims per token at x[t] + h * head_stride; pos: [n_tokens] device
// ints; freq_factors: [n_rot/2] device floats or null (p.freq_factors is ignored: it is a host pointer).
Status rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride, const int32_t* pos,
            const RopeParams& p, const float* freq_factors, cudaStream_t stream);

}  // namespace moe::cuda
