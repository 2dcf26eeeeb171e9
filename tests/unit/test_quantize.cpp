// quantize_row: bit-exactness of Q8_0 against gguf-py / llama-quantize output, round trips with error
// bounds derived from each format, and sanity of the llama.cpp-made K-quant fixture.
#include "check.h"
#include "core/half.h"
#include "formats/gguf.h"
#include "formats/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

using namespace moe;


namespace {

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<uint8_t> quantize(GgmlType type, const std::vector<float>& x) {
    std::vector<uint8_t> out(ggml_bytes(type, x.size()).value_or(0));
    REQUIRE(!out.empty());
    REQUIRE_OK(quantize_row(type, x.data(), out.data(), static_cast<int64_t>(x.size())));
    return out;
}

std::vector<float> dequantize(GgmlType type, const uint8_t* data, size_t n) {
    std::vector<float> out(n);
    REQUIRE_OK(dequantize_row(type, data, out.data(), static_cast<int64_t>(n)));
    return out;
}

// Deterministic normal draws (Box-Muller over mt19937, portable across standard libraries).
std::vector<float> gaussian(size_t n, float sigma, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<float> v(n);
    for (size_t i = 0; i < n; ++i) {
        const double u1 = (rng() + 1.0) / 4294967297.0, u2 = rng() / 4294967296.0;
        v[i] = static_cast<float>(sigma * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
    }
    return v;
}

// Rows that stress the quantizers, each a multiple of 256 elements.
std::vector<std::pair<std::string, std::vector<float>>> adversarial_rows() {
    std::vector<std::pair<std::string, std::vector<float>>> rows;
    rows.push_back({"zeros", std::vector<float>(512, 0.0f)});
    rows.push_back({"constant", std::vector<float>(512, 0.37f)});
    rows.push_back({"negative constant", std::vector<float>(512, -2.5f)});
    auto spike = std::vector<float>(512, 0.001f);
    spike[77] = 50.0f;
    spike[300] = -80.0f;
    rows.push_back({"spikes", spike});
    auto neg = gaussian(512, 1.0f, 7);
    for (float& v : neg) v = -std::fabs(v) - 0.1f;
    rows.push_back({"negatives only", neg});
    auto pos = gaussian(512, 1.0f, 8);
    for (float& v : pos) v = std::fabs(v) + 3.0f;
    rows.push_back({"positives with offset", pos});
    rows.push_back({"tiny", gaussian(512, 1e-6f, 9)});
    rows.push_back({"huge", gaussian(512, 1e4f, 10)});
    auto ramp = std::vector<float>(512);
    for (size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(i % 37) - 18.0f;
    rows.push_back({"ramp", ramp});
    return rows;
}

}  // namespace

// ---- Q8_0: bit-identical to gguf-py / llama-quantize --------------------------------------------------

MOE_TEST(q8_0_matches_gguf_py_on_stored_slice) {
    // tests/data/quants: blk.0.attn_q_a.weight of fx-ds2-v3 (4096 floats) and its gguf-py Q8_0 bytes.
    const std::string f32 = moe_test::data_path("quants/fx-ds2-v3.blk0.attn_q_a.f32");
    const std::string q8 = moe_test::data_path("quants/fx-ds2-v3.blk0.attn_q_a.q8_0");
    REQUIRE(!f32.empty() && !q8.empty());
    const auto raw = read_all(f32);
    const auto want = read_all(q8);
    REQUIRE(raw.size() == 4096 * 4 && want.size() == 128 * 34);
    std::vector<float> x(4096);
    std::memcpy(x.data(), raw.data(), raw.size());
    CHECK(quantize(GgmlType::Q8_0, x) == want);
}

MOE_TEST(q8_0_rounding_rule) {
    // amax = 127 -> d = 1 exactly: q = roundf(x), halves away from zero (not to even).
    std::vector<float> x(32, 0.0f);
    x[0] = 127.0f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.5f; x[4] = -0.5f; x[5] = 3.5f; x[6] = 2.4999998f;
    const auto q = quantize(GgmlType::Q8_0, x);
    CHECK_EQ(q[0], 0x00);
    CHECK_EQ(q[1], 0x3c);  // fp16 1.0
    CHECK_EQ(static_cast<int8_t>(q[2]), 127);
    CHECK_EQ(static_cast<int8_t>(q[3]), 3);
    CHECK_EQ(static_cast<int8_t>(q[4]), -3);
    CHECK_EQ(static_cast<int8_t>(q[5]), 1);
    CHECK_EQ(static_cast<int8_t>(q[6]), -1);
    CHECK_EQ(static_cast<int8_t>(q[7]), 4);
    CHECK_EQ(static_cast<int8_t>(q[8]), 2);
}

MOE_TEST(q8_0_matches_gguf_py_on_all_fixture_tensors) {
    const char* pairs[][2] = {{"models/fx-ds2-v3-f32.gguf", "models/fx-ds2-v3-q8_0.gguf"},
                              {"models/fx-ds1-f32.gguf", "models/fx-ds1-q8_0.gguf"},
                              {"models/fx-ds2-lite-f32.gguf", "models/fx-ds2-lite-q8_0.gguf"}};
    int compared = 0, different = 0;
    for (const auto& pair : pairs) {
        const std::string pf = moe_test::shared_fixture(pair[0]), pq = moe_test::shared_fixture(pair[1]);
        if (pf.empty() || pq.empty()) continue;
        auto f = GgufFile::open(pf);
        auto q = GgufFile::open(pq);
        REQUIRE_OK(f);
        REQUIRE_OK(q);
        for (const GgufTensorInfo& t : q->tensors()) {
            if (t.type != GgmlType::Q8_0) continue;
            const GgufTensorInfo* src = f->find_tensor(t.name);
            REQUIRE(src != nullptr && src->type == GgmlType::F32 && src->n_elements == t.n_elements);
            std::vector<float> x(src->n_elements);
            std::memcpy(x.data(), src->data, x.size() * sizeof(float));
            const auto mine = quantize(GgmlType::Q8_0, x);
            ++compared;
            if (mine.size() != t.n_bytes || std::memcmp(mine.data(), t.data, mine.size()) != 0) {
                std::fprintf(stderr, "    %s: %s differs\n", pair[1], t.name.c_str());
                ++different;
            }
        }
    }
    if (compared == 0) MOE_SKIP("shared fixtures models/fx-*-q8_0.gguf not found");
    std::fprintf(stderr, "    %d Q8_0 tensors compared\n", compared);
    CHECK(compared > 100);
    CHECK_EQ(different, 0);
}

// ---- round trips -------------------------------------------------------------------------------------

namespace {

// Q8_0: q = round(x/d32) gives |x - d32*q| <= d32/2; storing d as fp16 adds |q|*|d32-d16| <= 127*|d32-d16|.
int q8_0_violations(const std::vector<float>& x, const std::vector<float>& y) {
    int bad = 0;
    for (size_t b = 0; b < x.size(); b += 32) {
        float amax = 0.0f;
        for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
        const double d32 = amax / 127.0f, d16 = fp16_to_fp32(fp32_to_fp16(static_cast<float>(d32)));
        const double bound = d32 / 2 + 127 * std::fabs(d32 - d16) + 1e-6 * amax;
        for (size_t i = b; i < b + 32; ++i) bad += std::fabs(static_cast<double>(x[i]) - y[i]) > bound;
    }
    return bad;
}

// Q4_0: d = -max/8 maps the extreme to code 0 exactly; the opposite extreme clips to code 15 (7*d), an error
// of up to |d|; others are within |d|/2. fp16 d adds up to 8*|d32-d16|.
int q4_0_violations(const std::vector<float>& x, const std::vector<float>& y) {
    int bad = 0;
    for (size_t b = 0; b < x.size(); b += 32) {
        float amax = 0.0f;
        for (size_t i = b; i < b + 32; ++i) amax = std::max(amax, std::fabs(x[i]));
        const double d32 = amax / 8.0f, d16 = fp16_to_fp32(fp32_to_fp16(static_cast<float>(d32)));
        const double bound = d32 + 8 * std::fabs(d32 - d16) + 1e-6 * amax;
        for (size_t i = b; i < b + 32; ++i) bad += std::fabs(static_cast<double>(x[i]) - y[i]) > bound;
    }
    return bad;
}

// The simplest Q4_K encoding (min/max per sub-block, scales rounded to 6 bits): the baseline our search
// must beat. Returns its squared error.
double q4_k_minmax_sq_error(const float* x) {
    float scale[8] = {}, min[8] = {};
    for (int j = 0; j < 8; ++j) {
        const float lo = std::min(0.0f, *std::min_element(x + 32 * j, x + 32 * j + 32));
        const float hi = *std::max_element(x + 32 * j, x + 32 * j + 32);
        scale[j] = (hi - lo) / 15;
        min[j] = -lo;
    }
    const float d = fp16_to_fp32(fp32_to_fp16(*std::max_element(scale, scale + 8) / 63));
    const float dm = fp16_to_fp32(fp32_to_fp16(*std::max_element(min, min + 8) / 63));
    double err = 0.0;
    for (int j = 0; j < 8; ++j) {
        const float s = d * std::round(d > 0 ? scale[j] / d : 0), m = dm * std::round(dm > 0 ? min[j] / dm : 0);
        for (int i = 32 * j; i < 32 * j + 32; ++i) {
            const float q = s > 0 ? std::clamp(std::round((x[i] + m) / s), 0.0f, 15.0f) : 0.0f;
            err += std::pow(static_cast<double>(s * q - m - x[i]), 2);
        }
    }
    return err;
}

double sq_error(const std::vector<float>& x, const std::vector<float>& y, size_t from, size_t to) {
    double e = 0.0;
    for (size_t i = from; i < to; ++i) e += std::pow(static_cast<double>(x[i]) - y[i], 2);
    return e;
}

}  // namespace

MOE_TEST(q8_0_and_q4_0_round_trips) {
    auto rows = adversarial_rows();
    rows.push_back({"gaussian", gaussian(8192, 0.02f, 1)});
    for (const auto& [name, x] : rows) {
        const auto y8 = dequantize(GgmlType::Q8_0, quantize(GgmlType::Q8_0, x).data(), x.size());
        const auto y4 = dequantize(GgmlType::Q4_0, quantize(GgmlType::Q4_0, x).data(), x.size());
        const int bad8 = q8_0_violations(x, y8), bad4 = q4_0_violations(x, y4);
        if (bad8 || bad4) std::fprintf(stderr, "    row '%s'\n", name.c_str());
        CHECK_EQ(bad8, 0);
        CHECK_EQ(bad4, 0);
    }
    // Zeros and values that are exact multiples of an fp16 d come back exactly.
    const auto z = adversarial_rows()[0].second;
    CHECK(dequantize(GgmlType::Q8_0, quantize(GgmlType::Q8_0, z).data(), z.size()) == z);
    std::vector<float> ints(64);
    for (int i = 0; i < 64; ++i) ints[static_cast<size_t>(i)] = static_cast<float>((i * 37) % 255 - 127);
    ints[0] = 127.0f;
    ints[32] = -127.0f;
    CHECK(dequantize(GgmlType::Q8_0, quantize(GgmlType::Q8_0, ints).data(), 64) == ints);
}

MOE_TEST(q4_k_round_trip_gaussian) {
    // N(0, 0.02) like the fixtures' weights. A 4-bit uniform quantizer over a 32-sample range (about
    // +-2.1 sigma) has RMS error ~ range/15/sqrt(12) ~ 0.08 sigma; the search must do at least that well
    // and beat the min/max encoding of the same format.
    const auto x = gaussian(256 * 256, 0.02f, 2);
    const auto y = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, x).data(), x.size());
    const double rms = std::sqrt(sq_error(x, y, 0, x.size()) / x.size());
    double baseline = 0.0;
    for (size_t b = 0; b < x.size(); b += 256) baseline += q4_k_minmax_sq_error(x.data() + b);
    baseline = std::sqrt(baseline / x.size());
    std::fprintf(stderr, "    Q4_K RMS error %.4f sigma (min/max encoding %.4f sigma)\n", rms / 0.02, baseline / 0.02);
    CHECK(rms < 0.08 * 0.02);
    CHECK(rms < 0.9 * baseline);
    // Per block: never worse than the min/max encoding by more than rounding noise.
    int worse = 0;
    for (size_t b = 0; b < x.size(); b += 256)
        worse += sq_error(x, y, b, b + 256) > 1.0001 * q4_k_minmax_sq_error(x.data() + b) + 1e-12;
    CHECK_EQ(worse, 0);
}

