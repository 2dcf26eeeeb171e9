// The CPU mixture-of-experts FFN (moe_ffn) against a loop of single products, its decode split between threads
// (the bits of one thread), and the one-region router + routing + FFN of decode (moe_routed) against the separate
// ops.
#include "backend/backend.h"
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "cpu_test_weights.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

using namespace moe;
using namespace moe::cpu;
using namespace moe_test::cpu_weights;

namespace {
constexpr double kRelTol = 1e-5;
}  // namespace

namespace {

// The naive MoE: per token and selection, three single-token matmuls and the weighted sum.
void naive_moe(ThreadPool& pool, const std::vector<SwigluWeights>& ex, const float* x, int64_t n_tokens, int64_t n_embd,
               int64_t k, const int32_t* ids, const float* wts, std::vector<double>& y, std::vector<double>& mag) {
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t j = 0; j < k; ++j) {
            const SwigluWeights& e = ex[ids[t * k + j]];
            const int64_t n_ff = e.gate.rows;
            std::vector<float> g(n_ff), u(n_ff), d(n_embd);
            REQUIRE_OK(matmul(pool, e.gate, x + t * n_embd, n_embd, 1, g.data(), n_ff));
            REQUIRE_OK(matmul(pool, e.up, x + t * n_embd, n_embd, 1, u.data(), n_ff));
            for (int64_t i = 0; i < n_ff; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            REQUIRE_OK(matmul(pool, e.down, g.data(), n_ff, 1, d.data(), n_embd));
            for (int64_t c = 0; c < n_embd; ++c) {
                y[t * n_embd + c] += static_cast<double>(wts[t * k + j]) * d[c];
                mag[t * n_embd + c] += std::fabs(static_cast<double>(wts[t * k + j]) * d[c]);
            }
        }
}

// The same sum with each expert's tokens gathered and multiplied together through the public matmul (the
// products then take the same dot or GEMM path as moe_ffn's, so re-quantized intermediates agree).
void grouped_moe(ThreadPool& pool, const std::vector<SwigluWeights>& ex, const float* x, int64_t n_tokens,
                 int64_t n_embd, int64_t k, const int32_t* ids, const float* wts, std::vector<double>& y,
                 std::vector<double>& mag) {
    for (size_t e = 0; e < ex.size(); ++e) {
        std::vector<int64_t> sel;
        for (int64_t i = 0; i < n_tokens * k; ++i)
            if (ids[i] == static_cast<int32_t>(e)) sel.push_back(i);
        if (sel.empty()) continue;
        const int64_t cnt = static_cast<int64_t>(sel.size()), n_ff = ex[e].gate.rows;
        std::vector<float> xe(cnt * n_embd), g(cnt * n_ff), u(cnt * n_ff), d(cnt * n_embd);
        for (int64_t i = 0; i < cnt; ++i)
            std::copy(x + sel[i] / k * n_embd, x + (sel[i] / k + 1) * n_embd, xe.begin() + i * n_embd);
        REQUIRE_OK(matmul(pool, ex[e].gate, xe.data(), n_embd, cnt, g.data(), n_ff));
        REQUIRE_OK(matmul(pool, ex[e].up, xe.data(), n_embd, cnt, u.data(), n_ff));
        for (int64_t i = 0; i < cnt * n_ff; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
        REQUIRE_OK(matmul(pool, ex[e].down, g.data(), n_ff, cnt, d.data(), n_embd));
        for (int64_t i = 0; i < cnt; ++i)
            for (int64_t c = 0; c < n_embd; ++c) {
                const double v = static_cast<double>(wts[sel[i]]) * d[i * n_embd + c];
                y[sel[i] / k * n_embd + c] += v;
                mag[sel[i] / k * n_embd + c] += std::fabs(v);
            }
    }
}

// n_routed experts of n_ff and, last, a shared FFN of 2 n_ff, all of one type.
struct ExpertSet {
    std::vector<Weights> store;
    std::vector<SwigluWeights> ex;
    ExpertSet(const TypeDesc& t, int64_t n_routed, int64_t n_embd, int64_t n_ff, std::mt19937& rng) {
        for (int64_t e = 0; e <= n_routed; ++e) {
            const int64_t ff = e == n_routed ? 2 * n_ff : n_ff;
            store.push_back(make_weights(t, ff, n_embd, rng));
            store.push_back(make_weights(t, ff, n_embd, rng));
            store.push_back(make_weights(t, n_embd, ff, rng));
        }
        for (int64_t e = 0; e <= n_routed; ++e)
            ex.push_back({store[3 * e].view, store[3 * e + 1].view, store[3 * e + 2].view});
    }
};

}  // namespace

MOE_TEST(moe_ffn_matches_naive_loop) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(21);
    const int64_t n_embd = 256, n_ff = 256, n_experts = 5;  // expert 4 is never picked
    std::vector<Weights> store;
    std::vector<SwigluWeights> ex;
    const int type_sets[][3] = {{10, 10, 12}, {3, 3, 3}, {1, 1, 1}, {0, 0, 0}, {10, 3, 12}};  // gate, up, down
    for (int64_t e = 0; e < n_experts; ++e) {
        Weights g = make_weights(all_types()[type_sets[e][0]], n_ff, n_embd, rng);
        Weights u = make_weights(all_types()[type_sets[e][1]], n_ff, n_embd, rng);
        Weights d = make_weights(all_types()[type_sets[e][2]], n_embd, n_ff, rng);
        store.push_back(std::move(g));
        store.push_back(std::move(u));
        store.push_back(std::move(d));
    }
    for (int64_t e = 0; e < n_experts; ++e)
        ex.push_back({store[3 * e].view, store[3 * e + 1].view, store[3 * e + 2].view});
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        for (int64_t k = 1; k <= 6; ++k)
            for (int64_t n_tokens : {1, 3, 40}) {
                if (k > 1 && k < 6 && n_tokens == 40 && k != 4) continue;
                std::vector<float> x = random_x(n_tokens * n_embd, rng);
                std::vector<int32_t> ids(n_tokens * k);
                std::vector<float> wts(n_tokens * k);
                for (auto& i : ids) i = static_cast<int32_t>(rng() % (n_experts - 1));  // repeats across tokens
                for (auto& w : wts) w = std::uniform_real_distribution<float>(0.05f, 1.0f)(rng);
                std::vector<float> y0 = random_x(n_tokens * n_embd, rng);  // moe_ffn accumulates into y
                std::vector<double> ref(y0.begin(), y0.end()), mag(ref.size(), 0.0);
                for (size_t i = 0; i < ref.size(); ++i) mag[i] = std::fabs(ref[i]);
                // An expert picked >= 24 times runs its products as GEMMs, whose gate/up outputs differ from
                // single-token dots by float rounding; re-quantizing h for the down product can then move an
                // element by a whole quantum. Such cases are checked against the grouped form of the loop.
                std::vector<int> count(n_experts, 0);
                for (int32_t i : ids) ++count[i];
                if (*std::max_element(count.begin(), count.end()) >= 24)
                    grouped_moe(p1, ex, x.data(), n_tokens, n_embd, k, ids.data(), wts.data(), ref, mag);
                else
                    naive_moe(p1, ex, x.data(), n_tokens, n_embd, k, ids.data(), wts.data(), ref, mag);
                std::vector<float> y1 = y0, y2 = y0;
                REQUIRE_OK(moe_ffn(p1, ex, x.data(), n_tokens, n_embd, k, ids.data(), wts.data(), y1.data()));
                REQUIRE_OK(moe_ffn(p2, ex, x.data(), n_tokens, n_embd, k, ids.data(), wts.data(), y2.data()));
                CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
                const double tol = kRelTol;
                int bad = 0;
                for (size_t i = 0; i < ref.size(); ++i)
                    if (!(std::fabs(y1[i] - ref[i]) <= tol * mag[i]) && bad++ < 3)
                        moe_test::report_failure(__FILE__, __LINE__,
                                                 "moe k=" + std::to_string(k) + " tokens=" + std::to_string(n_tokens) +
                                                     " i=" + std::to_string(i) + ": " + std::to_string(y1[i]) + " vs " +
                                                     std::to_string(ref[i]));
            }
    }
}

