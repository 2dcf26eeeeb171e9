// Every CUDA op against the CPU reference on fresh random inputs of several shapes (odd sizes included), with
// tolerances that know the precision (STYLE habit 5): the few-token products use the CPU's activation rounding
// and differ only in float summation order (error bound 2e-5 of sum |w x|); the cuBLAS path converts the rounded
// activation and the dequantized weights to fp16/bf16 (bound 4e-3 / 1.6e-2 of sum |w x|); attention, norms,
// RoPE and routing are float32 on both sides. No CUDA device: every test skips (exit 77) with the reason.
#include "check.h"

#include "activation.h"
#include "cuda_backend.h"
#include "elementwise.h"
#include "moe_routing.h"

#include "backend/backend.h"
#include "core/half.h"
#include "formats/ggml_type.h"
#include "formats/quants.h"
#include "model/moe_routing.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace moe;

std::mt19937& rng() {
    static std::mt19937 g(std::random_device{}());
    return g;
}
std::vector<float> randn(int64_t n, float scale = 1.0f) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng());
    return v;
}

// The CUDA backend for this process, or a skip with the reason ("no CUDA device: ...").
Backend& gpu() {
    static std::unique_ptr<Backend> b;
    static std::string why;
    if (!b && why.empty()) {
        auto r = cuda::make_cuda_backend(0);
        if (r.ok())
            b = std::move(r).value();
        else
            why = r.error();
    }
    if (!b) MOE_SKIP(why);
    return *b;
}
Backend& cpu() {
    static std::unique_ptr<Backend> b = make_cpu_backend(0);
    return *b;
}

// Device copies that live as long as the test.
struct Dev {
    std::vector<std::unique_ptr<Buffer>> bufs;
    template <class T>
    T* put(const std::vector<T>& host) {
        auto r = gpu().alloc(std::max<uint64_t>(host.size() * sizeof(T), 4));
        if (!r.ok()) throw moe_test::AbortTest{};
        bufs.push_back(std::move(r).value());
        if (!host.empty() && !gpu().upload(bufs.back()->data(), host.data(), host.size() * sizeof(T)).ok())
            throw moe_test::AbortTest{};
        return static_cast<T*>(bufs.back()->data());
    }
    template <class T>
    std::vector<T> get(const T* dev, size_t n) {
        std::vector<T> out(n);
        REQUIRE(cudaDeviceSynchronize() == cudaSuccess);  // kernels launched on the default stream too
        REQUIRE_OK(gpu().synchronize());
        REQUIRE_OK(gpu().download(out.data(), dev, n * sizeof(T)));
        return out;
    }
};

// A random matrix in `type`: weights ~ N(0, 1/sqrt(cols)); types without a quantizer get random blocks with
// bounded scales. FP8 gets random e4m3 bytes (no NaN) and random scales.
struct HostMatrix {
    GgmlType type;
    int64_t rows, cols;
    uint64_t row_bytes;
    std::vector<uint8_t> bytes;
    std::vector<uint8_t> scales;  // FP8 only
    int64_t scale_cols = 0;
    MatrixView view(const uint8_t* data, const uint8_t* sc) const {
        MatrixView v{type, data, cols, rows, row_bytes};
        if (type == GgmlType::F8_E4M3_B128) v.block_scales = sc, v.scale_cols = scale_cols;
        return v;
    }
};

