// fp16 / bf16 / fp8 conversions of engine/core/half.h, checked exhaustively against definitions written
// here from the IEEE 754 / OCP FP8 formulas (ldexp), not against the code under test.
#include "check.h"
#include "core/half.h"

#include <cmath>
#include <cstdint>

using namespace moe;

namespace {

// IEEE binary16 by definition.
double fp16_definition(uint16_t h) {
    const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
    double v = 0.0;
    if (exp == 0) v = std::ldexp(static_cast<double>(man), -24);
    else if (exp == 31) v = man == 0 ? INFINITY : NAN;
    else v = std::ldexp(1.0 + man / 1024.0, exp - 15);
    return sign ? -v : v;
}

// E4M3FN by definition: bias 7, no infinities, S.1111.111 is NaN, max 448.
double fp8_definition(uint8_t c) {
    const int sign = c >> 7, exp = (c >> 3) & 15, man = c & 7;
    double v = 0.0;
    if (exp == 15 && man == 7) v = NAN;
    else if (exp == 0) v = std::ldexp(man / 8.0, -6);
    else v = std::ldexp(1.0 + man / 8.0, exp - 7);
    return sign ? -v : v;
}

bool same_float(float a, float b) { return (std::isnan(a) && std::isnan(b)) || fp32_to_bits(a) == fp32_to_bits(b); }

}  // namespace

MOE_TEST(fp16_to_fp32_matches_definition_for_all_codes) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const float got = fp16_to_fp32(static_cast<uint16_t>(h));
        const double want = fp16_definition(static_cast<uint16_t>(h));
        if (std::isnan(want) ? !std::isnan(got) : static_cast<double>(got) != want) ++bad;
        if (want == 0.0 && std::signbit(got) != static_cast<bool>(h >> 15)) ++bad;  // -0 keeps its sign
    }
    CHECK_EQ(bad, 0);
}

MOE_TEST(fp16_round_trip_all_codes) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
        const bool is_nan = ((h >> 10) & 31) == 31 && (h & 1023) != 0;
        if (is_nan ? !(((back >> 10) & 31) == 31 && (back & 1023) != 0 && (back & 0x8000) == (h & 0x8000))
                   : back != h)
            ++bad;
    }
    CHECK_EQ(bad, 0);
}

// Every midpoint between adjacent finite fp16 values (exact in fp32) must round to the even neighbour, and
// one fp32 ulp either side of it to the nearer one. Covers subnormals, the normal boundary and overflow.
MOE_TEST(fp32_to_fp16_rounds_to_nearest_even_everywhere) {
    int bad = 0;
    for (uint32_t h = 0; h < 0x7c00; ++h) {  // positive finite codes; h+1 is the next value (0x7c00 = inf)
        const double lo = fp16_definition(static_cast<uint16_t>(h));
        const double hi = fp16_definition(static_cast<uint16_t>(h + 1));
        const double mid_d = h + 1 == 0x7c00 ? 65520.0 : (lo + hi) / 2;  // inf's "neighbour" midpoint
        const float mid = static_cast<float>(mid_d);
        if (static_cast<double>(mid) != mid_d) { ++bad; continue; }
        const uint16_t even = (h & 1) ? static_cast<uint16_t>(h + 1) : static_cast<uint16_t>(h);
        for (int s = 0; s < 2; ++s) {
            const uint16_t sign = s ? 0x8000 : 0;
            const float m = s ? -mid : mid;
            if (fp32_to_fp16(m) != (even | sign)) ++bad;
            if (fp32_to_fp16(std::nextafter(m, 0.0f)) != (h | sign)) ++bad;
            if (fp32_to_fp16(std::nextafter(m, s ? -INFINITY : INFINITY)) != ((h + 1) | sign)) ++bad;
        }
    }
    CHECK_EQ(bad, 0);
}

