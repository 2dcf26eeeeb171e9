// Device dequantization of one 32-element chunk of a weight row, for every stored type the CUDA backend reads.
// Chunk j of a row holds elements [32j, 32j + 32). Block layouts: engine/formats/quants_k.cpp (K formats),
// quants.cpp (Q8_0, Q4_0), matrix_view.h (FP8 with 128x128 float scales). The values equal the CPU's
// dequantize_row up to float rounding (nvcc may fuse d*q - m into one FMA).
#pragma once

#include "cuda_common.cuh"
#include "formats/ggml_type.h"
#include "weight_desc.h"

namespace moe::cuda {

// True for the types whose rows may end in a partial chunk (element types); block types need cols % block == 0.
constexpr bool is_element_type(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::F8_E4M3_B128;
}

template <GgmlType T>
__device__ __forceinline__ void dequant_chunk(const WeightDesc& w, int64_t r, int64_t j, float* out) {
    const uint8_t* row = w.data + uint64_t(r) * w.row_bytes;
    if constexpr (T == GgmlType::F32) {
        const float* p = reinterpret_cast<const float*>(row) + 32 * j;
        if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                const float4 v = __ldg(reinterpret_cast<const float4*>(p) + i);
                out[4 * i] = v.x, out[4 * i + 1] = v.y, out[4 * i + 2] = v.z, out[4 * i + 3] = v.w;
            }
        } else {
#pragma unroll
            for (int i = 0; i < 32; ++i) out[i] = __ldg(p + i);
        }
    } else if constexpr (T == GgmlType::F16 || T == GgmlType::BF16) {
        const uint8_t* p = row + 64 * j;
        if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + i);
                const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                for (int k = 0; k < 4; ++k) {
                    const uint16_t lo = uint16_t(u[k] & 0xffffu), hi = uint16_t(u[k] >> 16);
                    out[8 * i + 2 * k] = T == GgmlType::F16 ? half_bits_to_float(lo) : bf16_bits_to_float(lo);
                    out[8 * i + 2 * k + 1] = T == GgmlType::F16 ? half_bits_to_float(hi) : bf16_bits_to_float(hi);
                }
            }
        } else {
#pragma unroll
            for (int i = 0; i < 32; ++i) {
                const uint16_t h = load_u16(p + 2 * i);
                out[i] = T == GgmlType::F16 ? half_bits_to_float(h) : bf16_bits_to_float(h);
            }
        }
    } else if constexpr (T == GgmlType::F8_E4M3_B128) {
        const uint8_t* p = row + 32 * j;
        const int64_t sr = (w.scale_row0 + r) / 128;
        const float s = load_f32_unaligned(w.scales + 4 * uint64_t(sr * w.scale_cols + (32 * j) / 128));
        if ((reinterpret_cast<uintptr_t>(p) & 15) == 0) {
#pragma unroll
            for (int i = 0; i < 2; ++i) {
                const uint4 v = __ldg(reinterpret_cast<const uint4*>(p) + i);
                const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
                for (int k = 0; k < 16; ++k)
                    out[16 * i + k] = fp8_e4m3_to_float(uint8_t(u[k / 4] >> (8 * (k % 4)))) * s;
            }
        } else {
#pragma unroll
            for (int i = 0; i < 32; ++i) out[i] = fp8_e4m3_to_float(p[i]) * s;
        }
    } else if constexpr (T == GgmlType::Q8_0) {
        // {fp16 d; int8 q[32]}: x = d * q
        const uint8_t* b = row + 34 * j;
        const float d = half_bits_to_float(load_u16(b));
#pragma unroll
        for (int i = 0; i < 32; ++i) out[i] = d * float(int8_t(b[2 + i]));
    } else if constexpr (T == GgmlType::Q4_0) {
        // {fp16 d; u8 qs[16]}: low nibbles are elements 0..15, high nibbles 16..31; x = d * (q - 8)
        const uint8_t* b = row + 18 * j;
        const float d = half_bits_to_float(load_u16(b));
#pragma unroll
        for (int i = 0; i < 16; ++i) {
            const uint8_t q = b[2 + i];
            out[i] = d * float(int(q & 0xf) - 8);
            out[i + 16] = d * float(int(q >> 4) - 8);
        }
    } else if constexpr (T == GgmlType::Q4_K || T == GgmlType::Q5_K) {
        // Super-block of 256 = 8 sub-blocks of 32 (sub-block s = chunk j % 8): qs bytes [32 (s/2), +32), nibble
        // s % 2; Q5_K adds bit s of qh[l]. x = d*sc*q - dmin*m with 6-bit scale/min pairs packed in 12 bytes.
        constexpr int kBytes = T == GgmlType::Q4_K ? 144 : 176;
        const uint8_t* b = row + uint64_t(kBytes) * (j / 8);
        const int s = int(j % 8);
        const float d = half_bits_to_float(load_u16(b));
        const float dmin = half_bits_to_float(load_u16(b + 2));
        const uint8_t* sc = b + 4;
        int scale = 0, mn = 0;
        if (s < 4) {
            scale = sc[s] & 63;
            mn = sc[s + 4] & 63;
        } else {
            scale = (sc[s + 4] & 0xf) | ((sc[s - 4] >> 6) << 4);
            mn = (sc[s + 4] >> 4) | ((sc[s] >> 6) << 4);
        }
        const float dl = d * float(scale), ml = dmin * float(mn);
        const int shift = 4 * (s % 2);
        const uint8_t* q = b + (T == GgmlType::Q4_K ? 16 : 48) + 32 * (s / 2);
#pragma unroll
        for (int l = 0; l < 32; ++l) {
            int v = (q[l] >> shift) & 0xf;
            if constexpr (T == GgmlType::Q5_K) v |= ((b[16 + l] >> s) & 1) << 4;
            out[l] = dl * float(v) - ml;
        }
    } else if constexpr (T == GgmlType::Q6_K) {
        // 210-byte super-block: chunk (h, g) = (s/4, s%4) of 32 elements takes nibble g/2 of ql[64h + 32(g%2) + l]
        // and bits 2g of qh[32h + l]; its two 16-element halves use int8 scales 8h + 2g and 8h + 2g + 1.
        const uint8_t* b = row + 210ull * (j / 8);
        const int s = int(j % 8), h = s / 4, g = s % 4;
        const float d = half_bits_to_float(load_u16(b + 208));
        const uint8_t* ql = b + 64 * h + 32 * (g % 2);
        const uint8_t* qh = b + 128 + 32 * h;
        const int8_t* scales = reinterpret_cast<const int8_t*>(b + 192);
        const float d0 = d * float(scales[8 * h + 2 * g]), d1 = d * float(scales[8 * h + 2 * g + 1]);
        const int nib = 4 * (g / 2), hs = 2 * g;
#pragma unroll
        for (int l = 0; l < 32; ++l) {
            const int q = (((ql[l] >> nib) & 0xf) | (((qh[l] >> hs) & 3) << 4)) - 32;
            out[l] = (l < 16 ? d0 : d1) * float(q);
        }
    }
}

