// Tensor element types: dequantization of ggml block formats and DeepSeek-V3 block-scaled FP8, and
// quantization for exports. Block layouts: shared/spec/deepseek.md section 6.5 (ggml-common.h);
// FP8: section 3.3.
//
// All functions work on one contiguous run of elements ("a row"); a row of a quantized type must hold a
// whole number of blocks. They dispatch on the type once per call, so calling them per row in a hot loop
// costs one switch per row, not per element. When the build targets AVX2 + F16C (MOE_NATIVE on x86) the
// block loops are vectorised; those paths give bit-identical results to the portable scalar code.
// Single-threaded; safe to call concurrently on different buffers.
#pragma once

#include "core/status.h"
#include "formats/ggml_type.h"

#include <cstdint>

namespace moe {

// True when dequantize_row handles `type`: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K,
// Q5_K, Q6_K, Q8_K.
bool can_dequantize(GgmlType type);
// True when quantize_row handles `type`: F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q6_K.
bool can_quantize(GgmlType type);

// Converts `n_elements` elements of `type` stored at `src` (ggml_bytes(type, n_elements) bytes) to float.
// dst: [n_elements]. Fails, naming the type and the count, when the type is not handled or n_elements is
// negative or not a multiple of the type's block size. Does not read or write anything on failure.
Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n_elements);

// Converts `n` floats to `type`, writing ggml_bytes(type, n) bytes to `dst`. Bit-identical to ggml's
// reference quantizers (and gguf-py) for F16, BF16, Q8_0 and Q4_0 on finite inputs; Q4_K and Q6_K use
// their own scale searches (Q4_K's RMS error on Gaussian data is about 2% below llama.cpp's reference
// quantizer; not the same bytes). Fails like dequantize_row. Non-finite inputs give deterministic, memory-safe blocks
// (Q4_K/Q6_K encode them as 0; F16/BF16 keep inf and NaN); values beyond a format's fp16 scale range
// saturate (Q4_K/Q6_K) or give inf scales (Q8_0/Q4_0, as ggml does).
Status quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// DeepSeek-V3 FP8 weights (safetensors F8_E4M3 + F32 `weight_scale_inv`):
//   dst[r][c] = fp8_e4m3(w[r][c]) * scale_inv[r / block][c / block]   (the "inv" scale is multiplied)
// w: [rows, cols] row-major bytes; scale_inv: [ceil(rows/block), ceil(cols/block)]; dst: [rows, cols].
// Edge blocks may be partial. Fails for negative sizes, block <= 0, or rows*cols overflowing.
Status dequantize_fp8_block_scaled(const uint8_t* w_e4m3, const float* scale_inv, int64_t rows, int64_t cols,
                                   float* dst, int64_t block = 128);

// One row of the above: w_row: [cols]; scale_row: [ceil(cols/128)] (the scale row of this row's block
// row); dst: [cols].
void dequantize_fp8_row(const uint8_t* w_row, const float* scale_row, int64_t cols, float* dst);

}  // namespace moe
