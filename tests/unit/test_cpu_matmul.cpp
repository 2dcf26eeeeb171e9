// The CPU matrix kernels against a double-precision reference written here: weights through dequantize_row,
// activations rounded by this file's own implementation of the rules of shared fixtures section 4 (Q8_0/Q8_1
// blocks of 32, Q8_K blocks of 256, fp16/bf16 rounding). Every type, odd shapes, strides wider than the rows,
// both activation modes, 1 and 2 threads (bit-identical), scalar and AVX2 kernels.
#include "backend/backend.h"
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "check.h"
#include "core/half.h"
#include "cpu_test_weights.h"
#include "formats/quants.h"

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

// Row r of the weights as doubles (dequantize_row / FP8 with its block scale row).
std::vector<double> weight_row(const MatrixView& w, int64_t r) {
    std::vector<float> f(static_cast<size_t>(w.cols));
    const uint8_t* row = w.data + r * static_cast<int64_t>(w.row_bytes);
    if (w.type == GgmlType::F8_E4M3_B128) {
        std::vector<float> srow(static_cast<size_t>(w.scale_cols));
        std::memcpy(srow.data(), w.block_scales + ((w.scale_row0 + r) / 128) * w.scale_cols * 4, srow.size() * 4);
        dequantize_fp8_row(row, srow.data(), w.cols, f.data());
    } else {
        REQUIRE_OK(dequantize_row(w.type, row, f.data(), w.cols));
    }
    return std::vector<double>(f.begin(), f.end());
}

// ---------- the activation rounding rules (independent implementation) ----------

struct RefAct {
    std::vector<double> v;       // dequant(quantize(x)) per element
    std::vector<double> s_corr;  // Q8_1: per block, s - d*sum(q) (what llama's min term adds beyond exact)
    std::vector<double> s;       // Q8_1: per block s
};

int nearest_even(float v) {
    return static_cast<int>(std::nearbyint(v));
}

RefAct ref_activation(GgmlType wt, ActivationMode mode, const float* x, int64_t n) {
    RefAct a;
    a.v.resize(static_cast<size_t>(n));
    const bool q8_0 = wt == GgmlType::Q8_0 || wt == GgmlType::Q4_0 || wt == GgmlType::Q5_0;
    const bool q8_1 = wt == GgmlType::Q4_1 || wt == GgmlType::Q5_1;
    const bool q8_k = wt == GgmlType::Q2_K || wt == GgmlType::Q3_K || wt == GgmlType::Q4_K || wt == GgmlType::Q5_K ||
                      wt == GgmlType::Q6_K;
    if (mode == ActivationMode::Float || wt == GgmlType::F32 || wt == GgmlType::F8_E4M3_B128) {
        for (int64_t i = 0; i < n; ++i) a.v[i] = x[i];
    } else if (wt == GgmlType::F16) {
        for (int64_t i = 0; i < n; ++i) a.v[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
    } else if (wt == GgmlType::BF16) {
        for (int64_t i = 0; i < n; ++i) a.v[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
    } else if (q8_0 || q8_1) {
        for (int64_t b = 0; b < n / 32; ++b) {
            float amax = 0.0f;
            for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[32 * b + j]));
            const float d = amax / 127.0f;
            const float id = amax == 0.0f ? 0.0f : 127.0f / amax;
            const double d16 = fp16_to_fp32(fp32_to_fp16(d));
            int sum = 0;
            for (int j = 0; j < 32; ++j) {
                const int q = nearest_even(x[32 * b + j] * id);
                sum += q;
                a.v[32 * b + j] = d16 * q;
            }
            const double s = fp16_to_fp32(fp32_to_fp16(d * static_cast<float>(sum)));
            a.s.push_back(s);
            a.s_corr.push_back(s - d16 * sum);
        }
    } else if (q8_k) {
        for (int64_t b = 0; b < n / 256; ++b) {
            const float* xb = x + 256 * b;
            float amax = 0.0f, v = 0.0f;
            for (int j = 0; j < 256; ++j)
                if (std::fabs(xb[j]) > amax) {
                    amax = std::fabs(xb[j]);
                    v = xb[j];
                }
            const float iscale = amax == 0.0f ? 0.0f : -127.0f / v;
            const double d = amax == 0.0f ? 0.0 : static_cast<double>(1.0f / iscale);
            for (int j = 0; j < 256; ++j) a.v[256 * b + j] = d * std::min(127, nearest_even(iscale * xb[j]));
        }
    }
    return a;
}

