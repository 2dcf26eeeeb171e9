// Dequantizers against blocks built by hand from the layout description (spec section 6.5), element by
// element, with the expected floats computed here from the format's formula. Values are chosen so every
// product is exact in fp32, so comparisons are exact.
#include "check.h"
#include "core/half.h"
#include "formats/quants.h"
#include "formats/quants_internal.h"  // the scalar references and SIMD versions, compared below

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace moe;


namespace {

void put_f16(std::vector<uint8_t>& b, size_t off, float v) {
    const uint16_t h = fp32_to_fp16(v);
    REQUIRE(fp16_to_fp32(h) == v);  // the test only uses exactly representable scales
    b[off] = static_cast<uint8_t>(h & 0xff);
    b[off + 1] = static_cast<uint8_t>(h >> 8);
}

// Writes `bits` (width bits) at bit position `bit` of byte b[off].
void put_bits(std::vector<uint8_t>& b, size_t off, int bit, int width, int bits) {
    const int mask = (1 << width) - 1;
    b[off] = static_cast<uint8_t>((b[off] & ~(mask << bit)) | ((bits & mask) << bit));
}

std::vector<float> dequant(GgmlType type, const std::vector<uint8_t>& block, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n), -12345.0f);
    REQUIRE_OK(dequantize_row(type, block.data(), out.data(), n));
    return out;
}

int count_mismatches(const std::vector<float>& got, const std::vector<float>& want) {
    int bad = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        if (got[i] != want[i]) {
            if (bad < 5) std::fprintf(stderr, "    element %zu: got %g, want %g\n", i, got[i], want[i]);
            ++bad;
        }
    }
    return bad;
}

}  // namespace

// ---- literal spot checks -----------------------------------------------------------------------------

MOE_TEST(q4_0_literal_block) {
    std::vector<uint8_t> b(18, 0x88);  // every nibble 8 -> 0
    b[0] = 0x00; b[1] = 0x38;          // d = 0.5 (fp16 0x3800)
    b[2] = 0xf0;                       // element 0 = low nibble 0 -> -8*0.5; element 16 = high nibble 15 -> 3.5
    b[17] = 0x9a;                      // element 15 = 10 -> 1.0; element 31 = 9 -> 0.5
    const auto x = dequant(GgmlType::Q4_0, b, 32);
    CHECK_EQ(x[0], -4.0f);
    CHECK_EQ(x[16], 3.5f);
    CHECK_EQ(x[15], 1.0f);
    CHECK_EQ(x[31], 0.5f);
    CHECK_EQ(x[1], 0.0f);
}

MOE_TEST(q8_0_literal_block) {
    std::vector<uint8_t> b(34, 0);
    b[0] = 0x00; b[1] = 0xc0;  // d = -2.0 (fp16 0xc000)
    b[2] = 0x7f;               // 127 -> -254
    b[3] = 0x81;               // -127 -> 254
    b[33] = 0xff;              // -1 -> 2
    const auto x = dequant(GgmlType::Q8_0, b, 32);
    CHECK_EQ(x[0], -254.0f);
    CHECK_EQ(x[1], 254.0f);
    CHECK_EQ(x[31], 2.0f);
    CHECK_EQ(x[2], -0.0f);
}

MOE_TEST(q4_k_literal_block) {
    std::vector<uint8_t> b(144, 0);
    b[0] = 0x00; b[1] = 0x3c;  // d = 1
    b[2] = 0x00; b[3] = 0x38;  // dmin = 0.5
    b[4 + 0] = 2;              // sub-block 0: sc = 2
    b[4 + 4] = 3;              // sub-block 0: m = 3
    b[4 + 8] = 0x45;           // sub-block 4: sc low = 5, m low = 4
    b[4 + 0] |= 0x40;          // sub-block 4: sc high bits = 1 -> sc = 16 + 5 = 21
    b[4 + 4] |= 0x80;          // sub-block 4: m high bits = 2 -> m = 32 + 4 = 36
    b[16 + 0] = 0x07;          // element 0 (sub-block 0): q = 7; element 32 (sub-block 1): q = 0
    b[16 + 64] = 0x0f;         // element 128 (sub-block 4): q = 15
    const auto x = dequant(GgmlType::Q4_K, b, 256);
    CHECK_EQ(x[0], 1.0f * 2 * 7 - 0.5f * 3);
    CHECK_EQ(x[1], -1.5f);
    CHECK_EQ(x[128], 1.0f * 21 * 15 - 0.5f * 36);
    CHECK_EQ(x[129], -18.0f);
    CHECK_EQ(x[32], 0.0f);  // sub-block 1: sc = m = 0 (scales[1], scales[5] are 0)
}

