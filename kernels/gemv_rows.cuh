// The inner loop every dequantizing matrix-vector kernel shares: a warp computes the dot products of R weight
// rows with NT activation rows. Lane l takes chunks l, l+32, ... (32 elements each: one 128-bit load per 8
// halves, one block for Q8_0/Q4_0, a sub-block for the K formats), dequantizes them in registers and multiplies
// them with the activation (float4 loads: the activation is read by every warp, so it stays in L1/L2).
// Shapes: x rows at x + t * xs (t < NT), 16-byte aligned with xs % 4 == 0.
#pragma once

#include "dequant.cuh"

namespace moe::cuda {

// acc[i][t] += partial dot of row rows[i] with x[t] over this lane's chunks (not reduced across the warp).
template <GgmlType T, int R, int NT>
__device__ __forceinline__ void lane_row_dots(const WeightDesc& w, const int64_t (&rows)[R], const float* x, int64_t xs,
                                              int lane, float (&acc)[R][NT]) {
    const int64_t n_full = w.cols / 32;
    for (int64_t j = lane; j < n_full; j += kWarp) {
        float v[R][32];
#pragma unroll
        for (int i = 0; i < R; ++i) dequant_chunk<T>(w, rows[i], j, v[i]);
#pragma unroll
        for (int t = 0; t < NT; ++t) {
            const float4* xv = reinterpret_cast<const float4*>(x + t * xs + 32 * j);
#pragma unroll
            for (int q = 0; q < 8; ++q) {
                const float4 a = xv[q];
#pragma unroll
                for (int i = 0; i < R; ++i)
                    acc[i][t] +=
                        v[i][4 * q] * a.x + v[i][4 * q + 1] * a.y + v[i][4 * q + 2] * a.z + v[i][4 * q + 3] * a.w;
            }
        }
    }
    if constexpr (is_element_type(T)) {
        for (int64_t c = 32 * n_full + lane; c < w.cols; c += kWarp) {
#pragma unroll
            for (int i = 0; i < R; ++i) {
                const float wv = dequant_elem<T>(w, rows[i], c);
#pragma unroll
                for (int t = 0; t < NT; ++t) acc[i][t] += wv * x[t * xs + c];
            }
        }
    }
}

}  // namespace moe::cuda
