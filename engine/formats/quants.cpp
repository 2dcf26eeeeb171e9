// Row conversion dispatch, the plain float types, the legacy 32-element block formats and FP8.
#include "formats/quants.h"

#include "formats/quants_internal.h"

// The scalar loops are the references the AVX2 versions must match bit for bit: no fused multiply-add.
// (GCC does not contract in ISO C++ mode; clang needs the pragma.)
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#include <array>
#include <cmath>
#include <string>

#if defined(__F16C__) && defined(__AVX__)
#include <immintrin.h>
#define MOE_HAVE_F16C 1
#endif

namespace moe {

using namespace quants_detail;

namespace {

void dequant_f16(const uint8_t* src, float* dst, int64_t n) {
    int64_t i = 0;
#ifdef MOE_HAVE_F16C
    // The hardware conversion is exact like fp16_to_fp32 (only NaN payloads may gain the quiet bit).
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) dst[i] = load_fp16(src + 2 * i);
}

void dequant_bf16(const uint8_t* src, float* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, src + 2 * i, sizeof h);
        dst[i] = bf16_to_fp32(h);
    }
}

void quant_f16(const float* src, uint8_t* dst, int64_t n) {
    int64_t i = 0;
#ifdef MOE_HAVE_F16C
    // Hardware round-to-nearest-even matches fp32_to_fp16 for every non-NaN input; groups holding a NaN take
    // the scalar path so NaN encodes the same (0x7e00 | sign) with or without F16C.
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(src + i);
        if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)) != 0) {
            for (int64_t k = i; k < i + 8; ++k) store_fp16(dst + 2 * k, src[k]);
            continue;
        }
        const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * i), h);
    }
#endif
    for (; i < n; ++i) store_fp16(dst + 2 * i, src[i]);
}

void quant_bf16(const float* src, uint8_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, sizeof h);
    }
}

// Clamps before converting so NaN or out-of-range floats never reach an undefined float->int cast; for
// finite in-range values this is exactly the plain cast.
inline int clamp_to_int(float v, float lo, float hi) {
    if (!(v >= lo)) v = lo;  // also catches NaN
    if (v > hi) v = hi;
    return static_cast<int>(v);
}

// roundf(v) (halves away from zero) for v clamped to [-limit, limit] (NaN -> -limit). Branch-free so
// loops over it vectorise: v - trunc(v) is exact, so the tie test is exact.
inline float round_half_away(float v, float limit) {
    v = v > -limit ? v : -limit;
    v = v < limit ? v : limit;
    const float t = std::trunc(v);
    return t + (std::fabs(v - t) >= 0.5f ? std::copysign(1.0f, v) : 0.0f);
}

Status size_error(const char* what, GgmlType type, int64_t n) {
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info) return Status::error(std::string(what) + ": unknown tensor type id " +
                                    std::to_string(static_cast<uint32_t>(type)));
    if (n < 0) return Status::error(std::string(what) + ": negative element count " + std::to_string(n));
    return Status::error(std::string(what) + ": type " + info->name + " needs a multiple of " +
                         std::to_string(info->block_elems) + " elements, got " + std::to_string(n));
}

// Validates (type, n) and returns the block count through `n_blocks`.
Status check_row(const char* what, GgmlType type, int64_t n, bool supported, int64_t* n_blocks) {
    if (!supported) {
        return Status::error(std::string(what) + ": type " + ggml_type_name(type) + " (id " +
                             std::to_string(static_cast<uint32_t>(type)) + ") is not supported");
    }
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info || n < 0 || n % info->block_elems != 0) return size_error(what, type, n);
    *n_blocks = n / info->block_elems;
    return Status();
}

}  // namespace