HostMatrix random_matrix(GgmlType type, int64_t rows, int64_t cols) {
    HostMatrix m{type, rows, cols, 0, {}, {}, 0};
    const float s = 1.0f / std::sqrt(float(cols));
    if (type == GgmlType::F8_E4M3_B128) {
        m.row_bytes = uint64_t(cols);
        m.bytes.resize(uint64_t(rows) * cols);
        std::uniform_int_distribution<int> b(0, 255);
        for (uint8_t& x : m.bytes) {
            x = uint8_t(b(rng()));
            if ((x & 0x7f) == 0x7f) x = 0x3c;
        }
        m.scale_cols = (cols + 127) / 128;
        std::vector<float> sc = randn(((rows + 127) / 128) * m.scale_cols, 0.01f);
        for (float& v : sc) v = std::fabs(v) + 1e-3f;
        m.scales.resize(sc.size() * 4);
        std::memcpy(m.scales.data(), sc.data(), m.scales.size());
        return m;
    }
    m.row_bytes = *ggml_bytes(type, uint64_t(cols));
    m.bytes.resize(m.row_bytes * uint64_t(rows));
    if (type == GgmlType::Q5_K) {
        // No Q5_K quantizer: random quants and scales, fp16 d / dmin of the weight scale.
        std::uniform_int_distribution<int> b(0, 255);
        for (uint8_t& x : m.bytes) x = uint8_t(b(rng()));
        for (int64_t blk = 0; blk < rows * cols / 256; ++blk) {
            uint8_t* p = m.bytes.data() + 176 * blk;
            const uint16_t d = fp32_to_fp16(s / 32.0f), dmin = fp32_to_fp16(s / 16.0f);
            std::memcpy(p, &d, 2);
            std::memcpy(p + 2, &dmin, 2);
        }
        return m;
    }
    for (int64_t r = 0; r < rows; ++r) {
        const std::vector<float> w = randn(cols, s);
        if (!quantize_row(type, w.data(), m.bytes.data() + uint64_t(r) * m.row_bytes, cols).ok())
            throw moe_test::AbortTest{};
    }
    return m;
}

// |a - b| <= tol * bound + 1e-6 element-wise, bound[i] = sum |w x| of that output (or 1).
void check_close(const std::vector<float>& got, const std::vector<float>& want, const std::vector<float>& bound,
                 double tol, const std::string& what) {
    REQUIRE(got.size() == want.size());
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double b = bound.empty() ? 1.0 : bound[i];
        const double e = std::fabs(double(got[i]) - double(want[i])) / (b + 1e-30);
        if (!(e <= worst)) worst = e, at = i;
    }
    if (!(worst <= tol))
        moe_test::report_failure(__FILE__, __LINE__,
                                 what + ": error " + std::to_string(worst) + " of the bound at " + std::to_string(at) +
                                     " (got " + std::to_string(got[at]) + ", want " + std::to_string(want[at]) + ")");
}

// sum_c |W[r][c] x[t][c]| for every output, from the CPU's dequantized rows.
std::vector<float> abs_bound(const HostMatrix& m, const std::vector<float>& x, int64_t xs, int64_t n, int64_t ys) {
    std::vector<float> wrow(static_cast<size_t>(m.cols)), out(static_cast<size_t>(n * ys), 1.0f);
    for (int64_t r = 0; r < m.rows; ++r) {
        if (m.type == GgmlType::F8_E4M3_B128) {
            std::vector<float> sr(static_cast<size_t>(m.scale_cols));
            std::memcpy(sr.data(), m.scales.data() + 4 * (r / 128) * m.scale_cols, sr.size() * 4);
            dequantize_fp8_row(m.bytes.data() + r * m.row_bytes, sr.data(), m.cols, wrow.data());
        } else if (!dequantize_row(m.type, m.bytes.data() + r * m.row_bytes, wrow.data(), m.cols).ok()) {
            throw moe_test::AbortTest{};
        }
        for (int64_t t = 0; t < n; ++t) {
            double s = 0;
            for (int64_t c = 0; c < m.cols; ++c) s += std::fabs(double(wrow[c]) * x[t * xs + c]);
            out[t * ys + r] = float(s);
        }
    }
    return out;
}

