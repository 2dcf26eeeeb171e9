// Activation rounding before a matrix product (ActivationMode::Native, shared fixtures section 4): the float32
// activation rows become the values the CPU's dot products see: Q8_0 blocks (d = fp16(amax/127)) for Q8_0/Q4_0
// weights, Q8_K blocks (d = 1/(-127/max)) for Q4_K/Q5_K/Q6_K, fp16 or bf16 rounding for F16/BF16; F32 and FP8
// keep float32. The GEMV then multiplies dequantized weights by these rounded floats, which equals the CPU's
// integer dot products up to float summation order.
#pragma once

#include "backend/matrix_view.h"
#include "core/status.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

using ActRound = NativeRounding;  // matrix_view.h

ActRound act_round_for(GgmlType weight_type, ActivationMode mode);
// Elements per rounding block (cols must be a multiple of it): 32 (Q8_0), 256 (Q8_K), else 1.
int64_t act_round_block(ActRound r);

// xp[t][0..cols) = round(x[t][0..cols)) for t < n_tokens.  x: [n_tokens][x_stride], xp: [n_tokens][xp_stride]
// (device). In place when xp == x and the strides agree. Errors: cols not a multiple of the rounding block,
// strides narrower than cols, launch failure.
Status round_activations(ActRound r, const float* x, int64_t x_stride, int64_t n_tokens, int64_t cols, float* xp,
                         int64_t xp_stride, cudaStream_t stream);

}  // namespace moe::cuda