// y[t][r] in double and the sum of |terms| of each output (the tolerance scale).
void ref_matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, ActivationMode mode,
                std::vector<double>& y, std::vector<double>& mag) {
    y.assign(static_cast<size_t>(n_tokens * w.rows), 0.0);
    mag.assign(y.size(), 0.0);
    std::vector<std::vector<double>> rows;
    for (int64_t r = 0; r < w.rows; ++r) rows.push_back(weight_row(w, r));
    const bool q8_1 = mode == ActivationMode::Native && (w.type == GgmlType::Q4_1 || w.type == GgmlType::Q5_1);
    for (int64_t t = 0; t < n_tokens; ++t) {
        const RefAct a = ref_activation(w.type, mode, x + t * x_stride, w.cols);
        for (int64_t r = 0; r < w.rows; ++r) {
            double s = 0.0, m = 0.0;
            for (int64_t c = 0; c < w.cols; ++c) {
                s += rows[r][c] * a.v[c];
                m += std::fabs(rows[r][c] * a.v[c]);
            }
            if (q8_1) {
                // llama.cpp's Q4_1/Q5_1 dot adds min * s (s = fp16(d * sum q)) instead of min * d16 * sum q.
                const uint8_t* row = w.data + r * static_cast<int64_t>(w.row_bytes);
                const int bytes = w.type == GgmlType::Q4_1 ? 20 : 24;
                for (int64_t b = 0; b < w.cols / 32; ++b) {
                    uint16_t h = 0;
                    std::memcpy(&h, row + b * bytes + 2, 2);
                    s += fp16_to_fp32(h) * a.s_corr[b];
                    m += std::fabs(fp16_to_fp32(h) * a.s[b]);
                }
            }
            y[t * w.rows + r] = s;
            mag[t * w.rows + r] = m;
        }
    }
}

std::vector<int64_t> cols_for(const TypeDesc& t) {
    if (t.block == 256) return {256, 512, 768};
    if (t.block == 32) return {32, 64, 96, 320};
    if (t.type == GgmlType::F8_E4M3_B128) return {1, 128, 130, 300};
    return {1, 3, 33, 300};
}

// Runs matmul for one configuration on both pools; checks against the reference and 1 vs 2 threads.
void check_matmul_case(ThreadPool& p1, ThreadPool& p2, const Weights& w, const std::vector<float>& x, int64_t x_stride,
                       int64_t n_tokens, ActivationMode mode, const std::string& label) {
    const int64_t y_stride = w.view.rows + 3;
    std::vector<double> ref, mag;
    ref_matmul(w.view, x.data(), x_stride, n_tokens, mode, ref, mag);
    std::vector<float> y1(static_cast<size_t>(n_tokens * y_stride), -7.0f), y2 = y1;
    REQUIRE_OK(matmul(p1, w.view, x.data(), x_stride, n_tokens, y1.data(), y_stride, mode));
    REQUIRE_OK(matmul(p2, w.view, x.data(), x_stride, n_tokens, y2.data(), y_stride, mode));
    int bad = 0;
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t r = 0; r < w.view.rows; ++r) {
            const double got = y1[t * y_stride + r], want = ref[t * w.view.rows + r];
            const double tol = kRelTol * mag[t * w.view.rows + r] + 1e-30;
            if (!(std::fabs(got - want) <= tol) && bad++ < 3)
                moe_test::report_failure(__FILE__, __LINE__,
                                         label + " t=" + std::to_string(t) + " r=" + std::to_string(r) + ": " +
                                             std::to_string(got) + " vs " + std::to_string(want) + " (tol " +
                                             std::to_string(tol) + ")");
        }
        for (int64_t r = w.view.rows; r < y_stride; ++r) CHECK_EQ(y1[t * y_stride + r], -7.0f);
    }
    CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
}

}  // namespace