MOE_TEST(q4_k_round_trip_adversarial) {
    for (const auto& [name, x] : adversarial_rows()) {
        const auto y = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, x).data(), x.size());
        int non_finite = 0;
        for (float v : y) non_finite += !std::isfinite(v);
        CHECK_EQ(non_finite, 0);
        // Bound: each 256-block's error is no worse than its min/max encoding (whose per-element error
        // is at most half a step plus the 6-bit scale rounding), with slack for fp16 subnormal d.
        for (size_t b = 0; b < x.size(); b += 256) {
            const double mine = sq_error(x, y, b, b + 256), base = q4_k_minmax_sq_error(x.data() + b);
            if (!(mine <= 1.0001 * base + 1e-12)) {
                std::fprintf(stderr, "    row '%s' block %zu: %g vs min/max %g\n", name.c_str(), b / 256, mine, base);
                CHECK(false);
            }
        }
    }
    const auto zeros = adversarial_rows()[0].second;
    CHECK(dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, zeros).data(), zeros.size()) == zeros);
    // A constant row: code 15 at the largest scale, exact up to fp16 rounding of d (2^-11 relative).
    const auto c = adversarial_rows()[1].second;
    const auto yc = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, c).data(), c.size());
    for (float v : yc) CHECK_NEAR(v, 0.37, 0.37 * 1e-3);
    const auto n = adversarial_rows()[2].second;
    const auto yn = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, n).data(), n.size());
    for (float v : yn) CHECK_NEAR(v, -2.5, 2.5 * 1e-3);
}

