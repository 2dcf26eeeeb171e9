// Dequantizing matrix products for few tokens (decode): y[t] = W x[t] with W in its stored type in device
// memory (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q5_K, Q6_K, F8_E4M3_B128) and F32 accumulation. Memory-bound: each
// weight byte is read once per launch for up to 8 tokens. Also the transposed product (absorbed MLA's W_UK^T).
#pragma once

#include "core/status.h"
#include "weight_desc.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

// True when gemv()/gemv_transposed() handle `type`.
bool gemv_supports(GgmlType type);

// y[t][r] = sum_c W[r][c] * xp[t][c], t < n_tokens, r < w.rows.
//   xp: [n_tokens][xp_stride] device floats, already rounded (activation.h); 16-byte aligned, xp_stride % 4 == 0.
//   y:  [n_tokens][y_stride] (overwritten).
// Errors: unsupported type, cols not a multiple of the type's block, row_bytes too small, bad strides or
// alignment, launch failure.
Status gemv(const WeightDesc& w, const float* xp, int64_t xp_stride, int64_t n_tokens, float* y, int64_t y_stride,
            cudaStream_t stream);

// y[t][c] = sum_r x[t][r] * W[r][c] (float x): x [n_tokens][x_stride >= w.rows], y [n_tokens][y_stride >= w.cols].
Status gemv_transposed(const WeightDesc& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                       int64_t y_stride, cudaStream_t stream);

// One product of a batch of single-token products (the per-head W_UK / W_UV of absorbed MLA): y = W x, with x
// already rounded (or float) and 16-byte aligned.
struct GemvJob {
    WeightDesc w;
    const float* x = nullptr;
    float* y = nullptr;
};

// Every job of `jobs` (a device table of n_jobs) whose weights have type `type`, in one launch: y_j = W_j x_j for
// one token (transposed: y_j[c] = sum_r x_j[r] W_j[r][c]). max_out: the largest output width among the jobs.
Status gemv_jobs(GgmlType type, const GemvJob* jobs, int64_t n_jobs, int64_t max_out, bool transposed,
                 cudaStream_t stream);

// The shape checks gemv() does (shared with the MoE and GEMM launchers): type handled, cols a multiple of the
// block, row_bytes large enough, FP8 scales present.
Status check_weight(const char* op, const WeightDesc& w);

}  // namespace moe::cuda