MOE_TEST(matmul_every_type_matches_reference) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(1234);
    const int64_t row_counts[] = {1, 3, 67, 300};
    const int64_t token_counts[] = {1, 2, 7, 33, 64};
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        for (const TypeDesc& t : all_types()) {
            int step = 0;
            for (int64_t cols : cols_for(t)) {
                for (ActivationMode mode : {ActivationMode::Native, ActivationMode::Float}) {
                    // A spread of (rows, tokens) per width, keeping the run short.
                    const int64_t rows = row_counts[step % 4];
                    const int64_t n_tokens = token_counts[(step * 3 + (simd ? 0 : 1)) % 5];
                    ++step;
                    Weights w = make_weights(t, rows, cols, rng, t.block == 1 ? 8 : t.bytes);
                    const int64_t x_stride = cols + 5;
                    std::vector<float> x = random_x(n_tokens * x_stride, rng);
                    if (cols >= 64 && n_tokens > 1) std::fill(x.begin() + x_stride, x.begin() + x_stride + 32, 0.0f);
                    const std::string label = std::string(ggml_type_name(t.type)) + (simd ? " simd" : " scalar") +
                                              (mode == ActivationMode::Native ? " native" : " float") +
                                              " rows=" + std::to_string(rows) + " cols=" + std::to_string(cols) +
                                              " tokens=" + std::to_string(n_tokens);
                    check_matmul_case(p1, p2, w, x, x_stride, n_tokens, mode, label);
                }
            }
        }
    }
}

// Where the CPU has AVX-512 (VNNI), the 512-bit kernels (Q8_0 rows with quantized and with float activations,
// the transposed 64-column tiles of F32/F16/BF16/Q8_0) give the bits of the 256-bit ones: rows in and out of
// groups of four, widths of 1-16 blocks, one and several tokens; Q8_0 rows of 256 columns and F16 / BF16 rows of 512
// (and of 256 on Intel, where the streams are requested into L2) take the forms that read two rows at a time. (Without AVX-512 both runs take the same
// kernels and this only checks determinism; the reference tests above cover those kernels.)
MOE_TEST(avx512_kernels_give_the_avx2_bits) {
    if (!simd_available()) return;
    struct Avx512Guard {
        ~Avx512Guard() { set_avx512_enabled(true); }
    } restore;
    ThreadPool p2(2);
    std::mt19937 rng(512);
    for (int idx : {0, 1, 2, 3}) {  // F32, F16, BF16, Q8_0
        const TypeDesc& t = all_types()[idx];
        for (int64_t cols : {32, 128, 256, 512}) {
            const int64_t rows = 67;
            Weights w = make_weights(t, rows, cols, rng);
            for (int64_t n_tokens : {1, 3}) {
                const std::string label = std::string(ggml_type_name(t.type)) + " cols=" + std::to_string(cols) +
                                          " tokens=" + std::to_string(n_tokens);
                std::vector<float> x = random_x(n_tokens * cols, rng);
                for (ActivationMode mode : {ActivationMode::Native, ActivationMode::Float}) {
                    std::vector<float> y[2];
                    for (int wide = 0; wide < 2; ++wide) {
                        set_avx512_enabled(wide != 0);
                        y[wide].assign(static_cast<size_t>(n_tokens * rows), -1.0f);
                        REQUIRE_OK(matmul(p2, w.view, x.data(), cols, n_tokens, y[wide].data(), rows, mode));
                    }
                    if (std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)) != 0)
                        moe_test::report_failure(__FILE__, __LINE__,
                                                 label + (mode == ActivationMode::Native ? " native" : " float") +
                                                     ": 512-bit and 256-bit results differ");
                }
                if (cols < 64) continue;
                std::vector<float> xt = random_x(n_tokens * rows, rng), yt[2];
                for (int wide = 0; wide < 2; ++wide) {
                    set_avx512_enabled(wide != 0);
                    yt[wide].assign(static_cast<size_t>(n_tokens * cols), -1.0f);
                    REQUIRE_OK(matmul_transposed(p2, w.view, xt.data(), rows, n_tokens, yt[wide].data(), cols));
                }
                if (std::memcmp(yt[0].data(), yt[1].data(), yt[0].size() * sizeof(float)) != 0)
                    moe_test::report_failure(__FILE__, __LINE__, label + " transposed: 512-bit and 256-bit differ");
            }
        }
    }
}