namespace {

// The simplest Q6_K encoding: per 16-element sub-block the largest magnitude maps to code -32, int8
// scales against d = max|scale|/127. Returns its squared error (the baseline our search must beat).
double q6_k_simple_sq_error(const float* x) {
    float scale[16] = {};
    float amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        float vmax = 0.0f;
        for (int i = 16 * j; i < 16 * j + 16; ++i) vmax = std::fabs(x[i]) > std::fabs(vmax) ? x[i] : vmax;
        scale[j] = vmax / -32.0f;
        amax = std::max(amax, std::fabs(scale[j]));
    }
    const float d = fp16_to_fp32(fp32_to_fp16(amax / 127));
    double err = 0.0;
    for (int j = 0; j < 16; ++j) {
        const float s = d * std::round(d > 0 ? scale[j] / d : 0);
        for (int i = 16 * j; i < 16 * j + 16; ++i) {
            const float q = s != 0 ? std::clamp(std::round(x[i] / s), -32.0f, 31.0f) : 0.0f;
            err += std::pow(static_cast<double>(s * q - x[i]), 2);
        }
    }
    return err;
}

}  // namespace

MOE_TEST(q6_k_round_trips) {
    // N(0, 0.02): 6-bit codes over a 16-sample range of about +-1.8 sigma give RMS ~ 3.6/63/sqrt(12) sigma
    // ~ 0.017 sigma; the search must stay near that and never lose to the simple encoding.
    const auto g = gaussian(256 * 256, 0.02f, 4);
    const auto yg = dequantize(GgmlType::Q6_K, quantize(GgmlType::Q6_K, g).data(), g.size());
    const double rms = std::sqrt(sq_error(g, yg, 0, g.size()) / g.size());
    double base = 0.0;
    for (size_t b = 0; b < g.size(); b += 256) base += q6_k_simple_sq_error(g.data() + b);
    std::fprintf(stderr, "    Q6_K RMS error %.4f sigma (simple encoding %.4f sigma)\n", rms / 0.02,
                 std::sqrt(base / g.size()) / 0.02);
    CHECK(rms < 0.02 * 0.02);
    auto rows = adversarial_rows();
    rows.push_back({"gaussian", g});
    for (const auto& [name, x] : rows) {
        const auto y = dequantize(GgmlType::Q6_K, quantize(GgmlType::Q6_K, x).data(), x.size());
        for (size_t b = 0; b < x.size(); b += 256) {
            const double mine = sq_error(x, y, b, b + 256), simple = q6_k_simple_sq_error(x.data() + b);
            if (!(mine <= 1.0001 * simple + 1e-12)) {
                std::fprintf(stderr, "    row '%s' block %zu: %g vs simple %g\n", name.c_str(), b / 256, mine, simple);
                CHECK(false);
            }
        }
    }
    const auto z = adversarial_rows()[0].second;
    CHECK(dequantize(GgmlType::Q6_K, quantize(GgmlType::Q6_K, z).data(), z.size()) == z);
    const auto c = adversarial_rows()[2].second;  // -2.5 everywhere
    for (float v : dequantize(GgmlType::Q6_K, quantize(GgmlType::Q6_K, c).data(), c.size())) CHECK_NEAR(v, -2.5, 2.5e-3);
}

