// Prompt-batch matrix products through cuBLAS: y[t] = W x[t] for many tokens. The weights are dequantized to
// fp16 tiles in a scratch buffer (F32, F16 and BF16 weights are used in place), the rounded activation is converted
// to the same type, and cublasGemmEx multiplies them with F32 accumulation (CUBLAS_COMPUTE_32F), tile by tile
// of rows so the scratch stays bounded.
#pragma once

#include "core/status.h"
#include "weight_desc.h"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

// Scratch the GEMM needs; owned by the caller (the backend), grown on demand.
struct GemmScratch {
    void* w_tile = nullptr;  // dequantized weight rows
    uint64_t w_tile_bytes = 0;
    void* x_conv = nullptr;  // converted activation
    uint64_t x_conv_bytes = 0;
};

// Bytes of scratch a product of `n_tokens` tokens with w needs (weight tile <= tile_bytes_max).
void gemm_scratch_needs(const WeightDesc& w, int64_t n_tokens, uint64_t tile_bytes_max, uint64_t* w_tile_bytes,
                        uint64_t* x_conv_bytes);

// y[t][0..w.rows) = W xp[t] for t < n_tokens. xp: [n_tokens][xp_stride] rounded activation (activation.h);
// y: [n_tokens][y_stride]. The handle must be bound to `stream`. Errors: shapes, cuBLAS status, launch failure.
Status gemm(cublasHandle_t handle, const WeightDesc& w, const float* xp, int64_t xp_stride, int64_t n_tokens, float* y,
            int64_t y_stride, const GemmScratch& scratch, cudaStream_t stream);

// Dequantizes rows [row0, row0 + n_rows) of w to half (or bf16 when `bf16`), row-major [n_rows][w.cols].
Status dequantize_rows(const WeightDesc& w, int64_t row0, int64_t n_rows, bool bf16, void* out, cudaStream_t stream);

const char* cublas_status_name(cublasStatus_t s);

}  // namespace moe::cuda