namespace quants_detail {

// Q4_0: {fp16 d; u8 qs[16]}; element j<16 = low nibble of qs[j], j+16 = high nibble; x = d*(nib-8).
void dequant_q4_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 18, dst += 32) {
        const float d = load_fp16(src);
        const uint8_t* qs = src + 2;
        for (int j = 0; j < 16; ++j) {
            dst[j] = d * static_cast<float>((qs[j] & 0xf) - 8);
            dst[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
        }
    }
}

// Q4_1: {fp16 d; fp16 m; u8 qs[16]}; x = d*nib + m.
void dequant_q4_1_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 20, dst += 32) {
        const float d = load_fp16(src);
        const float m = load_fp16(src + 2);
        const uint8_t* qs = src + 4;
        for (int j = 0; j < 16; ++j) dst[j] = d * static_cast<float>(qs[j] & 0xf) + m;
        for (int j = 0; j < 16; ++j) dst[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
    }
}

// Q5_0: {fp16 d; u32 qh; u8 qs[16]}; bit j of qh is bit 4 of element j (elements 0..31); x = d*(q-16).
void dequant_q5_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 22, dst += 32) {
        const float d = load_fp16(src);
        uint32_t qh = 0;
        std::memcpy(&qh, src + 2, sizeof qh);
        const uint8_t* qs = src + 6;
        for (int j = 0; j < 16; ++j) {
            const int lo = (qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
            dst[j] = d * static_cast<float>(lo - 16);
        }
        for (int j = 0; j < 16; ++j) {
            const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            dst[j + 16] = d * static_cast<float>(hi - 16);
        }
    }
}

// Q5_1: {fp16 d; fp16 m; u32 qh; u8 qs[16]}; x = d*q + m.
void dequant_q5_1_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 24, dst += 32) {
        const float d = load_fp16(src);
        const float m = load_fp16(src + 2);
        uint32_t qh = 0;
        std::memcpy(&qh, src + 4, sizeof qh);
        const uint8_t* qs = src + 8;
        for (int j = 0; j < 16; ++j) {
            const int lo = (qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
            dst[j] = d * static_cast<float>(lo) + m;
        }
        for (int j = 0; j < 16; ++j) {
            const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            dst[j + 16] = d * static_cast<float>(hi) + m;
        }
    }
}

// Q8_0: {fp16 d; i8 q[32]}; x = d*q.
void dequant_q8_0_blocks(const uint8_t* src, float* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 34, dst += 32) {
        const float d = load_fp16(src);
        const int8_t* q = reinterpret_cast<const int8_t*>(src + 2);
        for (int j = 0; j < 32; ++j) dst[j] = d * static_cast<float>(q[j]);
    }
}

// ggml's reference Q8_0: d = amax/127 (fp32, then stored as fp16), q = roundf(x * (1/d)) with the fp32 d.
void quant_q8_0_blocks(const float* src, uint8_t* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 32, dst += 34) {
        float amax = 0.0f;
        for (int j = 0; j < 32; ++j) amax = std::fabs(src[j]) > amax ? std::fabs(src[j]) : amax;
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(dst, d);
        int8_t q[32];
        for (int j = 0; j < 32; ++j) q[j] = static_cast<int8_t>(round_half_away(src[j] * id, 127.0f));
        std::memcpy(dst + 2, q, sizeof q);
    }
}

// ggml's reference Q4_0: d = (the value of largest magnitude) / -8, q = min(15, trunc(x/d + 8.5)).
void quant_q4_0_blocks(const float* src, uint8_t* dst, int64_t n_blocks) {
    for (int64_t b = 0; b < n_blocks; ++b, src += 32, dst += 18) {
        float amax = 0.0f;
        float max = 0.0f;
        for (int j = 0; j < 32; ++j) {
            if (amax < std::fabs(src[j])) {
                amax = std::fabs(src[j]);
                max = src[j];
            }
        }
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        store_fp16(dst, d);
        for (int j = 0; j < 16; ++j) {
            const int lo = clamp_to_int(src[j] * id + 8.5f, 0.0f, 15.0f);
            const int hi = clamp_to_int(src[j + 16] * id + 8.5f, 0.0f, 15.0f);
            dst[2 + j] = static_cast<uint8_t>(lo | (hi << 4));
        }
    }
}

}  // namespace quants_detail