void check_matmul(GgmlType type, int64_t rows, int64_t cols, int64_t n, ActivationMode mode) {
    Backend& g = gpu();
    const HostMatrix m = random_matrix(type, rows, cols);
    const int64_t xs = cols + 3, ys = rows + 1;
    const std::vector<float> x = randn(n * xs);
    Dev d;
    const MatrixView dv = m.view(d.put(m.bytes), m.scales.empty() ? nullptr : d.put(m.scales));
    float* dy = d.put(std::vector<float>(static_cast<size_t>(n * ys), 0.0f));
    REQUIRE_OK(g.matmul(dv, d.put(x), xs, n, dy, ys, mode));
    std::vector<float> got = d.get(dy, size_t(n * ys)), want(static_cast<size_t>(n * ys), 0.0f);
    REQUIRE_OK(cpu().matmul(m.view(m.bytes.data(), m.scales.data()), x.data(), xs, n, want.data(), ys, mode));
    // Few tokens: same rounding, other summation order. More: fp16 (bf16 for BF16) tiles through cuBLAS.
    const double tol = n <= 8 ? 2e-5 : type == GgmlType::BF16 ? 1.6e-2 : type == GgmlType::F32 ? 2e-5 : 4e-3;
    check_close(got, want, abs_bound(m, x, xs, n, ys), tol,
                std::string("matmul ") + ggml_type_name(type) + " " + std::to_string(rows) + "x" +
                    std::to_string(cols) + " n=" + std::to_string(n) +
                    (mode == ActivationMode::Native ? " native" : " float"));
}

const GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,        GgmlType::Q4_0,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::F8_E4M3_B128};

bool element_type(GgmlType t) {
    return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16 || t == GgmlType::F8_E4M3_B128;
}

MOE_TEST(matmul_every_type_against_cpu) {
    for (GgmlType t : kTypes) {
        const int64_t blk = element_type(t) ? 1 : (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) ? 32 : 256;
        // Odd widths for the element types; rows never a multiple of the 16 rows a block computes.
        const int64_t cols[] = {element_type(t) ? 301 : 3 * blk, element_type(t) ? 2048 : 8 * blk};
        for (int64_t c : cols)
            for (int64_t n : {1, 3, 8, 13})
                for (ActivationMode mode : {ActivationMode::Native, ActivationMode::Float})
                    check_matmul(t, 37, c, n, mode);
    }
}

MOE_TEST(matmul_large_prompt_batch) {
    for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::BF16})
        check_matmul(t, 1000, 2048, 70, ActivationMode::Native);
}

MOE_TEST(matmul_transposed_against_cpu) {
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0}) {
        const HostMatrix m = random_matrix(t, 45, t == GgmlType::Q8_0 ? 96 : 77);
        for (int64_t n : {1, 5}) {
            const int64_t xs = m.rows + 2, ys = m.cols + 1;
            const std::vector<float> x = randn(n * xs);
            Dev d;
            float* dy = d.put(std::vector<float>(static_cast<size_t>(n * ys), 0.0f));
            REQUIRE_OK(gpu().matmul_transposed(m.view(d.put(m.bytes), nullptr), d.put(x), xs, n, dy, ys));
            std::vector<float> want(static_cast<size_t>(n * ys), 0.0f);
            REQUIRE_OK(cpu().matmul_transposed(m.view(m.bytes.data(), nullptr), x.data(), xs, n, want.data(), ys));
            check_close(d.get(dy, size_t(n * ys)), want, {}, 1e-4,
                        std::string("matmul_transposed ") + ggml_type_name(t));
        }
    }
}

MOE_TEST(shapes_are_checked_not_crashed) {
    Backend& g = gpu();
    const HostMatrix m = random_matrix(GgmlType::Q8_0, 4, 64);
    Dev d;
    MatrixView bad = m.view(d.put(m.bytes), nullptr);
    bad.cols = 50;  // not whole Q8_0 blocks
    float* x = d.put(std::vector<float>(64, 1.0f));
    float* y = d.put(std::vector<float>(4, 0.0f));
    CHECK(!g.matmul(bad, x, 64, 1, y, 4).ok());
    MatrixView q3 = m.view(d.put(m.bytes), nullptr);
    q3.type = GgmlType::Q3_K;
    CHECK(!g.matmul(q3, x, 64, 1, y, 4).ok());
    CHECK(!g.supports(Op::Matmul, GgmlType::Q3_K));
    CHECK(g.supports(Op::Matmul, GgmlType::Q6_K));
}