MOE_TEST(fp32_to_fp16_boundaries) {
    CHECK_EQ(fp32_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ(fp32_to_fp16(65519.99f), 0x7bff);
    CHECK_EQ(fp32_to_fp16(65520.0f), 0x7c00);
    CHECK_EQ(fp32_to_fp16(1e30f), 0x7c00);
    CHECK_EQ(fp32_to_fp16(-1e30f), 0xfc00);
    CHECK_EQ(fp32_to_fp16(INFINITY), 0x7c00);
    CHECK_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
    CHECK_EQ(fp32_to_fp16(0.0f), 0x0000);
    CHECK_EQ(fp32_to_fp16(-0.0f), 0x8000);
    CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -24)), 0x0001);        // smallest subnormal
    CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);        // tie between 0 and 2^-24: even is 0
    CHECK_EQ(fp32_to_fp16(std::ldexp(3.0f, -26)), 0x0001);        // 0.75 of the smallest: rounds up
    CHECK_EQ(fp32_to_fp16(std::ldexp(3.0f, -25)), 0x0002);        // 1.5 -> 2 (even)
    CHECK_EQ(fp32_to_fp16(std::ldexp(5.0f, -25)), 0x0002);        // 2.5 -> 2 (even)
    CHECK_EQ(fp32_to_fp16(std::ldexp(2047.0f, -25)), 0x0400);     // 1023.5 subnormal steps -> smallest normal
    CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -14)), 0x0400);
    CHECK_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
    CHECK_EQ(fp32_to_fp16(1.0f + std::ldexp(3.0f, -11)), 0x3c02);
    CHECK_EQ(fp32_to_fp16(std::ldexp(1.0f, -140)), 0x0000);        // fp32 subnormal
    CHECK_EQ(fp32_to_fp16(-std::ldexp(1.0f, -140)), 0x8000);
    const uint16_t nan = fp32_to_fp16(NAN);
    CHECK(((nan >> 10) & 31) == 31 && (nan & 1023) != 0);
}

MOE_TEST(bf16_exhaustive_round_trip_and_rounding) {
    int bad = 0;
    for (uint32_t h = 0; h < 65536; ++h) {
        const float f = bf16_to_fp32(static_cast<uint16_t>(h));
        if (fp32_to_bits(f) != h << 16) ++bad;
        const uint16_t back = fp32_to_bf16(f);
        if (std::isnan(f) ? !std::isnan(bf16_to_fp32(back)) : back != h) ++bad;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(fp32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);  // tie -> even
    CHECK_EQ(fp32_to_bf16(1.0f + std::ldexp(3.0f, -8)), 0x3f82);  // tie -> even (up)
    CHECK_EQ(fp32_to_bf16(std::nextafter(1.0f + std::ldexp(1.0f, -8), 2.0f)), 0x3f81);
    CHECK_EQ(fp32_to_bf16(fp32_from_bits(0x7f7fffffu)), 0x7f80);  // FLT_MAX rounds to inf
    CHECK_EQ(fp32_to_bf16(-0.0f), 0x8000);
    CHECK(std::isnan(bf16_to_fp32(fp32_to_bf16(fp32_from_bits(0x7f800001u)))));  // nan payload in low bits
}

MOE_TEST(fp8_e4m3_all_256_codes) {
    int bad = 0;
    for (int c = 0; c < 256; ++c) {
        const float got = fp8_e4m3_to_fp32(static_cast<uint8_t>(c));
        const double want = fp8_definition(static_cast<uint8_t>(c));
        if (std::isnan(want) ? !std::isnan(got) : static_cast<double>(got) != want) ++bad;
        if (want == 0.0 && std::signbit(got) != (c >= 128)) ++bad;
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(fp8_e4m3_to_fp32(0x7e), 448.0f);
    CHECK_EQ(fp8_e4m3_to_fp32(0xfe), -448.0f);
    CHECK_EQ(fp8_e4m3_to_fp32(0x38), 1.0f);
    CHECK_EQ(fp8_e4m3_to_fp32(0x01), 0.001953125f);  // 2^-9, smallest subnormal
    CHECK_EQ(fp8_e4m3_to_fp32(0x08), 0.015625f);     // 2^-6, smallest normal
    CHECK(std::isnan(fp8_e4m3_to_fp32(0x7f)));
    CHECK(std::isnan(fp8_e4m3_to_fp32(0xff)));
    CHECK(same_float(fp8_e4m3_to_fp32(0x78), 256.0f));  // exponent 15 with mantissa < 7 is finite
}