MOE_TEST(q6_k_literal_block) {
    std::vector<uint8_t> b(210, 0);
    b[208] = 0x00; b[209] = 0x40;  // d = 2
    b[192 + 0] = 3;                // scale of elements 0..15
    b[192 + 6] = 0xfe;             // scale -2 of elements 96..111
    b[0] = 0x5a;                   // ql[0]: element 0 low nibble a, element 64 high nibble 5
    b[32] = 0x0c;                  // ql[32]: element 32 low nibble c, element 96 high nibble 0
    b[128] = 0b11'00'00'10;        // qh[0]: element 0 bits 4-5 = 2, element 96 bits 4-5 = 3
    const auto x = dequant(GgmlType::Q6_K, b, 256);
    CHECK_EQ(x[0], 2.0f * 3 * ((0xa | (2 << 4)) - 32));  // q = 42 - 32 = 10
    CHECK_EQ(x[96], 2.0f * -2 * ((0x0 | (3 << 4)) - 32));  // q = 48 - 32 = 16
    CHECK_EQ(x[64], 2.0f * b[192 + 4] * (5 - 32));          // scale index 4 is 0 -> 0
    CHECK_EQ(x[1], 2.0f * 3 * -32);
}

// ---- full blocks: every element's code placed by the layout, expected value by the formula ------------

namespace {

// A pattern of codes in [0, range) that visits every value and differs between neighbours.
int code_at(int i, int range) { return (i * 7 + 3 + i / range) % range; }

}  // namespace

MOE_TEST(q4_0_q4_1_full_blocks) {
    for (int with_min = 0; with_min < 2; ++with_min) {
        const GgmlType type = with_min ? GgmlType::Q4_1 : GgmlType::Q4_0;
        const size_t qs = with_min ? 4 : 2;
        std::vector<uint8_t> b(with_min ? 40 : 36, 0);  // two blocks
        std::vector<float> want(64);
        for (int blk = 0; blk < 2; ++blk) {
            const size_t base = blk * b.size() / 2;
            const float d = blk ? -0.25f : 0.5f, m = blk ? 3.0f : -1.5f;
            put_f16(b, base, d);
            if (with_min) put_f16(b, base + 2, m);
            for (int i = 0; i < 32; ++i) {
                const int q = code_at(i + 32 * blk, 16);
                put_bits(b, base + qs + i % 16, i < 16 ? 0 : 4, 4, q);
                want[32 * blk + i] = with_min ? d * q + m : d * (q - 8);
            }
        }
        CHECK_EQ(count_mismatches(dequant(type, b, 64), want), 0);
    }
}

MOE_TEST(q5_0_q5_1_full_blocks) {
    for (int with_min = 0; with_min < 2; ++with_min) {
        const GgmlType type = with_min ? GgmlType::Q5_1 : GgmlType::Q5_0;
        const size_t qh = with_min ? 4 : 2, qs = qh + 4;
        std::vector<uint8_t> b(with_min ? 24 : 22, 0);
        const float d = 0.125f, m = -2.0f;
        put_f16(b, 0, d);
        if (with_min) put_f16(b, 2, m);
        std::vector<float> want(32);
        for (int i = 0; i < 32; ++i) {
            const int q = code_at(i, 32);
            put_bits(b, qs + i % 16, i < 16 ? 0 : 4, 4, q & 15);
            put_bits(b, qh + i / 8, i % 8, 1, q >> 4);  // bit i of the little-endian u32
            want[i] = with_min ? d * q + m : d * (q - 16);
        }
        CHECK_EQ(count_mismatches(dequant(type, b, 32), want), 0);
    }
}

