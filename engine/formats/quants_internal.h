// Shared by the quants_*.cpp files (not a public header): little-endian field access and the per-family
// block loops. Each *_blocks function converts `n_blocks` consecutive blocks; `src`/`dst` hold
// n_blocks * block bytes / elements. Callers have already checked sizes.
#pragma once

#include "core/half.h"

#include <cstdint>
#include <cstring>

#if defined(__F16C__)
#include <immintrin.h>
#endif

// The AVX2 dequantizers (quants_avx2.cpp) are used when the build targets AVX2 (MOE_NATIVE on x86).
#if defined(__AVX2__) && defined(__F16C__)
#define MOE_QUANTS_AVX2 1
#else
#define MOE_QUANTS_AVX2 0
#endif

namespace moe::quants_detail {

inline float load_fp16(const uint8_t* p) {
    uint16_t h = 0;
    std::memcpy(&h, p, sizeof h);  // GGUF is little-endian, as are the hosts we build for
#if defined(__F16C__)
    return _cvtsh_ss(h);  // branch-free and exact (differs from fp16_to_fp32 only in NaN payload bits)
#else
    return fp16_to_fp32(h);
#endif
}

// A little-endian uint32 at any alignment (Q5_0/Q5_1 high bits).
inline uint32_t load_u32(const uint8_t* p) {
    uint32_t v = 0;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline void store_fp16(uint8_t* p, float v) {
    const uint16_t h = fp32_to_fp16(v);
    std::memcpy(p, &h, sizeof h);
}

// Q4_K / Q5_K: 12 bytes hold 8 six-bit scales and 8 six-bit mins (section 6.5).
inline void unpack_scale_min_k4(const uint8_t* s, int j, uint8_t* scale, uint8_t* min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = static_cast<uint8_t>((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
        *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

// Inverse of unpack_scale_min_k4; scale[8], min[8] are each < 64.
void pack_scale_min_k4(const uint8_t* scale, const uint8_t* min, uint8_t* s);

// Legacy 32-element formats (quants.cpp).
void dequant_q4_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_1_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_1_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q8_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void quant_q4_0_blocks(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q8_0_blocks(const float* src, uint8_t* dst, int64_t n_blocks);

// K formats, 256-element super-blocks (quants_k.cpp).
void dequant_q2_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q3_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q6_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q8_k_blocks(const uint8_t* src, float* dst, int64_t n_blocks);

// Q3_K: the 16 six-bit scales of a block with the bias 32 removed (quants_k.cpp).
void unpack_q3_k_scales(const uint8_t* s, int* out);

#if MOE_QUANTS_AVX2
// Bit-identical AVX2 versions of the scalar references above (quants_avx2.cpp).
void dequant_q4_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_1_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_1_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q8_0_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q2_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q3_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q4_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q5_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void dequant_q6_k_blocks_avx2(const uint8_t* src, float* dst, int64_t n_blocks);
void quant_q8_0_blocks_avx2(const float* src, uint8_t* dst, int64_t n_blocks);
#endif

// Q4_K and Q6_K quantizers (quants_k_quantize.cpp).
void quant_q4_k_blocks(const float* src, uint8_t* dst, int64_t n_blocks);
void quant_q6_k_blocks(const float* src, uint8_t* dst, int64_t n_blocks);

}  // namespace moe::quants_detail