void check_moe(GgmlType routed, GgmlType shared, int64_t n) {
    const int64_t n_embd = 512, n_ff = 256, n_exp = 6, k = 3;
    std::vector<HostMatrix> mats;
    for (int64_t e = 0; e <= n_exp; ++e) {
        const GgmlType t = e == n_exp ? shared : routed;
        const int64_t ff = e == n_exp ? 2 * n_ff : n_ff;
        mats.push_back(random_matrix(t, ff, n_embd));
        mats.push_back(random_matrix(t, ff, n_embd));
        mats.push_back(random_matrix(t, n_embd, ff));
    }
    Dev d;
    std::vector<SwigluWeights> host(static_cast<size_t>(n_exp + 1)), dev(static_cast<size_t>(n_exp + 1));
    for (int64_t e = 0; e <= n_exp; ++e) {
        const HostMatrix* m = &mats[static_cast<size_t>(3 * e)];
        host[e] = {m[0].view(m[0].bytes.data(), nullptr), m[1].view(m[1].bytes.data(), nullptr),
                   m[2].view(m[2].bytes.data(), nullptr)};
        dev[e] = {m[0].view(d.put(m[0].bytes), nullptr), m[1].view(d.put(m[1].bytes), nullptr),
                  m[2].view(d.put(m[2].bytes), nullptr)};
    }
    // Each token: k - 1 distinct routed experts and the shared one (id n_exp), as moe_ffn_block calls it.
    std::vector<int32_t> ids;
    std::vector<float> w;
    for (int64_t t = 0; t < n; ++t) {
        std::vector<int32_t> perm(static_cast<size_t>(n_exp));
        for (int64_t e = 0; e < n_exp; ++e) perm[e] = int32_t(e);
        std::shuffle(perm.begin(), perm.end(), rng());
        for (int64_t j = 0; j < k - 1; ++j) ids.push_back(perm[j]), w.push_back(0.2f + 0.1f * float(j));
        ids.push_back(int32_t(n_exp));
        w.push_back(1.0f);
    }
    const std::vector<float> x = randn(n * n_embd), y0 = randn(n * n_embd, 0.1f);
    float* dy = d.put(y0);
    REQUIRE_OK(gpu().moe_ffn(dev, d.put(x), n, n_embd, k, d.put(ids), d.put(w), dy));
    std::vector<float> want = y0;
    REQUIRE_OK(cpu().moe_ffn(host, x.data(), n, n_embd, k, ids.data(), w.data(), want.data()));
    std::vector<float> bound(want.size());
    for (size_t i = 0; i < want.size(); ++i) bound[i] = 1.0f;  // outputs are O(1)
    const bool gemm = n > 8;
    check_close(
        d.get(dy, want.size()), want, bound, gemm ? 2e-2 : 1e-4,
        std::string("moe_ffn ") + ggml_type_name(routed) + "+" + ggml_type_name(shared) + " n=" + std::to_string(n));
}

MOE_TEST(moe_ffn_slots_and_grouped_against_cpu) {
    for (int64_t n : {1, 3, 4, 5, 17}) {
        check_moe(GgmlType::Q8_0, GgmlType::F16, n);
        check_moe(GgmlType::Q4_K, GgmlType::Q6_K, n);
        check_moe(GgmlType::BF16, GgmlType::BF16, n);
    }
}

MOE_TEST(rms_norm_against_cpu) {
    for (int64_t width : {7, 513, 2048})
        for (int64_t n : {1, 6}) {
            const int64_t xs = width + 5;
            const std::vector<float> x = randn(n * xs, 3.0f), w = randn(width);
            Dev d;
            float* dy = d.put(std::vector<float>(static_cast<size_t>(n * xs), 0.0f));
            REQUIRE_OK(gpu().rms_norm(d.put(x), xs, d.put(w), width, n, 1e-6f, dy, xs));
            std::vector<float> want(static_cast<size_t>(n * xs), 0.0f);
            REQUIRE_OK(cpu().rms_norm(x.data(), xs, w.data(), width, n, 1e-6f, want.data(), xs));
            check_close(d.get(dy, want.size()), want, {}, 2e-6 * 10, "rms_norm width " + std::to_string(width));
        }
}