MOE_TEST(q8_0_and_q8_k_full_blocks) {
    std::vector<uint8_t> b(34, 0);
    put_f16(b, 0, 0.0625f);
    std::vector<float> want(32);
    for (int i = 0; i < 32; ++i) {
        const int q = code_at(i, 255) - 127;
        b[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        want[i] = 0.0625f * q;
    }
    CHECK_EQ(count_mismatches(dequant(GgmlType::Q8_0, b, 32), want), 0);

    std::vector<uint8_t> k(292, 0xee);  // bsums filled with junk: not used for dequantization
    const float dk = 0.375f;
    std::memcpy(k.data(), &dk, 4);
    std::vector<float> want_k(256);
    for (int i = 0; i < 256; ++i) {
        const int q = code_at(i, 256) - 128;
        k[4 + i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        want_k[i] = dk * q;
    }
    CHECK_EQ(count_mismatches(dequant(GgmlType::Q8_K, k, 256), want_k), 0);
}

namespace {

// 2-bit field of element i (0..255) in the Q2_K/Q3_K qs array: 128-halves of 32 bytes; within a half,
// element r uses byte r%32 at bits 2*(r/32).
void put_2bit(std::vector<uint8_t>& b, size_t qs, int i, int v) {
    const int half = i / 128, r = i % 128;
    put_bits(b, qs + 32 * half + r % 32, 2 * (r / 32), 2, v);
}

// Q4_K/Q5_K six-bit scale and min of sub-block j (spec 6.5).
void put_scale_min_k4(std::vector<uint8_t>& b, size_t s, int j, int sc, int m) {
    if (j < 4) {
        put_bits(b, s + j, 0, 6, sc);
        put_bits(b, s + j + 4, 0, 6, m);
    } else {
        put_bits(b, s + j + 4, 0, 4, sc & 15);
        put_bits(b, s + j + 4, 4, 4, m & 15);
        put_bits(b, s + j - 4, 6, 2, sc >> 4);
        put_bits(b, s + j, 6, 2, m >> 4);
    }
}

}  // namespace

MOE_TEST(q2_k_full_block) {
    std::vector<uint8_t> b(84, 0);
    const float d = 0.5f, dmin = 0.25f;
    put_f16(b, 80, d);
    put_f16(b, 82, dmin);
    std::vector<float> want(256);
    for (int s = 0; s < 16; ++s) b[s] = static_cast<uint8_t>(((s * 5 + 1) % 16) | (((s * 3 + 2) % 16) << 4));
    for (int i = 0; i < 256; ++i) {
        const int q = code_at(i, 4);
        put_2bit(b, 16, i, q);
        const int s = i / 16;  // 16-element sub-blocks
        want[i] = d * ((s * 5 + 1) % 16) * q - dmin * ((s * 3 + 2) % 16);
    }
    CHECK_EQ(count_mismatches(dequant(GgmlType::Q2_K, b, 256), want), 0);
}

MOE_TEST(q3_k_full_block) {
    std::vector<uint8_t> b(110, 0);
    const float d = 0.25f;
    put_f16(b, 108, d);
    std::vector<float> want(256);
    for (int s = 0; s < 16; ++s) {
        const int sc6 = (s * 23 + 5) % 64;  // stored six-bit scale; the value is sc6 - 32
        put_bits(b, s < 8 ? 96 + s : 96 + s - 8, s < 8 ? 0 : 4, 4, sc6 & 15);
        put_bits(b, 96 + 8 + s % 4, 2 * (s / 4), 2, sc6 >> 4);
    }
    for (int i = 0; i < 256; ++i) {
        const int v = code_at(i, 8) - 4;  // signed 3-bit value in [-4, 3]
        // low 2 bits in qs; the hmask bit is set for v >= 0 ("do not subtract 4")
        put_2bit(b, 32, i, v >= 0 ? v : v + 4);
        const int half = i / 128, r = i % 128;
        put_bits(b, r % 32, 4 * half + r / 32, 1, v >= 0 ? 1 : 0);
        want[i] = d * (((i / 16) * 23 + 5) % 64 - 32) * v;
    }
    CHECK_EQ(count_mismatches(dequant(GgmlType::Q3_K, b, 256), want), 0);
}

MOE_TEST(q4_k_q5_k_full_blocks) {
    for (int five = 0; five < 2; ++five) {
        const GgmlType type = five ? GgmlType::Q5_K : GgmlType::Q4_K;
        std::vector<uint8_t> b(five ? 176 : 144, 0);
        const float d = 0.5f, dmin = 0.125f;
        put_f16(b, 0, d);
        put_f16(b, 2, dmin);
        const size_t qs = five ? 48 : 16;
        std::vector<float> want(256);
        for (int j = 0; j < 8; ++j) put_scale_min_k4(b, 4, j, (j * 19 + 40) % 64, (j * 27 + 33) % 64);
        for (int i = 0; i < 256; ++i) {
            const int q = code_at(i, five ? 32 : 16);
            const int chunk = i / 64, r = i % 64, j = i / 32;
            put_bits(b, qs + 32 * chunk + r % 32, r < 32 ? 0 : 4, 4, q & 15);
            if (five) put_bits(b, 16 + r % 32, 2 * chunk + (r < 32 ? 0 : 1), 1, q >> 4);
            want[i] = d * ((j * 19 + 40) % 64) * q - dmin * ((j * 27 + 33) % 64);
        }
        CHECK_EQ(count_mismatches(dequant(type, b, 256), want), 0);
    }
}

MOE_TEST(q6_k_full_block) {
    std::vector<uint8_t> b(210, 0);
    const float d = 0.0625f;
    put_f16(b, 208, d);
    for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>((s * 37 % 256) - 128));
    std::vector<float> want(256);
    for (int i = 0; i < 256; ++i) {
        const int q = code_at(i, 64);
        const int half = i / 128, r = i % 128, group = r / 32, l = r % 32;
        // groups 0,1 use low nibbles of ql[l], ql[l+32]; groups 2,3 the high nibbles; qh[l] bits 2*group
        put_bits(b, 64 * half + l + (group % 2) * 32, group < 2 ? 0 : 4, 4, q & 15);
        put_bits(b, 128 + 32 * half + l, 2 * group, 2, q >> 4);
        const int scale = static_cast<int8_t>(b[192 + i / 16]);
        want[i] = d * scale * (q - 32);
    }
    CHECK_EQ(count_mismatches(dequant(GgmlType::Q6_K, b, 256), want), 0);
}

MOE_TEST(float_types_dequantize) {
    // F16 codes through the row function (hardware path for 8 at a time, scalar for the tail) against the
    // scalar conversion for all 65536 codes (65536 is a multiple of 8, so also try an odd tail).
    std::vector<uint8_t> h(2 * 65536);
    for (uint32_t i = 0; i < 65536; ++i) { h[2 * i] = i & 0xff; h[2 * i + 1] = static_cast<uint8_t>(i >> 8); }
    std::vector<float> out(65536);
    REQUIRE_OK(dequantize_row(GgmlType::F16, h.data(), out.data(), 65536));
    int bad = 0;
    for (uint32_t i = 0; i < 65536; ++i) {
        const float want = fp16_to_fp32(static_cast<uint16_t>(i));
        if (std::isnan(want) ? !std::isnan(out[i]) : fp32_to_bits(out[i]) != fp32_to_bits(want)) ++bad;
    }
    CHECK_EQ(bad, 0);
    REQUIRE_OK(dequantize_row(GgmlType::F16, h.data() + 2 * 1000, out.data(), 13));
    for (int i = 0; i < 13; ++i) CHECK_EQ(out[static_cast<size_t>(i)], fp16_to_fp32(static_cast<uint16_t>(1000 + i)));

    const uint8_t bf[4] = {0x80, 0x3f, 0x40, 0xc0};  // 1.0, -3.0
    float two[2] = {};
    REQUIRE_OK(dequantize_row(GgmlType::BF16, bf, two, 2));
    CHECK_EQ(two[0], 1.0f);
    CHECK_EQ(two[1], -3.0f);
    const float f[3] = {1.5f, -0.0f, 7.0f};
    float g[3] = {};
    REQUIRE_OK(dequantize_row(GgmlType::F32, f, g, 3));
    CHECK(std::memcmp(f, g, sizeof f) == 0);
}

MOE_TEST(f16_bf16_row_encoders_match_scalar_conversions) {
    // Random fp32 bit patterns (NaN, inf, fp32 subnormals, overflow, exact ties) through the row encoders
    // (F16C path where built) against the scalar conversions of core/half.h.
    std::mt19937 rng(13);
    std::vector<float> x(1 << 16);
    for (size_t i = 0; i < x.size(); ++i) {
        const uint32_t r = rng();
        x[i] = i % 3 == 0 ? fp32_from_bits(r) : i % 3 == 1 ? fp32_from_bits((r & 0x8fffe000u) | 0x38000000u)
                                                            : fp32_from_bits(r & 0x807fffffu);
    }
    x[5] = fp32_from_bits(0x38800000u - 0x1000u);  // a tie just below the smallest fp16 normal
    std::vector<uint8_t> h(2 * x.size()), b(2 * x.size());
    REQUIRE_OK(quantize_row(GgmlType::F16, x.data(), h.data(), static_cast<int64_t>(x.size())));
    REQUIRE_OK(quantize_row(GgmlType::BF16, x.data(), b.data(), static_cast<int64_t>(x.size())));
    int bad = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        bad += (h[2 * i] | (h[2 * i + 1] << 8)) != fp32_to_fp16(x[i]);
        bad += (b[2 * i] | (b[2 * i + 1] << 8)) != fp32_to_bf16(x[i]);
    }
    CHECK_EQ(bad, 0);
}