MOE_TEST(non_finite_and_out_of_range_inputs) {
    std::vector<float> x(512, 0.01f);  // extreme values in the first 256-block only
    x[1] = NAN; x[2] = INFINITY; x[3] = -INFINITY; x[40] = 1e30f; x[41] = -3e38f; x[100] = 3e38f;
    // Q4_K: non-finite values encode as 0 and the scales saturate at the fp16 maximum: all outputs finite.
    const auto y = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, x).data(), x.size());
    int non_finite = 0;
    for (float v : y) non_finite += !std::isfinite(v);
    CHECK_EQ(non_finite, 0);
    // The next block is unaffected (the 8 sub-blocks of one block share d, so that one is not).
    for (size_t i = 256; i < 512; ++i) CHECK_NEAR(y[i], 0.01, 0.01 * 0.01);
    // Q8_0 and Q4_0 accept them without failing (scales may become inf, as with ggml).
    CHECK(!quantize(GgmlType::Q8_0, x).empty());
    CHECK(!quantize(GgmlType::Q4_0, x).empty());
    const auto h = dequantize(GgmlType::F16, quantize(GgmlType::F16, x).data(), x.size());
    CHECK(std::isnan(h[1]));
    CHECK_EQ(h[2], INFINITY);
    CHECK_EQ(h[40], INFINITY);  // beyond fp16 range
    CHECK_EQ(h[41], -INFINITY);
}

