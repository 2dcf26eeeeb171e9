// A weight matrix as it is stored (in a memory map or a device buffer), in its stored type. No copy.
//   y = W x maps `cols` inputs to `rows` outputs. GGUF shape {cols, rows} (ne[0] = cols), HF [rows, cols];
//   row r starts at data + r * row_bytes.
#pragma once

#include "formats/ggml_type.h"

#include <cstdint>

namespace moe {

struct MatrixView {
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;
    int64_t cols = 0;
    int64_t rows = 0;
    uint64_t row_bytes = 0;
    // F8_E4M3_B128 only: float32 scales [ceil(rows_total/128)][scale_cols] (unaligned: read with memcpy),
    // scale_cols = ceil(cols/128); `scale_row0` is the index of this view's first row in the full matrix, so
    // row r of the view uses scale row (scale_row0 + r) / 128.
    const uint8_t* block_scales = nullptr;
    int64_t scale_row0 = 0;
    int64_t scale_cols = 0;

    bool empty() const { return data == nullptr; }
    // Rows [first, first + count) as a matrix of their own.
    MatrixView rows_slice(int64_t first, int64_t count) const {
        MatrixView v = *this;
        v.data = data + static_cast<uint64_t>(first) * row_bytes;
        v.rows = count;
        v.scale_row0 = scale_row0 + first;
        return v;
    }
};

// How a matrix product treats the float32 activations.
enum class ActivationMode {
    // Like llama.cpp's CPU backend (and what makes quantized products fast): the activation row is first
    // converted to the weight's dot-product type: Q8_0 blocks for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 weights, Q8_K blocks
    // for Q2_K..Q6_K, fp16 rounding for F16, bf16 rounding for BF16; F32 and FP8 keep float32 activations.
    // Shared fixtures section 4 gives the exact rounding rules.
    Native,
    // Dequantized weights times the float32 activations, no rounding of x (used where llama.cpp multiplies by
    // a float32 tensor, e.g. the value side of absorbed MLA).
    Float,
};

// What ActivationMode::Native does to an activation row before a product with `weight_type` weights.
enum class NativeRounding { None, F16, BF16, Q8_0, Q8_K };
inline NativeRounding native_rounding(GgmlType weight_type) {
    switch (weight_type) {
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q4_1:
        case GgmlType::Q5_0:
        case GgmlType::Q5_1:
            return NativeRounding::Q8_0;
        case GgmlType::Q2_K:
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return NativeRounding::Q8_K;
        case GgmlType::F16:
            return NativeRounding::F16;
        case GgmlType::BF16:
            return NativeRounding::BF16;
        default:
            return NativeRounding::None;
    }
}

// One product of a batch (see Backend::matmul_batch): y[t][0..rows) = W x[t][0..cols), t < n_tokens.
struct MatmulJob {
    MatrixView w;
    const float* x = nullptr;
    int64_t x_stride = 0;  // floats between token rows of x (>= w.cols)
    float* y = nullptr;
    int64_t y_stride = 0;  // floats between token rows of y (>= w.rows)
    ActivationMode mode = ActivationMode::Native;
};

// One SwiGLU feed-forward: down(silu(gate x) * up x). gate/up: n_embd -> n_ff; down: n_ff -> n_embd.
struct SwigluWeights {
    MatrixView gate;
    MatrixView up;
    MatrixView down;
};

}  // namespace moe