MOE_TEST(rejects_bad_types_and_counts) {
    std::vector<uint8_t> src(1024, 0);
    std::vector<float> dst(512, 7.0f);
    const Status odd = dequantize_row(GgmlType::Q4_K, src.data(), dst.data(), 100);
    CHECK(!odd.ok());
    CHECK(odd.message().find("q4_K") != std::string::npos);
    CHECK(odd.message().find("256") != std::string::npos);
    CHECK(odd.message().find("100") != std::string::npos);
    CHECK(!dequantize_row(GgmlType::Q8_0, src.data(), dst.data(), -32).ok());
    CHECK(!dequantize_row(GgmlType::IQ2_XXS, src.data(), dst.data(), 256).ok());
    CHECK(!dequantize_row(GgmlType::Q8_1, src.data(), dst.data(), 32).ok());
    CHECK(!dequantize_row(static_cast<GgmlType>(999), src.data(), dst.data(), 32).ok());
    CHECK(!dequantize_row(GgmlType::F8_E4M3_B128, src.data(), dst.data(), 32).ok());
    CHECK_EQ(dst[0], 7.0f);  // nothing written on failure
    CHECK(!quantize_row(GgmlType::Q5_K, dst.data(), src.data(), 256).ok());
    CHECK(!quantize_row(GgmlType::Q8_0, dst.data(), src.data(), 33).ok());
    CHECK(dequantize_row(GgmlType::Q6_K, nullptr, nullptr, 0).ok());  // empty rows are fine
    CHECK(can_dequantize(GgmlType::Q3_K));
    CHECK(!can_dequantize(GgmlType::IQ4_NL));
    CHECK(can_quantize(GgmlType::Q4_K));
    CHECK(can_quantize(GgmlType::Q6_K));
    CHECK(!can_quantize(GgmlType::Q5_K));
}