bool can_dequantize(GgmlType type) {
    switch (type) {
        case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
        case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
        case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
        case GgmlType::Q8_K:
            return true;
        default:
            return false;
    }
}

bool can_quantize(GgmlType type) {
    switch (type) {
        case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
        case GgmlType::Q4_0: case GgmlType::Q8_0: case GgmlType::Q4_K: case GgmlType::Q6_K:
            return true;
        default:
            return false;
    }
}

Status dequantize_row(GgmlType type, const void* src, float* dst, int64_t n_elements) {
    int64_t nb = 0;
    MOE_RETURN_IF_ERROR(check_row("dequantize_row", type, n_elements, can_dequantize(type), &nb));
    if (nb == 0) return Status();
    const auto* s = static_cast<const uint8_t*>(src);
#if MOE_QUANTS_AVX2
#define MOE_DEQUANT(fn) fn##_avx2
#else
#define MOE_DEQUANT(fn) fn
#endif
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, s, static_cast<size_t>(nb) * sizeof(float)); break;
        case GgmlType::F16: dequant_f16(s, dst, nb); break;
        case GgmlType::BF16: dequant_bf16(s, dst, nb); break;
        case GgmlType::Q4_0: MOE_DEQUANT(dequant_q4_0_blocks)(s, dst, nb); break;
        case GgmlType::Q4_1: MOE_DEQUANT(dequant_q4_1_blocks)(s, dst, nb); break;
        case GgmlType::Q5_0: MOE_DEQUANT(dequant_q5_0_blocks)(s, dst, nb); break;
        case GgmlType::Q5_1: MOE_DEQUANT(dequant_q5_1_blocks)(s, dst, nb); break;
        case GgmlType::Q8_0: MOE_DEQUANT(dequant_q8_0_blocks)(s, dst, nb); break;
        case GgmlType::Q2_K: MOE_DEQUANT(dequant_q2_k_blocks)(s, dst, nb); break;
        case GgmlType::Q3_K: MOE_DEQUANT(dequant_q3_k_blocks)(s, dst, nb); break;
        case GgmlType::Q4_K: MOE_DEQUANT(dequant_q4_k_blocks)(s, dst, nb); break;
        case GgmlType::Q5_K: MOE_DEQUANT(dequant_q5_k_blocks)(s, dst, nb); break;
        case GgmlType::Q6_K: MOE_DEQUANT(dequant_q6_k_blocks)(s, dst, nb); break;
        case GgmlType::Q8_K: dequant_q8_k_blocks(s, dst, nb); break;
        default: break;  // excluded by can_dequantize
    }
#undef MOE_DEQUANT
    return Status();
}

Status quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
    int64_t nb = 0;
    MOE_RETURN_IF_ERROR(check_row("quantize_row", type, n, can_quantize(type), &nb));
    if (nb == 0) return Status();
    auto* d = static_cast<uint8_t*>(dst);
    switch (type) {
        case GgmlType::F32: std::memcpy(d, src, static_cast<size_t>(nb) * sizeof(float)); break;
        case GgmlType::F16: quant_f16(src, d, nb); break;
        case GgmlType::BF16: quant_bf16(src, d, nb); break;
        case GgmlType::Q4_0: quant_q4_0_blocks(src, d, nb); break;
#if MOE_QUANTS_AVX2
        case GgmlType::Q8_0: quant_q8_0_blocks_avx2(src, d, nb); break;
#else
        case GgmlType::Q8_0: quant_q8_0_blocks(src, d, nb); break;
#endif
        case GgmlType::Q4_K: quant_q4_k_blocks(src, d, nb); break;
        case GgmlType::Q6_K: quant_q6_k_blocks(src, d, nb); break;
        default: break;  // excluded by can_quantize
    }
    return Status();
}