// One element (r, c) of an element type (the tails of rows that do not fill a chunk, transposed products).
template <GgmlType T>
__device__ __forceinline__ float dequant_elem(const WeightDesc& w, int64_t r, int64_t c) {
    const uint8_t* row = w.data + uint64_t(r) * w.row_bytes;
    if constexpr (T == GgmlType::F32) return __ldg(reinterpret_cast<const float*>(row) + c);
    if constexpr (T == GgmlType::F16) return half_bits_to_float(load_u16(row + 2 * c));
    if constexpr (T == GgmlType::BF16) return bf16_bits_to_float(load_u16(row + 2 * c));
    if constexpr (T == GgmlType::F8_E4M3_B128) {
        const int64_t sr = (w.scale_row0 + r) / 128;
        return fp8_e4m3_to_float(row[c]) * load_f32_unaligned(w.scales + 4 * uint64_t(sr * w.scale_cols + c / 128));
    }
    if constexpr (!is_element_type(T)) {
        float v[32];
        dequant_chunk<T>(w, r, c / 32, v);
        float out = 0.0f;
#pragma unroll
        for (int i = 0; i < 32; ++i) out = (i == c % 32) ? v[i] : out;
        return out;
    }
    return 0.0f;
}

// Calls f.template operator()<T>() with the compile-time type; false for types without device kernels.
template <class F>
bool dispatch_weight_type(GgmlType t, F&& f) {
    switch (t) {
        case GgmlType::F32:
            f.template operator()<GgmlType::F32>();
            return true;
        case GgmlType::F16:
            f.template operator()<GgmlType::F16>();
            return true;
        case GgmlType::BF16:
            f.template operator()<GgmlType::BF16>();
            return true;
        case GgmlType::Q8_0:
            f.template operator()<GgmlType::Q8_0>();
            return true;
        case GgmlType::Q4_0:
            f.template operator()<GgmlType::Q4_0>();
            return true;
        case GgmlType::Q4_K:
            f.template operator()<GgmlType::Q4_K>();
            return true;
        case GgmlType::Q5_K:
            f.template operator()<GgmlType::Q5_K>();
            return true;
        case GgmlType::Q6_K:
            f.template operator()<GgmlType::Q6_K>();
            return true;
        case GgmlType::F8_E4M3_B128:
            f.template operator()<GgmlType::F8_E4M3_B128>();
            return true;
        default:
            return false;
    }
}

// Elements per block of the types above (1 for element types).
inline int64_t weight_block_elems(GgmlType t) {
    switch (t) {
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
            return 32;
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
            return 256;
        default:
            return 1;
    }
}
inline bool has_device_kernels(GgmlType t) {
    switch (t) {
        case GgmlType::F32:
        case GgmlType::F16:
        case GgmlType::BF16:
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
        case GgmlType::F8_E4M3_B128:
            return true;
        default:
            return false;
    }
}

}  // namespace moe::cuda