// ---- FP8 with 128x128 block scales ------------------------------------------------------------------

MOE_TEST(fp8_block_scaled_small_blocks_by_hand) {
    // 3x3 matrix, block 2: scales [2,2] = {{2, -0.5}, {4, 0.25}}; partial blocks on the last row/column.
    const uint8_t w[9] = {0x38, 0x40, 0x3c,   // 1, 2, 1.5
                          0xb8, 0x01, 0x7e,   // -1, 2^-9, 448
                          0x30, 0x00, 0x44};  // 0.5, 0, 3
    const float s[4] = {2.0f, -0.5f, 4.0f, 0.25f};
    const float want[9] = {2.0f, 4.0f, -0.75f,
                           -2.0f, 2.0f * 0.001953125f, -224.0f,
                           2.0f, 0.0f, 0.75f};
    float got[9] = {};
    REQUIRE_OK(dequantize_fp8_block_scaled(w, s, 3, 3, got, 2));
    for (int i = 0; i < 9; ++i) CHECK_EQ(got[i], want[i]);
    CHECK(!dequantize_fp8_block_scaled(w, s, 3, 3, got, 0).ok());
    CHECK(!dequantize_fp8_block_scaled(w, s, -1, 3, got, 2).ok());
}

MOE_TEST(fp8_row_all_codes) {
    // Every code, in runs long enough for the vector path and a tail, against the scalar decoder * scale.
    std::vector<uint8_t> w(256 * 3 + 5);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<uint8_t>(i * 37 % 256);
    const int64_t cols = static_cast<int64_t>(w.size());
    std::vector<float> scales(static_cast<size_t>((cols + 127) / 128));
    for (size_t k = 0; k < scales.size(); ++k) scales[k] = k % 2 ? -0.375f : 3.0e-3f;
    std::vector<float> got(w.size());
    dequantize_fp8_row(w.data(), scales.data(), cols, got.data());
    int bad = 0;
    for (size_t i = 0; i < w.size(); ++i) {
        const float want = fp8_e4m3_to_fp32(w[i]) * scales[i / 128];
        bad += !((std::isnan(want) && std::isnan(got[i])) || fp32_to_bits(want) == fp32_to_bits(got[i]));
    }
    CHECK_EQ(bad, 0);
}