MOE_TEST(float_types_round_trip) {
    std::vector<float> x = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f, 0.333251953125f};
    const auto h = quantize(GgmlType::F16, x);
    CHECK(dequantize(GgmlType::F16, h.data(), x.size()) == x);  // all exactly representable in fp16
    CHECK_EQ(h[2], 0x00);
    CHECK_EQ(h[3], 0x80);  // -0 keeps its sign
    std::vector<float> b = {1.0f, -3.0f, 0.15625f, 3.3895314e38f, -1.1754944e-38f};
    CHECK(dequantize(GgmlType::BF16, quantize(GgmlType::BF16, b).data(), b.size()) == b);
    const auto r = dequantize(GgmlType::BF16, quantize(GgmlType::BF16, std::vector<float>{1.00390625f}).data(), 1);
    CHECK_EQ(r[0], 1.0f);  // 1 + 2^-8 is a tie: rounds to even
    const auto g = gaussian(1000, 3.0f, 3);
    CHECK(dequantize(GgmlType::F32, quantize(GgmlType::F32, g).data(), g.size()) == g);
    // F16 of arbitrary values: relative error <= 2^-11 in the normal range.
    const auto yg = dequantize(GgmlType::F16, quantize(GgmlType::F16, g).data(), g.size());
    for (size_t i = 0; i < g.size(); ++i)
        if (std::fabs(g[i]) > 1e-4f) CHECK(std::fabs(yg[i] - g[i]) <= std::fabs(g[i]) * 0x1p-11f);
}