// Every type through both the dot path (few tokens) and the GEMM path (many) on the same weights.
MOE_TEST(matmul_dot_and_gemm_paths_agree_with_reference) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(99);
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        for (const TypeDesc& t : all_types()) {
            const int64_t cols = t.block == 256 ? 512 : (t.block == 32 ? 96 : 257);
            Weights w = make_weights(t, 37, cols, rng);
            if (t.type == GgmlType::F8_E4M3_B128) {
                // A view starting inside the matrix: scale rows follow scale_row0.
                w = make_weights(t, 300, cols, rng);
                w.view = w.view.rows_slice(130, 37);
            }
            for (int64_t n_tokens : {3, 9, 40, 64}) {
                std::vector<float> x = random_x(n_tokens * cols, rng);
                check_matmul_case(p1, p2, w, x, cols, n_tokens, ActivationMode::Native,
                                  std::string(ggml_type_name(t.type)) + " paths tokens=" + std::to_string(n_tokens));
            }
        }
    }
}

MOE_TEST(matmul_quantized_weights_from_quantize_row) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(5);
    for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
        const int64_t rows = 67, cols = 512;
        const auto bytes = *ggml_bytes(type, cols);
        Weights w;
        w.data.resize(static_cast<size_t>(rows * bytes));
        for (int64_t r = 0; r < rows; ++r) {
            std::vector<float> v = random_x(cols, rng);
            REQUIRE_OK(quantize_row(type, v.data(), w.data.data() + r * bytes, cols));
        }
        w.view = MatrixView{type, w.data.data(), cols, rows, bytes};
        for (int64_t n_tokens : {1, 7, 33}) {
            std::vector<float> x = random_x(n_tokens * cols, rng);
            check_matmul_case(p1, p2, w, x, cols, n_tokens, ActivationMode::Native,
                              std::string(ggml_type_name(type)) + " quantize_row");
        }
    }
}

// The activation rounding rules themselves, observed through one-hot weights (d = 1, a single q = 1).
MOE_TEST(activation_rounding_follows_llama_cpp) {
    ThreadPool pool(1);
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        // Q8_0: amax = 127 -> id = 1, q = round-half-even(x): 2.5 -> 2, 3.5 -> 4, -2.5 -> -2; d = 1.
        std::vector<float> x(32, 0.0f);
        x[0] = 127.0f;
        x[1] = 2.5f;
        x[2] = 3.5f;
        x[3] = -2.5f;
        std::vector<uint8_t> w(4 * 34, 0);
        for (int r = 0; r < 4; ++r) {
            const uint16_t one = fp32_to_fp16(1.0f);
            std::memcpy(&w[r * 34], &one, 2);
            w[r * 34 + 2 + r] = 1;
        }
        MatrixView v{GgmlType::Q8_0, w.data(), 32, 4, 34};
        float y[4] = {};
        REQUIRE_OK(matmul(pool, v, x.data(), 32, 1, y, 4));
        CHECK_EQ(y[0], 127.0f);
        CHECK_EQ(y[1], 2.0f);
        CHECK_EQ(y[2], 4.0f);
        CHECK_EQ(y[3], -2.0f);
        // F16 weights: x rounded to fp16 (1 + 2^-12 -> 1); Float mode keeps it.
        std::vector<uint8_t> wf(2);
        const uint16_t one = fp32_to_fp16(1.0f);
        std::memcpy(wf.data(), &one, 2);
        MatrixView vf{GgmlType::F16, wf.data(), 1, 1, 2};
        const float xf = 1.0f + 1.0f / 4096.0f;
        float yf = 0.0f;
        REQUIRE_OK(matmul(pool, vf, &xf, 1, 1, &yf, 1));
        CHECK_EQ(yf, 1.0f);
        REQUIRE_OK(matmul(pool, vf, &xf, 1, 1, &yf, 1, ActivationMode::Float));
        CHECK_EQ(yf, xf);
    }
}