MOE_TEST(fp8_block_scaled_128_with_partial_edges) {
    // [130, 131] with 128-blocks: scale_inv is [2, 2] and the last block row/column hold 2 and 3 elements.
    const int64_t rows = 130, cols = 131;
    std::vector<uint8_t> w(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) w[static_cast<size_t>(r * cols + c)] = static_cast<uint8_t>((r * 3 + c * 5) % 0x7f);
    const float s[4] = {0.5f, 8.0f, -2.0f, 0.125f};
    std::vector<float> got(w.size());
    REQUIRE_OK(dequantize_fp8_block_scaled(w.data(), s, rows, cols, got.data()));
    int bad = 0;
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < cols; ++c) {
            const uint8_t code = w[static_cast<size_t>(r * cols + c)];
            const int e = (code >> 3) & 15, m = code & 7;  // code < 0x7f: positive, never NaN
            const double v = e == 0 ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
            const double want = v * s[(r / 128) * 2 + c / 128];
            if (static_cast<double>(got[static_cast<size_t>(r * cols + c)]) != want) ++bad;
        }
    }
    CHECK_EQ(bad, 0);
    // The row variant gives the same rows.
    std::vector<float> row(static_cast<size_t>(cols));
    dequantize_fp8_row(w.data() + 129 * cols, s + 2, cols, row.data());
    CHECK(std::memcmp(row.data(), got.data() + 129 * cols, row.size() * sizeof(float)) == 0);
}

// ---- SIMD paths against the scalar references ----------------------------------------------------------

