// The portable row kernels (any CPU, and the reference the SIMD kernels are tested against): plain loops over the
// stored blocks, integer sums per block scaled once (d_w * d_x), as llama.cpp's scalar vec_dot functions.
#include "backend/cpu/cpu_kernels.h"

#include "core/half.h"
#include "formats/quants_internal.h"

#include <cstring>

namespace moe::cpu::detail {

using quants_detail::load_fp16;
using quants_detail::load_u32;
using quants_detail::unpack_scale_min_k4;

float dot_f32_scalar(const float* a, const float* b, int64_t n) {
    float s[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
    for (; i < n; ++i) s[0] += a[i] * b[i];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
}

namespace {

// F16 or BF16 weights times float activations, summed in double.
template <bool kBf16>
float dot_half_scalar(const uint8_t* w, const void* xv, int64_t n) {
    const float* x = static_cast<const float*>(xv);
    double s = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h = 0;
        std::memcpy(&h, w + 2 * i, 2);
        s += static_cast<double>((kBf16 ? bf16_to_fp32(h) : fp16_to_fp32(h)) * x[i]);
    }
    return static_cast<float>(s);
}

float dot_f32w_scalar(const uint8_t* w, const void* xv, int64_t n) {
    float tmp[256];
    float s = 0.0f;
    const float* x = static_cast<const float*>(xv);
    for (int64_t i = 0; i < n; i += 256) {
        const int64_t m = n - i < 256 ? n - i : 256;
        std::memcpy(tmp, w + 4 * i, static_cast<size_t>(m) * 4);
        s += dot_f32_scalar(tmp, x + i, m);
    }
    return s;
}

// Legacy 32-element formats: q[32] holds the integer weights of one block (signed, or unsigned for *_1).
template <int kBytes, int kQsOff, bool kHasMin, bool kHasQh, int kBias>
float dot_legacy_scalar(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b, w += kBytes) {
        const uint8_t* qs = w + kQsOff;
        const uint32_t qh = kHasQh ? load_u32(w + kQsOff - 4) : 0u;
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            const int lo = (qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
            const int hi = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
            isum += (lo - kBias) * x[b].q[j] + (hi - kBias) * x[b].q[j + 16];
        }
        sum += load_fp16(w) * x[b].d * static_cast<float>(isum);
        if (kHasMin) sum += load_fp16(w + 2) * x[b].s;
    }
    return sum;
}

float dot_q8_0_scalar(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x32*>(xv);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 32; ++b, w += 34) {
        const auto* q = reinterpret_cast<const int8_t*>(w + 2);
        int isum = 0;
        for (int j = 0; j < 32; ++j) isum += q[j] * x[b].q[j];
        sum += load_fp16(w) * x[b].d * static_cast<float>(isum);
    }
    return sum;
}

// Q4_K / Q5_K: sub-block j (32 elements) has scale sc[j] and min m[j]: x = d*sc*q - dmin*m.
template <bool kFive>
float dot_q45_k_scalar(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x256*>(xv);
    constexpr int kBytes = kFive ? 176 : 144;
    constexpr int kQsOff = kFive ? 48 : 16;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += kBytes) {
        const uint8_t* qs = w + kQsOff;
        const uint8_t* qh = w + 16;
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; ++j) {
            uint8_t sc = 0, m = 0;
            unpack_scale_min_k4(w + 4, j, &sc, &m);
            const int c = j / 2, shift = 4 * (j % 2);
            int s = 0;
            for (int l = 0; l < 32; ++l) {
                int q = (qs[32 * c + l] >> shift) & 0xf;
                if (kFive) q |= ((qh[l] >> j) & 1) << 4;
                s += q * x[b].q[32 * j + l];
            }
            isum += sc * s;
            msum += m * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
        }
        sum += load_fp16(w) * x[b].d * static_cast<float>(isum) - load_fp16(w + 2) * x[b].d * static_cast<float>(msum);
    }
    return sum;
}

// Q6_K: element e of half h: group g = e/32, l = e%32 uses nibble g/2 of ql[64h + 32(g%2) + l] and bits 2g of
// qh[32h + l]; scale index 8h + e/16; x = d*sc*(q-32).
float dot_q6_k_scalar(const uint8_t* w, const void* xv, int64_t n) {
    const auto* x = static_cast<const ActQ8x256*>(xv);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / 256; ++b, w += 210) {
        const auto* sc = reinterpret_cast<const int8_t*>(w + 192);
        int isum = 0;
        for (int h = 0; h < 2; ++h)
            for (int e = 0; e < 128; ++e) {
                const int g = e / 32, l = e % 32;
                const int lo = (w[64 * h + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0xf;
                const int hi = (w[128 + 32 * h + l] >> (2 * g)) & 3;
                isum += sc[8 * h + e / 16] * ((lo | (hi << 4)) - 32) * x[b].q[128 * h + e];
            }
        sum += load_fp16(w + 208) * x[b].d * static_cast<float>(isum);
    }
    return sum;
}

}  // namespace

RowKernelFn scalar_kernel(GgmlType type) {
    switch (type) {
        case GgmlType::F32:
            return dot_f32w_scalar;
        case GgmlType::F16:
            return dot_half_scalar<false>;
        case GgmlType::BF16:
            return dot_half_scalar<true>;
        case GgmlType::Q8_0:
            return dot_q8_0_scalar;
        case GgmlType::Q4_0:
            return dot_legacy_scalar<18, 2, false, false, 8>;
        case GgmlType::Q4_1:
            return dot_legacy_scalar<20, 4, true, false, 0>;
        case GgmlType::Q5_0:
            return dot_legacy_scalar<22, 6, false, true, 16>;
        case GgmlType::Q5_1:
            return dot_legacy_scalar<24, 8, true, true, 0>;
        case GgmlType::Q4_K:
            return dot_q45_k_scalar<false>;
        case GgmlType::Q5_K:
            return dot_q45_k_scalar<true>;
        case GgmlType::Q6_K:
            return dot_q6_k_scalar;
        default:
            return nullptr;
    }
}

}  // namespace moe::cpu::detail