MOE_TEST(matmul_batch_matches_single_products) {
    ThreadPool p2(2);
    std::mt19937 rng(7);
    const int64_t cols = 512;
    Weights a = make_weights(all_types()[10], 70, cols, rng);  // Q4_K
    Weights b = make_weights(all_types()[3], 33, cols, rng);   // Q8_0
    Weights c = make_weights(all_types()[1], 5, cols, rng);    // F16
    for (int64_t n_tokens : {1, 3, 30}) {
        std::vector<float> x = random_x(n_tokens * cols, rng), x2 = random_x(n_tokens * cols, rng);
        std::vector<float> ya(n_tokens * 70), yb(n_tokens * 33), yc(n_tokens * 5);
        std::vector<MatmulJob> jobs = {{a.view, x.data(), cols, ya.data(), 70, ActivationMode::Native},
                                       {b.view, x.data(), cols, yb.data(), 33, ActivationMode::Native},
                                       {c.view, x2.data(), cols, yc.data(), 5, ActivationMode::Float}};
        REQUIRE_OK(matmul_batch(p2, jobs, n_tokens));
        for (const MatmulJob& j : jobs) {
            std::vector<float> single(static_cast<size_t>(n_tokens * j.y_stride));
            REQUIRE_OK(matmul(p2, j.w, j.x, j.x_stride, n_tokens, single.data(), j.y_stride, j.mode));
            CHECK(std::memcmp(single.data(), j.y, single.size() * sizeof(float)) == 0);
        }
    }
}

// A one-token product of 4 MiB or more (an output head) is balanced between the threads (shares taken in chunks,
// the rest taken from the back of the slowest share): every row as one thread computes it, for 2-5 threads, with a
// row count that leaves partial chunks.
MOE_TEST(large_one_token_product_keeps_the_bits) {
    std::mt19937 rng(17);
    const int64_t rows = 8 * 1024 + 37, cols = 512;  // Q8_0: 4.5 MB
    Weights w = make_weights(all_types()[3], rows, cols, rng);
    const std::vector<float> x = random_x(cols, rng);
    std::vector<float> y1(rows);
    ThreadPool p1(1);
    REQUIRE_OK(matmul(p1, w.view, x.data(), cols, 1, y1.data(), rows));
    for (int threads : {2, 3, 5}) {
        ThreadPool pool(threads);
        for (int rep = 0; rep < 3; ++rep) {
            std::vector<float> y(rows, std::nanf(""));
            REQUIRE_OK(matmul(pool, w.view, x.data(), cols, 1, y.data(), rows));
            CHECK(std::memcmp(y1.data(), y.data(), y.size() * sizeof(float)) == 0);
        }
    }
}

MOE_TEST(matmul_transposed_matches_reference) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(11);
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        for (int idx : {0, 1, 3, 10, 13}) {  // F32, F16, Q8_0, Q4_K, FP8
            const TypeDesc& t = all_types()[idx];
            const int64_t rows = 37, cols = t.block == 256 ? 512 : 320;
            Weights w = make_weights(t, rows, cols, rng);
            std::vector<std::vector<double>> wr;
            for (int64_t r = 0; r < rows; ++r) wr.push_back(weight_row(w.view, r));
            for (int64_t n_tokens : {1, 3, 9, 33, 40}) {
                const int64_t xs = rows + 2, ys = cols + 1;
                std::vector<float> x = random_x(n_tokens * xs, rng);
                std::vector<float> y1(n_tokens * ys, -3.0f), y2 = y1;
                REQUIRE_OK(matmul_transposed(p1, w.view, x.data(), xs, n_tokens, y1.data(), ys));
                REQUIRE_OK(matmul_transposed(p2, w.view, x.data(), xs, n_tokens, y2.data(), ys));
                CHECK(std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)) == 0);
                for (int64_t tk = 0; tk < n_tokens; ++tk)
                    for (int64_t c = 0; c < cols; ++c) {
                        double s = 0.0, m = 0.0;
                        for (int64_t r = 0; r < rows; ++r) {
                            s += x[tk * xs + r] * wr[r][c];
                            m += std::fabs(x[tk * xs + r] * wr[r][c]);
                        }
                        CHECK_NEAR(y1[tk * ys + c], s, kRelTol * m + 1e-30);
                    }
                CHECK_EQ(y1[cols], -3.0f);
            }
        }
    }
}