MOE_TEST(rope_yarn_against_cpu) {
    for (bool interleaved : {true, false})
        for (bool yarn : {false, true}) {
            RopeParams p;
            p.n_rot = 64;
            p.interleaved = interleaved;
            p.yarn = yarn;
            p.yarn_factor = 40;
            p.yarn_original_ctx = 4096;
            p.magnitude = yarn ? 1.1 : 1.0;
            const std::vector<float> ff = randn(32, 0.1f);
            std::vector<float> ffp(32);
            for (int i = 0; i < 32; ++i) ffp[i] = 1.0f + std::fabs(ff[i]);
            const int64_t n = 5, heads = 3, hs = 96, xs = heads * hs + 4;
            std::vector<int32_t> pos = {0, 1, 17, 4095, 160000};
            const std::vector<float> x = randn(n * xs);
            for (bool factors : {false, true}) {
                p.freq_factors = factors ? ffp.data() : nullptr;
                Dev d;
                float* dx = d.put(x);
                REQUIRE_OK(gpu().rope(dx, xs, n, heads, hs, d.put(pos), p));
                std::vector<float> want = x;
                REQUIRE_OK(cpu().rope(want.data(), xs, n, heads, hs, pos.data(), p));
                check_close(d.get(dx, want.size()), want, {}, 2e-5, "rope");
            }
        }
}

MOE_TEST(mla_attention_against_cpu) {
    for (bool f16 : {false, true})
        for (int64_t kvl : {64, 512})
            for (int64_t n : {1, 5}) {
                const int64_t H = 3, rope = kvl == 512 ? 64 : 16, row = kvl + rope, n_ctx = 37;
                const std::vector<float> q = randn(n * H * row, 0.2f), cache = randn(n_ctx * row);
                std::vector<uint16_t> cache16(cache.size());
                for (size_t i = 0; i < cache.size(); ++i) cache16[i] = fp32_to_fp16(cache[i]);
                std::vector<int32_t> pos;
                for (int64_t t = 0; t < n; ++t) pos.push_back(int32_t(n_ctx - n + t));
                Dev d;
                MlaAttentionArgs a;
                a.n_tokens = n, a.n_head = H, a.kv_lora = kvl, a.n_rope = rope, a.kq_scale = 0.1147f;
                a.q = d.put(q);
                if (f16)
                    a.cache_f16 = d.put(cache16);
                else
                    a.cache = d.put(cache);
                a.pos = d.put(pos);
                float* out = d.put(std::vector<float>(static_cast<size_t>(n * H * kvl), 0.0f));
                a.out = out;
                REQUIRE_OK(gpu().mla_attention(a));
                std::vector<float> want(static_cast<size_t>(n * H * kvl));
                MlaAttentionArgs c = a;
                c.q = q.data();
                c.cache = f16 ? nullptr : cache.data();
                c.cache_f16 = f16 ? cache16.data() : nullptr;
                c.pos = pos.data();
                c.out = want.data();
                REQUIRE_OK(cpu().mla_attention(c));
                check_close(d.get(out, want.size()), want, {}, 2e-5, "mla_attention kv_lora " + std::to_string(kvl));
            }
}

MOE_TEST(mha_attention_against_cpu) {
    for (bool f16 : {false, true})
        for (int64_t n : {1, 4}) {
            const int64_t H = 4, Hkv = 2, dk = 24, dv = 16, n_ctx = 29;
            const std::vector<float> q = randn(n * H * dk, 0.3f), k = randn(n_ctx * Hkv * dk),
                                     v = randn(n_ctx * Hkv * dv);
            std::vector<uint16_t> k16(k.size()), v16(v.size());
            for (size_t i = 0; i < k.size(); ++i) k16[i] = fp32_to_fp16(k[i]);
            for (size_t i = 0; i < v.size(); ++i) v16[i] = fp32_to_fp16(v[i]);
            std::vector<int32_t> pos;
            for (int64_t t = 0; t < n; ++t) pos.push_back(int32_t(n_ctx - n + t));
            Dev d;
            MhaAttentionArgs a;
            a.n_tokens = n, a.n_head = H, a.n_head_kv = Hkv, a.head_dim_k = dk, a.head_dim_v = dv, a.kq_scale = 0.2f;
            a.q = d.put(q);
            if (f16)
                a.k_f16 = d.put(k16), a.v_f16 = d.put(v16);
            else
                a.k = d.put(k), a.v = d.put(v);
            a.pos = d.put(pos);
            float* out = d.put(std::vector<float>(static_cast<size_t>(n * H * dv), 0.0f));
            a.out = out;
            REQUIRE_OK(gpu().mha_attention(a));
            std::vector<float> want(static_cast<size_t>(n * H * dv));
            MhaAttentionArgs c = a;
            c.q = q.data();
            c.k = f16 ? nullptr : k.data(), c.v = f16 ? nullptr : v.data();
            c.k_f16 = f16 ? k16.data() : nullptr, c.v_f16 = f16 ? v16.data() : nullptr;
            c.pos = pos.data();
            c.out = want.data();
            REQUIRE_OK(cpu().mha_attention(c));
            check_close(d.get(out, want.size()), want, {}, 2e-5, "mha_attention");
        }
}

