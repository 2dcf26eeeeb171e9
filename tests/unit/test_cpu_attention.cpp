// The CPU backend's decode attention (one query token) against a double-precision reference, for contexts that
// fit one softmax and for long ones that the backend attends in chunks of keys merged by their running max: MLA
// (one shared latent head, the four-head tiles and the generic rest), grouped-query and plain multi-head, F32 and
// F16 caches. The outputs must not depend on the number of threads (the bits of 1 and 3 threads are compared).
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "core/half.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace {

struct Case {
    int64_t n_head, n_head_kv, dk, dv;
    bool mla;  // keys [c | k_pe] of width dk, values their first dv (= c)
};

// Softmax-weighted values of one query, in double: keys/values as the backend reads them (F16 rounded if so).
std::vector<double> reference(const Case& c, const std::vector<float>& q, const std::vector<float>& k,
                              const std::vector<float>& v, int64_t k_stride, int64_t v_stride, int64_t n_kv,
                              float scale) {
    const int64_t group = c.n_head / c.n_head_kv;
    std::vector<double> out(static_cast<size_t>(c.n_head * c.dv), 0.0);
    for (int64_t h = 0; h < c.n_head; ++h) {
        const int64_t g = h / group;
        const int64_t ko = c.mla ? 0 : g * c.dk, vo = c.mla ? 0 : g * c.dv;
        std::vector<double> s(static_cast<size_t>(n_kv));
        double m = -1e300;
        for (int64_t t = 0; t < n_kv; ++t) {
            double d = 0.0;
            for (int64_t i = 0; i < c.dk; ++i) d += double(q[h * c.dk + i]) * double(k[t * k_stride + ko + i]);
            s[t] = double(scale) * d;
            m = std::max(m, s[t]);
        }
        double sum = 0.0;
        for (auto& x : s) sum += (x = std::exp(x - m));
        for (int64_t t = 0; t < n_kv; ++t)
            for (int64_t i = 0; i < c.dv; ++i) out[h * c.dv + i] += s[t] / sum * double(v[t * v_stride + vo + i]);
    }
    return out;
}

std::vector<float> run(moe::cpu::ThreadPool& pool, const Case& c, const std::vector<float>& q,
                       const std::vector<float>& k, const std::vector<float>& v, bool f16, int32_t pos, float scale) {
    std::vector<float> out(static_cast<size_t>(c.n_head * c.dv), -7.0f);
    std::vector<uint16_t> k16(k.size()), v16(v.size());
    for (size_t i = 0; i < k.size(); ++i) k16[i] = moe::fp32_to_fp16(k[i]);
    for (size_t i = 0; i < v.size(); ++i) v16[i] = moe::fp32_to_fp16(v[i]);
    if (c.mla) {
        moe::MlaAttentionArgs a;
        a.n_tokens = 1;
        a.n_head = c.n_head;
        a.kv_lora = c.dv;
        a.n_rope = c.dk - c.dv;
        a.q = q.data();
        if (f16)
            a.cache_f16 = k16.data();
        else
            a.cache = k.data();
        a.pos = &pos;
        a.kq_scale = scale;
        a.out = out.data();
        REQUIRE_OK(moe::cpu::mla_attention(pool, a));
    } else {
        moe::MhaAttentionArgs a;
        a.n_tokens = 1;
        a.n_head = c.n_head;
        a.n_head_kv = c.n_head_kv;
        a.head_dim_k = c.dk;
        a.head_dim_v = c.dv;
        a.q = q.data();
        if (f16) {
            a.k_f16 = k16.data();
            a.v_f16 = v16.data();
        } else {
            a.k = k.data();
            a.v = v.data();
        }
        a.pos = &pos;
        a.kq_scale = scale;
        a.out = out.data();
        REQUIRE_OK(moe::cpu::mha_attention(pool, a));
    }
    return out;
}

}  // namespace

MOE_TEST(decode_attention_matches_reference_short_and_long_contexts) {
    const Case cases[] = {
        {16, 1, 160, 128, true},  // MLA, four-head tiles
        {6, 1, 96, 64, true},     // MLA, a tile and the generic rest
        {8, 2, 64, 64, false},    // grouped-query (four heads per kv head)
        {8, 2, 44, 20, false},    // the same with an 8-column step, a scalar tail and a values tail
        {3, 3, 40, 24, false},    // plain multi-head, widths that are no multiple of 8
    };
    moe::cpu::ThreadPool p1(1), p3(3);
    std::mt19937 rng(5);
    std::normal_distribution<float> nd(0.0f, 1.0f);
    for (const Case& c : cases) {
        const int64_t n_ctx = 1100;
        const int64_t k_stride = c.mla ? c.dk : c.n_head_kv * c.dk, v_stride = c.mla ? c.dk : c.n_head_kv * c.dv;
        std::vector<float> q(static_cast<size_t>(c.n_head * c.dk)), k(static_cast<size_t>(n_ctx * k_stride)),
            v(static_cast<size_t>(n_ctx * v_stride));
        for (auto& x : q) x = nd(rng);
        for (auto& x : k) x = nd(rng);
        for (auto& x : v) x = nd(rng);
        if (c.mla) v = k;  // the values are the latent part of the same rows
        const float scale = 1.0f / std::sqrt(static_cast<float>(c.dk));
        for (bool f16 : {false, true}) {
            std::vector<float> kr = k, vr = v;
            if (f16) {
                for (auto& x : kr) x = moe::fp16_to_fp32(moe::fp32_to_fp16(x));
                for (auto& x : vr) x = moe::fp16_to_fp32(moe::fp32_to_fp16(x));
            }
            // One softmax (<= 256 keys), one key past it, and several chunks with a short last one.
            for (int32_t pos : {0, 100, 255, 256, 700, 1099}) {
                const std::vector<float> y1 = run(p1, c, q, k, v, f16, pos, scale);
                const std::vector<float> y3 = run(p3, c, q, k, v, f16, pos, scale);
                CHECK(std::memcmp(y1.data(), y3.data(), y1.size() * sizeof(float)) == 0);
                const std::vector<double> want = reference(c, q, kr, vr, k_stride, v_stride, pos + 1, scale);
                double worst = 0.0;
                for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(y1[i] - want[i]));
                CHECK_NEAR(worst, 0.0, 2e-5);
            }
        }
    }
}