#if MOE_QUANTS_AVX2
namespace {

bool same_bits_or_both_nan(float a, float b) {
    return (std::isnan(a) && std::isnan(b)) || fp32_to_bits(a) == fp32_to_bits(b);
}

}  // namespace

MOE_TEST(avx2_dequantizers_match_scalar_references) {
    using namespace moe::quants_detail;
    using Fn = void (*)(const uint8_t*, float*, int64_t);
    struct Case { GgmlType type; Fn scalar; Fn simd; };
    const Case cases[] = {
        {GgmlType::Q4_0, dequant_q4_0_blocks, dequant_q4_0_blocks_avx2},
        {GgmlType::Q4_1, dequant_q4_1_blocks, dequant_q4_1_blocks_avx2},
        {GgmlType::Q5_0, dequant_q5_0_blocks, dequant_q5_0_blocks_avx2},
        {GgmlType::Q5_1, dequant_q5_1_blocks, dequant_q5_1_blocks_avx2},
        {GgmlType::Q8_0, dequant_q8_0_blocks, dequant_q8_0_blocks_avx2},
        {GgmlType::Q2_K, dequant_q2_k_blocks, dequant_q2_k_blocks_avx2},
        {GgmlType::Q3_K, dequant_q3_k_blocks, dequant_q3_k_blocks_avx2},
        {GgmlType::Q4_K, dequant_q4_k_blocks, dequant_q4_k_blocks_avx2},
        {GgmlType::Q5_K, dequant_q5_k_blocks, dequant_q5_k_blocks_avx2},
        {GgmlType::Q6_K, dequant_q6_k_blocks, dequant_q6_k_blocks_avx2},
    };
    std::mt19937 rng(11);
    for (const Case& c : cases) {
        // Fully random bytes: every code, scale and fp16 pattern (subnormal, inf, NaN d included).
        const GgmlTypeInfo info = *ggml_type_info(static_cast<uint32_t>(c.type));
        const int64_t n_blocks = 512;
        std::vector<uint8_t> src(static_cast<size_t>(n_blocks) * info.block_bytes);
        for (auto& b : src) b = static_cast<uint8_t>(rng());
        std::vector<float> a(static_cast<size_t>(n_blocks) * info.block_elems), b(a.size());
        c.scalar(src.data(), a.data(), n_blocks);
        c.simd(src.data(), b.data(), n_blocks);
        int bad = 0;
        for (size_t i = 0; i < a.size(); ++i) bad += !same_bits_or_both_nan(a[i], b[i]);
        if (bad) std::fprintf(stderr, "    %s: %d elements differ\n", info.name, bad);
        CHECK_EQ(bad, 0);
    }
}

MOE_TEST(avx2_q8_0_quantizer_matches_scalar_reference) {
    std::mt19937 rng(12);
    std::vector<float> x(32 * 4096);
    for (size_t i = 0; i < x.size(); ++i) {
        const uint32_t r = rng();
        // mostly ordinary values, plus raw bit patterns (NaN, inf, subnormal) and exact .5 ties
        if (i % 7 == 0) x[i] = fp32_from_bits(r);
        else if (i % 5 == 0) x[i] = static_cast<float>(static_cast<int>(r % 255) - 127) + 0.5f;
        else x[i] = static_cast<float>(static_cast<int>(r % 20001) - 10000) * 1e-3f;
    }
    for (size_t i = 64; i < 96; ++i) x[i] = 0.0f;           // an all-zero block
    for (size_t i = 96; i < 128; ++i) x[i] = -1e-40f;       // subnormal block
    std::vector<uint8_t> a(34 * 4096), b(a.size());
    quants_detail::quant_q8_0_blocks(x.data(), a.data(), 4096);
    quants_detail::quant_q8_0_blocks_avx2(x.data(), b.data(), 4096);
    int bad_blocks = 0;
    for (size_t k = 0; k < 4096; ++k) bad_blocks += std::memcmp(a.data() + 34 * k, b.data() + 34 * k, 34) != 0;
    CHECK_EQ(bad_blocks, 0);
}
#endif