// The CPU backend's one-region decode of absorbed MLA against the separate ops (Backend's default): the same bits,
// for both W_UK layouts, F32 and F16 caches, head counts that do and do not fill the four-head attention tiles, and a
// context of three chunks, where the threads share the keys (2 and 3 threads).
MOE_TEST(mla_absorbed_decode_matches_the_separate_ops) {
    std::mt19937 rng(9);
    const int64_t nope = 64, rope = 32, kvl = 96, vd = 64, n_ctx = 700;
    const std::unique_ptr<Backend> be = make_cpu_backend(2), be3 = make_cpu_backend(3), be8 = make_cpu_backend(8);
    for (int type : {3, 1})  // Q8_0, F16
        for (bool transposed : {true, false})
            for (int64_t H : {16, 6}) {
                std::vector<Weights> uk_store, uv_store;
                std::vector<MatrixView> uk, uv;
                for (int64_t h = 0; h < H; ++h) {
                    uk_store.push_back(transposed ? make_weights(all_types()[type], nope, kvl, rng)
                                                  : make_weights(all_types()[type], kvl, nope, rng));
                    uv_store.push_back(make_weights(all_types()[type], vd, kvl, rng));
                }
                for (int64_t h = 0; h < H; ++h) {
                    uk.push_back(uk_store[h].view);
                    uv.push_back(uv_store[h].view);
                }
                const std::vector<float> q = random_x(H * (nope + rope), rng);
                const std::vector<float> cache = random_x(n_ctx * (kvl + rope), rng);
                const Weights wo = make_weights(all_types()[type], 48, H * vd, rng);  // W_o, in the same op
                const Weights narrow = make_weights(all_types()[type], 48, H * vd - 32, rng);
                std::vector<uint16_t> cache16(cache.size());
                for (size_t i = 0; i < cache.size(); ++i) cache16[i] = fp32_to_fp16(cache[i]);
                for (bool f16 : {false, true})
                    for (int32_t pos : {0, 40, 600}) {
                        std::vector<float> out[4], lat[4], q_abs[4], y[4];
                        for (int v = 0; v < 4; ++v) {
                            y[v].assign(48, -1.0f);
                            out[v].assign(H * vd, -1.0f);
                            lat[v].assign(H * kvl, -1.0f);
                            q_abs[v].assign(H * (kvl + rope), -1.0f);
                            MlaAbsorbedArgs m;
                            m.attention.n_tokens = 1;
                            m.attention.n_head = H;
                            m.attention.kv_lora = kvl;
                            m.attention.n_rope = rope;
                            if (f16)
                                m.attention.cache_f16 = cache16.data();
                            else
                                m.attention.cache = cache.data();
                            m.attention.pos = &pos;
                            m.attention.kq_scale = 0.125f;
                            m.q = q.data();
                            m.q_abs = q_abs[v].data();
                            m.latent = lat[v].data();
                            m.nope = nope;
                            m.uk = uk;
                            m.uk_transposed = transposed;
                            m.uv = uv;
                            m.v_head_dim = vd;
                            m.out = out[v].data();
                            m.wo = wo.view;
                            m.wo_out = y[v].data();
                            REQUIRE_OK(v == 0   ? be->mla_absorbed(m)
                                       : v == 1 ? be->Backend::mla_absorbed(m)
                                       : v == 2 ? be3->mla_absorbed(m)
                                                : be8->mla_absorbed(m));  // (threads without heads: H = 6)
                            if (v == 3 && pos == 40) {  // a W_o that does not take the heads' values: an error
                                m.wo = narrow.view;
                                const Status s = be->mla_absorbed(m);
                                CHECK(!s.ok() && s.message().find("W_o") != std::string::npos);
                            }
                        }
                        for (int v : {0, 2, 3}) {
                            CHECK(std::memcmp(out[v].data(), out[1].data(), out[1].size() * sizeof(float)) == 0);
                            CHECK(std::memcmp(lat[v].data(), lat[1].data(), lat[1].size() * sizeof(float)) == 0);
                            CHECK(std::memcmp(y[v].data(), y[1].data(), y[1].size() * sizeof(float)) == 0);
                        }
                    }
                // A head count that does not match the matrices is an error that says so.
                MlaAbsorbedArgs bad;
                bad.attention.n_tokens = 1;
                bad.attention.n_head = H + 1;
                bad.attention.cache = cache.data();
                bad.uk = uk;
                bad.uv = uv;
                const Status s = be->mla_absorbed(bad);
                CHECK(!s.ok() && s.message().find("heads") != std::string::npos);
            }
}

