// Element-wise ops and row movement on the device: residual add, SwiGLU, embedding lookup (dequantized rows of
// any supported type), and the gather / weighted scatter-add of the grouped MoE path. All pointers are device.
#pragma once

#include "core/status.h"
#include "weight_desc.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

// y[i] += x[i], i < n.
Status add(float* y, const float* x, int64_t n, cudaStream_t stream);
// g[t][i] = silu(g[t][i]) * u[t][i], t < n_tokens, i < n (rows of stride `stride`).
Status swiglu(float* g, const float* u, int64_t stride, int64_t n, int64_t n_tokens, cudaStream_t stream);
// out[t][0..table.cols) = dequant(table row ids[t]); ids outside [0, table.rows) give zero rows (the host
// checks token ids before they reach the device).
Status get_rows(const WeightDesc& table, const int32_t* ids, int64_t n_tokens, float* out, int64_t out_stride,
                cudaStream_t stream);
// out[i][0..cols) = x[rows[i]][0..cols), i < n.
Status gather_rows(const float* x, int64_t x_stride, const int32_t* rows, int64_t n, int64_t cols, float* out,
                   int64_t out_stride, cudaStream_t stream);
// y[rows[i]][c] += w[i] * src[i][c] (the rows of one call are distinct).
Status scatter_add_rows(const float* src, int64_t src_stride, const int32_t* rows, const float* w, int64_t n,
                        int64_t cols, float* y, int64_t y_stride, cudaStream_t stream);

// The first value_bytes (<= 16) bytes of each of n rows (stride in bytes) = value.
Status fill_rows(void* dst, int64_t stride, int64_t n, const void* value, int64_t value_bytes, cudaStream_t stream);
// y[t][i] += bias[i], i < width, t < n.
Status add_bias(float* y, int64_t stride, int64_t n, const float* bias, int64_t width, cudaStream_t stream);
// Row pos[t] of dst (rows of `width` elements: float32, or fp16 when f16) = src[t], t < n. pos: device ints.
Status write_rows(void* dst, bool f16, int64_t width, const int32_t* pos, const float* src, int64_t src_stride,
                  int64_t n, cudaStream_t stream);

}  // namespace moe::cuda