void check_routing(HParams hp, bool with_bias, int64_t n) {
    const std::vector<float> logits = randn(n * hp.n_expert, 2.0f), bias = randn(hp.n_expert, 0.5f);
    const int64_t k = hp.n_expert_used;
    std::vector<int32_t> ids(static_cast<size_t>(n * k));
    std::vector<float> w(static_cast<size_t>(n * k));
    route_experts(hp, logits.data(), with_bias ? bias.data() : nullptr, n, ids.data(), w.data());
    cuda::RoutingParams p;
    p.n_expert = hp.n_expert, p.k = k, p.sigmoid = hp.gating == Gating::Sigmoid, p.n_group = hp.n_group;
    p.n_group_used = hp.n_group_used, p.group_top2_sum = with_bias || hp.topk_method == "noaux_tc";
    p.norm = hp.expert_weights_norm, p.scale = float(hp.expert_weights_scale);
    Backend& g = gpu();
    Dev d;
    int32_t* dids = d.put(std::vector<int32_t>(ids.size(), -1));
    float* dw = d.put(std::vector<float>(w.size(), 0.0f));
    REQUIRE_OK(cuda::route_experts(p, d.put(logits), with_bias ? d.put(bias) : nullptr, n, dids, dw, nullptr, nullptr));
    REQUIRE_OK(g.synchronize());
    CHECK(d.get(dids, ids.size()) == ids);
    check_close(d.get(dw, w.size()), w, {}, 1e-6, "routing weights");
}

MOE_TEST(routing_against_cpu) {
    HParams v2lite;  // softmax, greedy, no norm, scale 1
    v2lite.n_expert = 64, v2lite.n_expert_used = 6, v2lite.gating = Gating::Softmax, v2lite.n_group = 1;
    v2lite.n_group_used = 1, v2lite.expert_weights_norm = false, v2lite.expert_weights_scale = 1.0;
    check_routing(v2lite, false, 7);
    HParams v2 = v2lite;  // group-limited greedy, scale 16
    v2.n_expert = 160, v2.n_group = 8, v2.n_group_used = 3, v2.expert_weights_scale = 16.0;
    v2.topk_method = "group_limited_greedy";
    check_routing(v2, false, 5);
    HParams v3 = v2lite;  // sigmoid, bias, top-2-sum groups, norm then scale 2.5
    v3.n_expert = 256, v3.n_expert_used = 8, v3.gating = Gating::Sigmoid, v3.n_group = 8, v3.n_group_used = 4;
    v3.expert_weights_norm = true, v3.expert_weights_scale = 2.5, v3.topk_method = "noaux_tc",
    v3.has_expert_bias = true;
    check_routing(v3, true, 9);
}

MOE_TEST(embedding_rows_against_dequantize) {
    for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
        const HostMatrix m = random_matrix(t, 50, element_type(t) ? 100 : 256);
        const std::vector<int32_t> ids = {0, 49, 7, 7, 23};
        Dev d;
        float* out = d.put(std::vector<float>(ids.size() * m.cols, 0.0f));
        MatrixView v = m.view(d.put(m.bytes), nullptr);
        REQUIRE_OK(cuda::get_rows(cuda::weight_desc(v), d.put(ids), int64_t(ids.size()), out, m.cols, nullptr));
        std::vector<float> want(ids.size() * m.cols);
        for (size_t i = 0; i < ids.size(); ++i)
            REQUIRE_OK(dequantize_row(t, m.bytes.data() + ids[i] * m.row_bytes, want.data() + i * m.cols, m.cols));
        check_close(d.get(out, want.size()), want, {}, 1e-6, std::string("get_rows ") + ggml_type_name(t));
    }
}

