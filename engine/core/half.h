// IEEE fp16 and bfloat16 conversions (bit-exact, round-to-nearest-even), usable in hot loops.
#pragma once

#include <cstdint>
#include <cstring>

namespace moe {

inline float fp32_from_bits(uint32_t w) {
    float f;
    std::memcpy(&f, &w, sizeof f);
    return f;
}

inline uint32_t fp32_to_bits(float f) {
    uint32_t w;
    std::memcpy(&w, &f, sizeof w);
    return w;
}

// fp16 -> fp32, exact for every input (subnormals, inf, nan included).
inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t man = h & 0x3ffu;
    if (exp == 0) {
        // zero or subnormal: man * 2^-24
        const float v = static_cast<float>(man) * 5.9604644775390625e-8f;
        return sign ? -v : v;
    }
    if (exp == 31) return fp32_from_bits(sign | 0x7f800000u | (man << 13));
    return fp32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

// fp32 -> fp16, round to nearest even; overflow goes to inf, nan stays nan.
inline uint16_t fp32_to_fp16(float f) {
    const uint32_t x = fp32_to_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // nan
    if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 rounds to inf
    if (abs < 0x38800000u) {
        // result is subnormal or zero: round abs / 2^-24 to an integer, ties to even
        const float v = fp32_from_bits(abs) * 16777216.0f;  // exact scaling by 2^24
        // v < 1024; nearbyint-style rounding to even without <cmath> dependency on rounding mode
        uint32_t i = static_cast<uint32_t>(v);
        const float frac = v - static_cast<float>(i);
        if (frac > 0.5f || (frac == 0.5f && (i & 1u))) ++i;
        return static_cast<uint16_t>(sign | i);
    }
    // normal: rebias exponent, round mantissa from 23 to 10 bits (ties to even)
    uint32_t r = abs - 0x38000000u;  // exponent bias 127 -> 15
    r += 0xfffu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
}

inline float bf16_to_fp32(uint16_t h) { return fp32_from_bits(static_cast<uint32_t>(h) << 16); }

// fp32 -> bf16, round to nearest even; nan stays nan.
inline uint16_t fp32_to_bf16(float f) {
    const uint32_t x = fp32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    return static_cast<uint16_t>((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

// FP8 E4M3FN -> fp32: 1 sign, 4 exponent (bias 7), 3 mantissa; no inf; 0x7f/0xff are nan.
inline float fp8_e4m3_to_fp32(uint8_t v) {
    const uint32_t sign = static_cast<uint32_t>(v & 0x80u) << 24;
    const uint32_t exp = (v >> 3) & 0xfu;
    const uint32_t man = v & 0x7u;
    if (exp == 15 && man == 7) return fp32_from_bits(sign | 0x7fc00000u);
    if (exp == 0) {
        const float m = static_cast<float>(man) * 0.001953125f;  // man/8 * 2^-6
        return sign ? -m : m;
    }
    return fp32_from_bits(sign | ((exp + 120u) << 23) | (man << 20));
}

}  // namespace moe