// Decode with six routed experts and a shared FFN of twice their size, and a dense FFN alone (k = 1): each thread
// takes the selections inside its share of the weight bytes whole, and the selections cut by a boundary (or
// ending on one) are taken in row chunks by the threads that reach them, down to several threads per selection
// (8 threads, a single FFN on 3 or 8); every thread count gives the bits of one thread.
MOE_TEST(moe_ffn_decode_whole_selections_keep_the_bits) {
    std::mt19937 rng(5);
    const int64_t n_embd = 256, n_ff = 128, n_routed = 9;
    for (int type : {3, 1}) {  // Q8_0, F16
        const ExpertSet set(all_types()[type], n_routed, n_embd, n_ff, rng);
        const std::vector<SwigluWeights>& ex = set.ex;
        for (bool simd : simd_modes()) {
            SimdGuard guard(simd);
            const int32_t ids[] = {7, 2, 5, 0, 8, 3, static_cast<int32_t>(n_routed)};
            const float wts[] = {0.3f, 0.2f, 0.15f, 0.1f, 0.1f, 0.05f, 1.0f};
            const std::vector<float> x = random_x(n_embd, rng), y0 = random_x(n_embd, rng);
            std::vector<std::vector<float>> ys;
            for (int threads : {1, 2, 3, 4, 8}) {
                ThreadPool pool(threads);
                ys.push_back(y0);
                REQUIRE_OK(moe_ffn(pool, ex, x.data(), 1, n_embd, 7, ids, wts, ys.back().data()));
                ys.push_back(y0);
                REQUIRE_OK(moe_ffn(pool, ex, x.data(), 1, n_embd, 1, ids + 6, wts + 6, ys.back().data()));
            }
            for (size_t i = 2; i < ys.size(); ++i)
                CHECK(std::memcmp(ys[i % 2].data(), ys[i].data(), n_embd * sizeof(float)) == 0);
            CHECK(std::memcmp(ys[0].data(), ys[1].data(), n_embd * sizeof(float)) != 0);
            ThreadPool p1(1);
            for (int64_t k : {7, 1}) {
                const int64_t first = k == 7 ? 0 : 6;
                std::vector<double> ref(y0.begin(), y0.end()), mag(ref.size(), 0.0);
                for (size_t i = 0; i < ref.size(); ++i) mag[i] = std::fabs(ref[i]);
                naive_moe(p1, ex, x.data(), 1, n_embd, k, ids + first, wts + first, ref, mag);
                const std::vector<float>& y = ys[k == 7 ? 0 : 1];
                for (int64_t i = 0; i < n_embd; ++i) CHECK(std::fabs(y[i] - ref[i]) <= kRelTol * mag[i]);
            }
        }
    }
}