MOE_TEST(add_and_swiglu) {
    const int64_t n = 1001;
    const std::vector<float> a = randn(n), b = randn(n, 4.0f);
    Dev d;
    float* da = d.put(a);
    REQUIRE_OK(gpu().add(da, d.put(b), n));
    std::vector<float> want(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) want[i] = a[i] + b[i];
    check_close(d.get(da, size_t(n)), want, {}, 0.0, "add");
    float* g = d.put(b);
    REQUIRE_OK(cuda::swiglu(g, d.put(a), n, n, 1, nullptr));
    for (int64_t i = 0; i < n; ++i) want[i] = b[i] / (1.0f + std::exp(-b[i])) * a[i];
    check_close(d.get(g, size_t(n)), want, {}, 1e-6, "swiglu");
}

}  // namespace

namespace {

// The steps between the products (Backend's embed / round_like / copy_rows / fill / add_bias / write_rows /
// route) against their host defaults, which the CPU backend runs.
MOE_TEST(forward_steps_against_cpu) {
    Backend& g = gpu();
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::F16, GgmlType::BF16, GgmlType::F32}) {
        const int64_t width = 512 + 7, stride = 530, n = 3;
        const std::vector<float> x = randn(n * stride, 2.0f);
        Dev d;
        float* dx = d.put(x);
        REQUIRE_OK(g.round_like(t, dx, stride, width, n));
        std::vector<float> want = x;
        REQUIRE_OK(cpu().round_like(t, want.data(), stride, width, n));
        check_close(d.get(dx, want.size()), want, {}, 1e-7, std::string("round_like ") + ggml_type_name(t));
    }
    {
        const int64_t n = 6, w = 13;
        const std::vector<float> src = randn(n * 20);
        Dev d;
        float* dst = d.put(std::vector<float>(size_t(n * 16), -1.0f));
        REQUIRE_OK(g.copy_rows(dst, 16 * 4, d.put(src) + 3, 20 * 4, w * 4, n));
        std::vector<float> want(size_t(n * 16), -1.0f);
        REQUIRE_OK(cpu().copy_rows(want.data(), 16 * 4, src.data() + 3, 20 * 4, w * 4, n));
        check_close(d.get(dst, want.size()), want, {}, 0.0, "copy_rows");
        const int32_t v = 77;
        int32_t* di = d.put(std::vector<int32_t>(size_t(n * 4), 5));
        REQUIRE_OK(g.fill(di + 3, 16, n, &v, 4));
        std::vector<int32_t> wi(size_t(n * 4), 5);
        REQUIRE_OK(cpu().fill(wi.data() + 3, 16, n, &v, 4));
        CHECK(d.get(di, wi.size()) == wi);
        const std::vector<float> bias = randn(w), y = randn(n * 16);
        float* dy = d.put(y);
        REQUIRE_OK(g.add_bias(dy, 16, n, d.put(bias), w));
        std::vector<float> wy = y;
        REQUIRE_OK(cpu().add_bias(wy.data(), 16, n, bias.data(), w));
        check_close(d.get(dy, wy.size()), wy, {}, 1e-7, "add_bias");
    }
    for (bool f16 : {false, true}) {
        const int64_t width = 576, n = 3, n_ctx = 10;
        const std::vector<float> src = randn(n * 600);
        const std::vector<int32_t> pos = {4, 5, 6};
        Dev d;
        const size_t bytes = size_t(n_ctx * width) * (f16 ? 2 : 4);
        uint8_t* dst = d.put(std::vector<uint8_t>(bytes, 0));
        REQUIRE_OK(g.write_rows(dst, f16, width, d.put(pos), d.put(src), 600, n));
        std::vector<uint8_t> want(bytes, 0);
        REQUIRE_OK(cpu().write_rows(want.data(), f16, width, pos.data(), src.data(), 600, n));
        CHECK(d.get(dst, bytes) == want);
    }
    {
        RouteParams p;
        p.n_expert = 256, p.k = 8, p.sigmoid = true, p.n_group = 8, p.n_group_used = 4, p.group_top2_sum = true;
        p.norm = true, p.scale = 2.5f;
        const int64_t n = 5;
        const std::vector<float> logits = randn(n * 256, 2.0f), bias = randn(256, 0.3f);
        Dev d;
        int32_t* ids = d.put(std::vector<int32_t>(size_t(n * 8), -1));
        float* w = d.put(std::vector<float>(size_t(n * 8), 0.0f));
        REQUIRE_OK(g.route(p, d.put(logits), d.put(bias), n, ids, w));
        std::vector<int32_t> wi(size_t(n * 8));
        std::vector<float> ww(size_t(n * 8));
        REQUIRE_OK(cpu().route(p, logits.data(), bias.data(), n, wi.data(), ww.data()));
        CHECK(d.get(ids, wi.size()) == wi);
        check_close(d.get(w, ww.size()), ww, {}, 1e-6, "route weights");
    }
    {
        const HostMatrix m = random_matrix(GgmlType::Q6_K, 40, 512);
        const std::vector<int32_t> ids = {39, 0, 17};
        Dev d;
        float* out = d.put(std::vector<float>(3 * 520, 0.0f));
        REQUIRE_OK(g.embed(m.view(d.put(m.bytes), nullptr), d.put(ids), 3, out, 520));
        std::vector<float> want(3 * 520, 0.0f);
        REQUIRE_OK(cpu().embed(m.view(m.bytes.data(), nullptr), ids.data(), 3, want.data(), 520));
        check_close(d.get(out, want.size()), want, {}, 1e-6, "embed");
    }
}

}  // namespace

