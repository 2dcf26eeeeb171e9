// The inner loop every dequantizing matrix-vector kernel shares: a warp computes the dot products of R weight
// rows with NT activation rows. Lane l takes chunks l, l+32, ... (32 elements each: one 128-bit load per 8
// halves, one block for Q8_0/Q4_0, a sub-block for the K formats), dequantizes them in registers and multiplies
// them with the activation (float4 loads: the activation is read by every warp, so it stays in L1/L2). Block
// types go through shared memory first (see lane_row_dots).
// Shapes: x rows at x + t * xs (t < NT), 16-byte aligned with xs % 4 == 0.
#pragma once

#include "dequant.cuh"

namespace moe::cuda {

// Bytes of n_chunks consecutive 32-element chunks of a block type, starting at a chunk index that is a multiple
// of the chunks per block (so they are whole blocks).
template <GgmlType T>
__device__ __forceinline__ int64_t block_span_bytes(int64_t n_chunks) {
    if constexpr (T == GgmlType::Q8_0) return 34 * n_chunks;
    if constexpr (T == GgmlType::Q4_0) return 18 * n_chunks;
    if constexpr (T == GgmlType::Q4_K) return 144 * ((n_chunks + 7) / 8);
    if constexpr (T == GgmlType::Q5_K) return 176 * ((n_chunks + 7) / 8);
    if constexpr (T == GgmlType::Q6_K) return 210 * ((n_chunks + 7) / 8);
    return 0;
}
constexpr int kStageBytes = 1088;  // the largest span of 32 chunks (Q8_0: 32 blocks of 34 bytes)
constexpr int kStageWarps = 8;     // kernels using lane_row_dots run at most 8 warps per block

// Copies `bytes` (even) from global src (2-byte aligned) to shared dst (16-byte aligned), the whole warp
// together: 16-byte loads when src and the length allow, else 2-byte ones; either way consecutive lanes read
// consecutive addresses (the per-lane byte loads of a 34-byte block would touch a cache line per byte).
__device__ __forceinline__ void warp_copy(uint8_t* dst, const uint8_t* src, int bytes, int lane) {
    if (((reinterpret_cast<uintptr_t>(src) | uint32_t(bytes)) & 15) == 0) {
        const uint4* s = reinterpret_cast<const uint4*>(src);
        uint4* d = reinterpret_cast<uint4*>(dst);
        for (int i = lane; i < bytes / 16; i += kWarp) d[i] = __ldg(s + i);
    } else {
        const uint16_t* s = reinterpret_cast<const uint16_t*>(src);
        uint16_t* d = reinterpret_cast<uint16_t*>(dst);
        for (int i = lane; i < bytes / 2; i += kWarp) d[i] = __ldg(s + i);
    }
}

// acc[i][t] += partial dot of row rows[i] with x[t] over this lane's chunks (not reduced across the warp).
// Every lane of the warp must call it (block types stage their bytes through shared memory with warp syncs).
template <GgmlType T, int R, int NT>
__device__ __forceinline__ void lane_row_dots(const WeightDesc& w, const int64_t (&rows)[R], const float* x, int64_t xs,
                                              int lane, float (&acc)[R][NT]) {
    const int64_t n_full = w.cols / 32;
    const auto fma_chunk = [&](const float(&v)[R][32], int64_t j) {
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
    };
    if constexpr (is_element_type(T)) {
        // Element types load 16 bytes per lane directly (dequant_chunk), coalesced across the warp.
        for (int64_t j = lane; j < n_full; j += kWarp) {
            float v[R][32];
#pragma unroll
            for (int i = 0; i < R; ++i) dequant_chunk<T>(w, rows[i], j, v[i]);
            fma_chunk(v, j);
        }
        for (int64_t c = 32 * n_full + lane; c < w.cols; c += kWarp) {
#pragma unroll
            for (int i = 0; i < R; ++i) {
                const float wv = dequant_elem<T>(w, rows[i], c);
#pragma unroll
                for (int t = 0; t < NT; ++t) acc[i][t] += wv * x[t * xs + c];
            }
        }
    } else {
        // Block types: the warp stages the bytes of its 32 chunks (whole blocks) in shared memory with
        // coalesced loads, then lane l dequantizes chunk l from there.
        __shared__ __align__(16) uint8_t stage[kStageWarps][R][kStageBytes];
        const int warp = int(threadIdx.x) / kWarp;
        for (int64_t base = 0; base < n_full; base += kWarp) {
            const int64_t count = n_full - base < kWarp ? n_full - base : kWarp;
            const int64_t offset = block_span_bytes<T>(base);  // base is a multiple of 32: whole blocks
            const int bytes = int(block_span_bytes<T>(count));
#pragma unroll
            for (int i = 0; i < R; ++i)
                warp_copy(stage[warp][i], w.data + uint64_t(rows[i]) * w.row_bytes + offset, bytes, lane);
            __syncwarp();
            if (lane < count) {
                float v[R][32];
#pragma unroll
                for (int i = 0; i < R; ++i) {
                    WeightDesc staged = w;
                    staged.data = stage[warp][i];
                    dequant_chunk<T>(staged, 0, lane, v[i]);
                }
                fma_chunk(v, base + lane);
            }
            __syncwarp();
        }
    }
}

}  // namespace moe::cuda