// ---- the llama-quantize Q4_K_M fixture ---------------------------------------------------------------

MOE_TEST(k_quant_fixture_statistics) {
    const std::string path = moe_test::shared_fixture("models/fx-ds2-v3q-q4_k_m.gguf");
    if (path.empty()) MOE_SKIP("shared fixture models/fx-ds2-v3q-q4_k_m.gguf not found");
    auto file = GgufFile::open(path);
    REQUIRE_OK(file);
    struct Acc { double n = 0, sum = 0, sq = 0; int tensors = 0; };
    Acc acc[4];
    const GgmlType types[4] = {GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q5_0};
    double requant_err = 0.0, requant_ref = 0.0, requant6_err = 0.0, requant6_ref = 0.0;
    for (const GgufTensorInfo& t : file->tensors()) {
        const auto it = std::find(types, types + 4, t.type);
        if (it == types + 4) continue;
        Acc& a = acc[it - types];
        const auto y = dequantize(t.type, t.data, t.n_elements);
        double s = 0, sq = 0;
        int bad = 0;
        for (float v : y) { bad += !std::isfinite(v); s += v; sq += static_cast<double>(v) * v; }
        CHECK_EQ(bad, 0);
        const double n = static_cast<double>(y.size()), mean = s / n, sd = std::sqrt(sq / n - mean * mean);
        if (n >= 16384) {  // large tensors individually: N(0,1)*0.02 draws
            if (std::fabs(sd - 0.02) > 0.001 || std::fabs(mean) > 0.001)
                std::fprintf(stderr, "    %s: mean %g std %g\n", t.name.c_str(), mean, sd);
            CHECK_NEAR(sd, 0.02, 0.001);
            CHECK_NEAR(mean, 0.0, 0.001);
        }
        a.n += n; a.sum += s; a.sq += sq; ++a.tensors;
        if (t.type == GgmlType::Q4_K) {  // values already on a Q4_K grid: our quantizer should keep them
            const auto z = dequantize(GgmlType::Q4_K, quantize(GgmlType::Q4_K, y).data(), y.size());
            requant_err += sq_error(y, z, 0, y.size());
            requant_ref += sq;
        }
        if (t.type == GgmlType::Q6_K) {
            const auto z = dequantize(GgmlType::Q6_K, quantize(GgmlType::Q6_K, y).data(), y.size());
            requant6_err += sq_error(y, z, 0, y.size());
            requant6_ref += sq;
        }
    }
    for (int k = 0; k < 4; ++k) {
        const Acc& a = acc[k];
        CHECK(a.tensors > 0);
        if (a.n == 0) continue;
        const double mean = a.sum / a.n, sd = std::sqrt(a.sq / a.n - mean * mean);
        std::fprintf(stderr, "    %s: %d tensors, %.0f values, mean %.2e, std %.5f\n", ggml_type_name(types[k]),
                     a.tensors, a.n, mean, sd);
        CHECK_NEAR(sd, 0.02, 0.02 * 0.03);
        CHECK_NEAR(mean, 0.0, 2e-4);
    }
    const double rel = std::sqrt(requant_err / requant_ref), rel6 = std::sqrt(requant6_err / requant6_ref);
    std::fprintf(stderr, "    re-quantizing the Q4_K tensors: relative RMS change %.4f; Q6_K: %.4f\n", rel, rel6);
    CHECK(rel < 0.05);
    CHECK(rel6 < 0.05);
}
