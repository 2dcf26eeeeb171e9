// A weight matrix in device memory as the kernels see it (a MatrixView whose bytes live on the GPU), plain
// data so that tables of them can be copied to the device (the experts of an MoE layer).
#pragma once

#include "backend/matrix_view.h"

#include <cstdint>

namespace moe::cuda {

struct WeightDesc {
    GgmlType type = GgmlType::F32;
    const uint8_t* data = nullptr;  // device bytes, row r at data + r * row_bytes
    uint64_t row_bytes = 0;
    int64_t rows = 0;
    int64_t cols = 0;
    const uint8_t* scales = nullptr;  // F8_E4M3_B128: device float scales [.][scale_cols] (read unaligned)
    int64_t scale_row0 = 0;
    int64_t scale_cols = 0;
};

// A MatrixView whose data (and block_scales) are device pointers.
inline WeightDesc weight_desc(const MatrixView& v) {
    return WeightDesc{v.type, v.data, v.row_bytes, v.rows, v.cols, v.block_scales, v.scale_row0, v.scale_cols};
}

}  // namespace moe::cuda