// ---- FP8 E4M3 with block scales (DeepSeek-V3) --------------------------------------------------------

namespace {

// All 256 E4M3 codes decoded once; a table lookup is faster than decoding per element.
const std::array<float, 256>& fp8_table() {
    static const std::array<float, 256> table = [] {
        std::array<float, 256> t{};
        for (int i = 0; i < 256; ++i) t[static_cast<size_t>(i)] = fp8_e4m3_to_fp32(static_cast<uint8_t>(i));
        return t;
    }();
    return table;
}

#if MOE_QUANTS_AVX2
// 8 codes -> 8 floats without a table or subnormal arithmetic (slow on x86): for a normal code the
// magnitude bits shifted to fp32 bits 20..26 plus an exponent bias of 120 give the value exactly; for a
// subnormal code m (exponent 0), bias 121 gives (1 + m/8)*2^-6, and subtracting 2^-6 leaves m/8 * 2^-6
// exactly. S.1111.111 becomes the table's NaN. Then * scale, as the scalar path does.
inline void fp8_decode8(const uint8_t* w, __m256 scale, float* dst) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(w)));
    const __m256i mag = _mm256_and_si256(v, _mm256_set1_epi32(0x7f));
    const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x80)), 24);
    const __m256i bits = _mm256_slli_epi32(mag, 20);
    const __m256 normal = _mm256_castsi256_ps(_mm256_add_epi32(bits, _mm256_set1_epi32(120 << 23)));
    const __m256 subnormal = _mm256_sub_ps(_mm256_castsi256_ps(_mm256_add_epi32(bits, _mm256_set1_epi32(121 << 23))),
                                           _mm256_set1_ps(0x1p-6f));
    const __m256 is_sub = _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(8), mag));
    const __m256 is_nan = _mm256_castsi256_ps(_mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f)));
    __m256 x = _mm256_blendv_ps(normal, subnormal, is_sub);
    x = _mm256_blendv_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fc00000)), is_nan);
    x = _mm256_or_ps(x, _mm256_castsi256_ps(sign));
    _mm256_storeu_ps(dst, _mm256_mul_ps(x, scale));
}
#endif

void fp8_row(const float* lut, const uint8_t* w, const float* scales, int64_t cols, int64_t block, float* dst) {
    for (int64_t c0 = 0, sb = 0; c0 < cols; c0 += block, ++sb) {
        const int64_t c1 = c0 + block < cols ? c0 + block : cols;
        const float s = scales[sb];
        int64_t c = c0;
#if MOE_QUANTS_AVX2
        for (const __m256 vs = _mm256_set1_ps(s); c + 8 <= c1; c += 8) fp8_decode8(w + c, vs, dst + c);
#endif
        for (; c < c1; ++c) dst[c] = lut[w[c]] * s;
    }
}

}  // namespace

Status dequantize_fp8_block_scaled(const uint8_t* w_e4m3, const float* scale_inv, int64_t rows, int64_t cols,
                                   float* dst, int64_t block) {
    if (rows < 0 || cols < 0 || block <= 0 || (cols > 0 && rows > INT64_MAX / cols)) {
        return Status::error("dequantize_fp8_block_scaled: bad shape [" + std::to_string(rows) + ", " +
                             std::to_string(cols) + "] with block " + std::to_string(block));
    }
    const float* lut = fp8_table().data();
    const int64_t scale_cols = (cols + block - 1) / block;
    for (int64_t r = 0; r < rows; ++r) {
        fp8_row(lut, w_e4m3 + r * cols, scale_inv + (r / block) * scale_cols, cols, block, dst + r * cols);
    }
    return Status();
}

void dequantize_fp8_row(const uint8_t* w_row, const float* scale_row, int64_t cols, float* dst) {
    fp8_row(fp8_table().data(), w_row, scale_row, cols, 128, dst);
}

}  // namespace moe