namespace {

// The per-head products of a decode step as one launch (CudaBackend::matmul_batch / matmul_transposed_batch)
// against the CPU's batches.
MOE_TEST(batched_head_products_against_cpu) {
    for (GgmlType t : {GgmlType::BF16, GgmlType::F16, GgmlType::Q8_0, GgmlType::F32}) {
        const int64_t H = 5, rows = 64, cols = 128;
        std::vector<HostMatrix> m;
        for (int64_t h = 0; h < H; ++h) m.push_back(random_matrix(t, rows, cols));
        const std::vector<float> x = randn(H * cols);
        for (bool transposed : {false, true}) {
            Dev d;
            const float* dx = d.put(x);
            const int64_t out_w = transposed ? cols : rows, in_w = transposed ? rows : cols;
            float* dy = d.put(std::vector<float>(size_t(H * out_w), 0.0f));
            std::vector<float> want(size_t(H * out_w), 0.0f);
            std::vector<MatmulJob> gj, cj;
            for (int64_t h = 0; h < H; ++h) {
                gj.push_back({m[h].view(d.put(m[h].bytes), nullptr), dx + h * in_w, H * in_w, dy + h * out_w, H * out_w,
                              ActivationMode::Float});
                cj.push_back({m[h].view(m[h].bytes.data(), nullptr), x.data() + h * in_w, H * in_w,
                              want.data() + h * out_w, H * out_w, ActivationMode::Float});
            }
            if (transposed) {
                REQUIRE_OK(gpu().matmul_transposed_batch(gj, 1));
                REQUIRE_OK(cpu().matmul_transposed_batch(cj, 1));
            } else {
                REQUIRE_OK(gpu().matmul_batch(gj, 1));
                REQUIRE_OK(cpu().matmul_batch(cj, 1));
            }
            // Twice: the second call reuses the uploaded job table.
            if (!transposed) REQUIRE_OK(gpu().matmul_batch(gj, 1));
            check_close(d.get(dy, want.size()), want, {}, 1e-4,
                        std::string("batched ") + (transposed ? "transposed " : "") + ggml_type_name(t));
        }
    }
}

}  // namespace