MOE_TEST(moe_ffn_errors_name_the_expert) {
    ThreadPool pool(2);
    std::vector<uint8_t> data(4096, 0);
    float x[512] = {}, y[512] = {};
    MatrixView ok{GgmlType::F32, data.data(), 8, 2, 32};
    Status s;
    std::vector<SwigluWeights> ex = {{ok, ok, ok}};
    const int32_t ids[1] = {3};
    const float w[1] = {1.0f};
    s = moe_ffn(pool, ex, x, 1, 8, 1, ids, w, y);
    CHECK(!s.ok() && s.message().find("expert id 3") != std::string::npos);
    const int32_t id0[1] = {0};
    s = moe_ffn(pool, ex, x, 1, 8, 1, id0, w, y);  // down 8 -> 2 rows is not n_embd
    CHECK(!s.ok() && s.message().find("expert 0") != std::string::npos);
}

// Decode's one-region router + routing + FFN (the CPU backend's moe_routed) against Backend's default (matmul,
// route, moe_ffn): the same logits, routing and output bits for 1-8 threads, softmax and grouped sigmoid routing,
// with a shared FFN (computed first by the last thread while the first routes, up to 4 threads here; with 8 it is
// more than a thread's share and stays in the plan) and without one.
MOE_TEST(moe_routed_decode_matches_the_separate_ops) {
    std::mt19937 rng(17);
    const int64_t n_embd = 256, n_ff = 128, n_routed = 16, k = 6;
    std::vector<std::unique_ptr<Backend>> backends;
    for (int threads : {1, 2, 3, 4, 8}) backends.push_back(make_cpu_backend(threads));
    const Weights router = make_weights(all_types()[0], n_routed, n_embd, rng);
    const std::vector<float> bias = random_x(n_routed, rng);
    for (int type : {3, 1}) {  // Q8_0, F16
        const ExpertSet set(all_types()[type], n_routed, n_embd, n_ff, rng);
        const std::vector<SwigluWeights>& ex = set.ex;
        for (bool sigmoid : {false, true})
            for (bool shared : {true, false}) {
                const std::vector<float> x = random_x(n_embd, rng);
                MoeRoutedArgs a;
                a.router = router.view;
                a.expert_bias = sigmoid ? bias.data() : nullptr;
                a.route.n_expert = n_routed;
                a.route.k = k;
                a.route.sigmoid = sigmoid;
                if (sigmoid) {
                    a.route.n_group = 4;
                    a.route.n_group_used = 2;
                    a.route.group_top2_sum = true;
                    a.route.norm = true;
                    a.route.scale = 2.5f;
                }
                a.shared = shared;
                a.experts = shared ? std::span<const SwigluWeights>(ex)
                                   : std::span<const SwigluWeights>(ex.data(), static_cast<size_t>(n_routed));
                a.x = x.data();
                a.n_tokens = 1;
                a.n_embd = n_embd;
                std::vector<int32_t> ids_all(k + 1);
                std::vector<float> w_all(k + 1);
                a.ids_all = ids_all.data();
                a.weights_all = w_all.data();
                std::vector<float> logits[6], y[6], w[6];
                std::vector<int32_t> ids[6];
                // First a decoy: one thread, another x, which leaves other values in the plan's scratch (the
                // threads must not read a shared FFN output they did not write this call).
                const std::vector<float> decoy = random_x(n_embd, rng);
                std::vector<float> dl(n_routed), dy(n_embd), dw(k);
                std::vector<int32_t> di(k);
                a.x = decoy.data();
                a.logits = dl.data();
                a.y = dy.data();
                a.weights = dw.data();
                a.ids = di.data();
                REQUIRE_OK(backends[0]->moe_routed(a));
                a.x = x.data();
                for (size_t v : {1, 2, 3, 4, 0, 5}) {
                    logits[v].assign(n_routed, -1.0f);
                    y[v].assign(n_embd, -1.0f);
                    w[v].assign(k, -1.0f);
                    ids[v].assign(k, -1);
                    a.logits = logits[v].data();
                    a.y = y[v].data();
                    a.weights = w[v].data();
                    a.ids = ids[v].data();
                    REQUIRE_OK(v == 5 ? backends[1]->Backend::moe_routed(a) : backends[v]->moe_routed(a));
                }
                for (size_t v = 0; v < 5; ++v) {
                    const std::string what = std::string(type == 3 ? "q8_0" : "f16") + (sigmoid ? " sigmoid" : "") +
                                             (shared ? " shared" : "") + " backend " + std::to_string(v);
                    CHECK_MSG(std::memcmp(logits[v].data(), logits[5].data(), n_routed * sizeof(float)) == 0, what);
                    CHECK_MSG(ids[v] == ids[5], what);
                    CHECK_MSG(std::memcmp(w[v].data(), w[5].data(), k * sizeof(float)) == 0, what);
                    CHECK_MSG(std::memcmp(y[v].data(), y[5].data(), n_embd * sizeof(float)) == 0, what);
                }
            }
        // Errors name what is wrong: the shared FFN's shape (found before the region) and a selected routed
        // expert's (every routed expert here), a router that is not [n_routed x n_embd].
        std::vector<SwigluWeights> bad = ex;
        bad.back().down = ex[0].down;  // n_ff 128 where the shared FFN has 256
        const std::vector<float> x = random_x(n_embd, rng);
        std::vector<float> logits(n_routed), y(n_embd), w(k), w_all(k + 1);
        std::vector<int32_t> ids(k), ids_all(k + 1);
        MoeRoutedArgs a;
        a.router = router.view;
        a.route.n_expert = n_routed;
        a.route.k = k;
        a.shared = true;
        a.experts = bad;
        a.x = x.data();
        a.n_tokens = 1;
        a.n_embd = n_embd;
        a.logits = logits.data();
        a.y = y.data();
        a.weights = w.data();
        a.ids = ids.data();
        a.ids_all = ids_all.data();
        a.weights_all = w_all.data();
        for (size_t v : {0, 1}) {
            const Status s = backends[v]->moe_routed(a);
            CHECK_MSG(!s.ok() && s.message().find("expert 16") != std::string::npos, s.message());
        }
        bad = ex;
        for (int64_t e = 0; e < n_routed; ++e) std::swap(bad[e].gate, bad[e].down);
        a.experts = bad;
        for (size_t v : {0, 1}) {
            const Status s = backends[v]->moe_routed(a);
            CHECK_MSG(!s.ok() && s.message().find("expert") != std::string::npos &&
                          s.message().find("shapes") != std::string::npos,
                      s.message());
        }
        a.experts = ex;
        a.route.n_expert = n_routed - 1;
        const Status s = backends[1]->moe_routed(a);
        CHECK_MSG(!s.ok() && s.message().find("router") != std::string::npos, s.message());
    }
}
