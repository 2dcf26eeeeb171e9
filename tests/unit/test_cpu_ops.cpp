// The CPU backend's element-wise ops. RoPE keeps one position's cos/sin per thread between calls (a decode step
// rotates every layer at one position): each call must still give what a fresh computation from rope_angles gives,
// whatever the previous call's position, parameters or frequency factors were (within float rounding: the
// engine and this file may contract x*c - y*s into different fused multiply-adds).
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/cpu_ops.h"
#include "check.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace {

// Adjacent-pair (interleaved) or rotate-half RoPE of one head, computed from scratch.
std::vector<float> rope_reference(std::vector<float> x, int32_t pos, const moe::RopeParams& p) {
    const int64_t half = p.n_rot / 2;
    std::vector<float> angles(static_cast<size_t>(half));
    moe::rope_angles(p, pos, angles.data());
    for (int64_t i = 0; i < half; ++i) {
        const float c = std::cos(angles[i]) * static_cast<float>(p.magnitude);
        const float s = std::sin(angles[i]) * static_cast<float>(p.magnitude);
        const size_t a = static_cast<size_t>(p.interleaved ? 2 * i : i);
        const size_t b = static_cast<size_t>(p.interleaved ? 2 * i + 1 : i + half);
        const float x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
    return x;
}

void check_rope(int32_t pos, const moe::RopeParams& p) {
    std::vector<float> x(static_cast<size_t>(p.n_rot));
    for (size_t i = 0; i < x.size(); ++i) x[i] = 0.25f + 0.01f * static_cast<float>(i);
    const std::vector<float> want = rope_reference(x, pos, p);
    moe::cpu::rope(x.data(), p.n_rot, 1, 1, p.n_rot, &pos, p);
    for (size_t i = 0; i < x.size(); ++i) CHECK_NEAR(x[i], want[i], 1e-6);
}

}  // namespace

MOE_TEST(rope_reuses_a_position_only_for_the_same_parameters) {
    moe::RopeParams p;
    p.n_rot = 16;
    check_rope(5, p);
    check_rope(5, p);  // the kept table
    check_rope(6, p);  // another position
    moe::RopeParams base = p;
    base.freq_base = 50000.0;
    check_rope(6, base);  // same position, other base
    moe::RopeParams yarn = p;
    yarn.yarn = true;
    yarn.yarn_factor = 4.0;
    yarn.yarn_original_ctx = 64;
    yarn.magnitude = 1.25;
    check_rope(6, yarn);
    moe::RopeParams half = p;
    half.interleaved = false;
    check_rope(6, half);
    moe::RopeParams wide = p;
    wide.n_rot = 32;
    check_rope(6, wide);
    // Frequency factors compared by value: new values behind the same pointer give new angles.
    std::vector<float> factors(8, 1.0f);
    moe::RopeParams ff = p;
    ff.freq_factors = factors.data();
    check_rope(7, ff);
    factors[3] = 8.0f;
    check_rope(7, ff);
}

MOE_TEST(rope_rotates_each_token_at_its_own_position) {
    moe::RopeParams p;
    p.n_rot = 8;
    const int32_t pos[3] = {9, 9, 2};
    std::vector<float> x(3 * 2 * 8);
    for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.3f * static_cast<float>(i));
    std::vector<float> y = x;
    moe::cpu::rope(y.data(), 16, 3, 2, 8, pos, p);
    for (int t = 0; t < 3; ++t)
        for (int h = 0; h < 2; ++h) {
            const auto at = x.begin() + t * 16 + h * 8;
            const std::vector<float> want = rope_reference(std::vector<float>(at, at + 8), pos[t], p);
            for (int i = 0; i < 8; ++i)
                CHECK_NEAR(y[static_cast<size_t>(t * 16 + h * 8 + i)], want[static_cast<size_t>(i)], 1e-6);
        }
}

// SwiGLU's gate with SIMD (a vectorised exp) and without (expf): within 4e-7 relative (plus a denormal-sized
// absolute slack) of silu in double, the limits outside [-88, 88] (v, and -0 below), NaN kept; every element's
// result the same whatever its index or the length of the call.
MOE_TEST(silu_mul_matches_silu_and_does_not_depend_on_position) {
    std::vector<float> v;
    for (int i = -2000; i <= 2000; ++i) v.push_back(static_cast<float>(i) * 0.05f);  // -100 .. 100
    for (float e : {-88.5f, -88.0f, -87.9f, 87.9f, 88.0f, 88.5f, 1e-30f, -1e-30f, 0.0f, -0.0f, 3e38f, -3e38f})
        v.push_back(e);
    v.push_back(std::nanf(""));
    const std::vector<float> u(v.size(), 1.5f);
    for (bool simd : {true, false}) {
        moe::cpu::set_simd_enabled(simd);
        std::vector<float> h = v;
        moe::cpu::silu_mul(h.data(), u.data(), static_cast<int64_t>(h.size()));
        for (size_t i = 0; i < v.size(); ++i) {
            const double x = v[i];
            if (std::isnan(x)) {
                CHECK(std::isnan(h[i]));
            } else if (x > 88.0) {
                CHECK_EQ(h[i], v[i] * 1.5f);
            } else if (x < -88.0) {
                CHECK(h[i] == 0.0f && std::signbit(h[i]));
            } else {
                const double want = x / (1.0 + std::exp(-x)) * 1.5;
                CHECK(std::fabs(h[i] - want) <= 4e-7 * std::fabs(want) + 1e-37);
            }
        }
        // Any split of the array gives the same bits.
        for (int64_t step : {1, 3, 7, 8, 13}) {
            std::vector<float> g = v;
            for (int64_t i = 0; i < static_cast<int64_t>(g.size()); i += step)
                moe::cpu::silu_mul(g.data() + i, u.data() + i,
                                   std::min<int64_t>(step, static_cast<int64_t>(g.size()) - i));
            CHECK(std::memcmp(g.data(), h.data(), g.size() * sizeof(float)) == 0);
        }
    }
    moe::cpu::set_simd_enabled(true);
}