MOE_TEST(sgemm_matches_naive) {
    ThreadPool p1(1), p2(2);
    std::mt19937 rng(3);
    struct Shape {
        int64_t m, n, k;
    };
    for (bool simd : simd_modes()) {
        SimdGuard guard(simd);
        for (Shape s : {Shape{1, 1, 1}, Shape{5, 17, 3}, Shape{7, 300, 37}, Shape{100, 33, 257}, Shape{37, 530, 600},
                        Shape{13, 1, 100}}) {
            for (bool nt : {true, false}) {
                for (float beta : {0.0f, 0.5f}) {
                    const int64_t lda = s.k + 3, ldb = (nt ? s.k : s.n) + 2, ldc = s.n + 1;
                    std::vector<float> a = random_x(s.m * lda, rng);
                    std::vector<float> b = random_x((nt ? s.n : s.k) * ldb, rng);
                    std::vector<float> c0 = random_x(s.m * ldc, rng);
                    if (beta == 0.0f)
                        for (int64_t i = 0; i < s.m; ++i) c0[i * ldc] = std::nanf("");  // must not be read
                    std::vector<float> c1 = c0, c2 = c0;
                    const float alpha = 1.5f;
                    auto run = [&](ThreadPool& p, std::vector<float>& c) {
                        if (nt)
                            sgemm_nt(p, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, c.data(), ldc, alpha, beta);
                        else
                            sgemm_nn(p, s.m, s.n, s.k, a.data(), lda, b.data(), ldb, c.data(), ldc, alpha, beta);
                    };
                    run(p1, c1);
                    run(p2, c2);
                    CHECK(std::memcmp(c1.data(), c2.data(), c1.size() * sizeof(float)) == 0);
                    for (int64_t i = 0; i < s.m; ++i)
                        for (int64_t j = 0; j < s.n; ++j) {
                            double acc = 0.0, mag = 0.0;
                            for (int64_t p = 0; p < s.k; ++p) {
                                const double bv = nt ? b[j * ldb + p] : b[p * ldb + j];
                                acc += a[i * lda + p] * bv;
                                mag += std::fabs(a[i * lda + p] * bv);
                            }
                            const double want = alpha * acc + (beta == 0.0f ? 0.0 : beta * c0[i * ldc + j]);
                            const double tol = kRelTol * (std::fabs(alpha) * mag +
                                                          (beta == 0.0f ? 0.0 : std::fabs(beta * c0[i * ldc + j])));
                            CHECK_NEAR(c1[i * ldc + j], want, tol);
                        }
                    CHECK_EQ(c1[s.n], c0[s.n]);  // the padding column is untouched
                }
            }
        }
    }
}

MOE_TEST(errors_are_values_with_clear_messages) {
    ThreadPool pool(2);
    std::vector<uint8_t> data(4096, 0);
    float x[512] = {}, y[512] = {};
    MatrixView iq{GgmlType::IQ2_XXS, data.data(), 256, 2, 66};
    Status s = matmul(pool, iq, x, 256, 1, y, 2);
    CHECK(!s.ok());
    CHECK(s.message().find("iq2_xxs") != std::string::npos);
    CHECK(s.message().find("not supported") != std::string::npos);
    CHECK(!matmul_supports(GgmlType::IQ2_XXS));
    CHECK(matmul_supports(GgmlType::Q4_K));
    MatrixView bad_cols{GgmlType::Q8_0, data.data(), 33, 2, 34};
    s = matmul(pool, bad_cols, x, 33, 1, y, 2);
    CHECK(!s.ok() && s.message().find("block size") != std::string::npos);
    MatrixView short_rows{GgmlType::Q8_0, data.data(), 64, 2, 34};
    s = matmul(pool, short_rows, x, 64, 1, y, 2);
    CHECK(!s.ok() && s.message().find("row_bytes") != std::string::npos);
    MatrixView ok{GgmlType::F32, data.data(), 8, 2, 32};
    CHECK(!matmul(pool, ok, x, 4, 1, y, 2).ok());  // x_stride < cols
    CHECK(!matmul_transposed(pool, iq, x, 2, 1, y, 256).ok());
}
