// CPU matrix kernels, 2 threads (or argv[1]): the measured memory read bandwidth, GEMV (decode, one token)
// weight-streaming rate per type for 4096x4096 and the 102400x512 lm_head shape as a fraction of that
// bandwidth, GEMM GFLOP/s for 512 tokens through a 2048x512 weight (prompt processing), and the decode time of
// one MoE layer's experts (8 of 64 experts, 512 -> 256 -> 512).
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "core/half.h"
#include "formats/ggml_type.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

using namespace moe;
using namespace moe::cpu;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Matrix {
    std::vector<uint8_t> data;
    std::vector<float> scales;
    MatrixView view;
};

// Random weights: random bytes with every fp16 scale field set to a sane value (float types: small floats).
Matrix make_matrix(GgmlType type, int64_t rows, int64_t cols, uint64_t seed) {
    Matrix m;
    const auto info = *ggml_type_info(static_cast<uint32_t>(type));
    const uint64_t row_bytes = *ggml_bytes(type, static_cast<uint64_t>(cols));
    m.data.resize(row_bytes * static_cast<uint64_t>(rows));
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i + 8 <= m.data.size(); i += 8) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        std::memcpy(&m.data[i], &s, 8);
    }
    std::vector<int> fp16_fields;
    switch (type) {
        case GgmlType::F32:
            for (size_t i = 0; i < m.data.size(); i += 4) {
                const float v = static_cast<float>(static_cast<int8_t>(m.data[i])) / 128.0f;
                std::memcpy(&m.data[i], &v, 4);
            }
            break;
        case GgmlType::F16:
        case GgmlType::BF16:
            for (size_t i = 0; i < m.data.size(); i += 2) {
                const float v = static_cast<float>(static_cast<int8_t>(m.data[i])) / 128.0f;
                const uint16_t h = type == GgmlType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
                std::memcpy(&m.data[i], &h, 2);
            }
            break;
        case GgmlType::Q8_0:
        case GgmlType::Q4_0:
        case GgmlType::Q5_0:
            fp16_fields = {0};
            break;
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
            fp16_fields = {0, 2};
            break;
        case GgmlType::Q6_K:
            fp16_fields = {208};
            break;
        default:
            break;
    }
    const uint16_t h = fp32_to_fp16(0.01f);
    for (size_t b = 0; b < m.data.size() / info.block_bytes && !fp16_fields.empty(); ++b)
        for (int off : fp16_fields) std::memcpy(&m.data[b * info.block_bytes + off], &h, 2);
    m.view = MatrixView{type, m.data.data(), cols, rows, row_bytes};
    return m;
}

// Best seconds per call of fn over about `budget_s` of repetitions.
template <class F>
double best_time(F&& fn, double budget_s) {
    fn();
    double best = 1e30;
    const double start = now_s();
    int reps = 0;
    while (reps < 3 || (now_s() - start < budget_s && reps < 2000)) {
        const double t0 = now_s();
        fn();
        best = std::min(best, now_s() - t0);
        ++reps;
    }
    return best;
}

void bench_gemv(ThreadPool& pool, double bw) {
    std::printf("GEMV (1 token), weight bytes / time:\n");
    std::printf("  %-6s %22s %22s\n", "type", "4096 x 4096", "102400 x 512 (lm_head)");
    const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                              GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
    for (GgmlType type : types) {
        std::printf("  %-6s", ggml_type_name(type));
        const int64_t shapes[2][2] = {{4096, 4096}, {102400, 512}};  // rows, cols
        for (const auto& sh : shapes) {
            // Enough copies that they do not fit in the caches (L3 32 MiB here): each call streams from memory.
            const uint64_t bytes = *ggml_bytes(type, static_cast<uint64_t>(sh[1])) * static_cast<uint64_t>(sh[0]);
            const int n_copies = static_cast<int>(std::max<uint64_t>(2, (256ull << 20) / bytes + 1));
            std::vector<Matrix> copies;
            for (int c = 0; c < n_copies; ++c) copies.push_back(make_matrix(type, sh[0], sh[1], 7 + c));
            std::vector<float> x(static_cast<size_t>(sh[1])), y(static_cast<size_t>(sh[0]));
            std::mt19937 rng(1);
            for (auto& v : x) v = std::normal_distribution<float>()(rng);
            int next = 0;
            const double t = best_time(
                [&] {
                    (void)matmul(pool, copies[next].view, x.data(), sh[1], 1, y.data(), sh[0]);
                    next = (next + 1) % n_copies;
                },
                0.6);
            const double gbs = static_cast<double>(bytes) / t / 1e9;
            std::printf("   %7.2f GB/s (%5.1f%%)", gbs, 100.0 * gbs / bw);
        }
        std::printf("\n");
    }
}

void bench_gemm(ThreadPool& pool) {
    std::printf("\nGEMM, 512 tokens x (2048 x 512) weights:\n");
    for (GgmlType type : {GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_K}) {
        const int64_t rows = 2048, cols = 512, n_tokens = 512;
        Matrix m = make_matrix(type, rows, cols, 3);
        std::vector<float> x(static_cast<size_t>(n_tokens * cols)), y(static_cast<size_t>(n_tokens * rows));
        std::mt19937 rng(2);
        for (auto& v : x) v = std::normal_distribution<float>()(rng);
        const double t = best_time([&] { (void)matmul(pool, m.view, x.data(), cols, n_tokens, y.data(), rows); }, 1.0);
        std::printf("  %-6s %7.1f GFLOP/s (%.2f ms)\n", ggml_type_name(type), 2.0 * rows * cols * n_tokens / t / 1e9,
                    t * 1e3);
    }
    const int64_t n = 512;
    std::vector<float> a(n * n, 0.5f), b(2048 * n, 0.25f), c(n * 2048);
    const double t = best_time([&] { sgemm_nt(pool, n, 2048, n, a.data(), n, b.data(), n, c.data(), 2048); }, 1.0);
    std::printf("  sgemm_nt 512x2048x512 %7.1f GFLOP/s\n", 2.0 * n * 2048 * n / t / 1e9);
}

// One MoE layer's experts in decode: 8 of 64 experts (random) per call, successive calls on successive layers of
// 16 (as decode goes through the layers), so the weights come from memory: 16 layers of 64 experts are 220-800
// MB, far more than any L3.
void bench_moe(ThreadPool& pool, double bw) {
    std::printf("\nmoe_ffn decode: 8 of 64 experts, 512 -> 256 -> 512, 16 layers in turn:\n");
    for (auto types : {std::vector<GgmlType>{GgmlType::Q4_K, GgmlType::Q4_K, GgmlType::Q6_K},
                       std::vector<GgmlType>{GgmlType::Q8_0, GgmlType::Q8_0, GgmlType::Q8_0},
                       std::vector<GgmlType>{GgmlType::F16, GgmlType::F16, GgmlType::F16}}) {
        const int64_t n_embd = 512, n_ff = 256, n_exp = 64, k = 8, n_layers = 16;
        std::vector<Matrix> store;
        std::vector<std::vector<SwigluWeights>> layers(n_layers);
        for (int64_t e = 0; e < n_layers * n_exp; ++e) {
            store.push_back(make_matrix(types[0], n_ff, n_embd, 10 + 3 * e));
            store.push_back(make_matrix(types[1], n_ff, n_embd, 11 + 3 * e));
            store.push_back(make_matrix(types[2], n_embd, n_ff, 12 + 3 * e));
        }
        for (int64_t e = 0; e < n_layers * n_exp; ++e)
            layers[e / n_exp].push_back({store[3 * e].view, store[3 * e + 1].view, store[3 * e + 2].view});
        const uint64_t expert_bytes = store[0].data.size() + store[1].data.size() + store[2].data.size();
        std::vector<float> x(n_embd, 0.1f), y(n_embd, 0.0f), w(k, 0.125f);
        std::vector<int32_t> ids(k);
        std::mt19937 rng(5);
        std::vector<double> times;
        for (int r = 0; r < 3000; ++r) {
            for (int64_t j = 0; j < k; ++j) ids[j] = static_cast<int32_t>(rng() % n_exp);
            const double t0 = now_s();
            (void)moe_ffn(pool, layers[r % n_layers], x.data(), 1, n_embd, k, ids.data(), w.data(), y.data());
            times.push_back(now_s() - t0);
        }
        std::sort(times.begin(), times.end());
        const double median = times[times.size() / 2], best = times.front();
        const double gbs = static_cast<double>(expert_bytes * k) / median / 1e9;
        std::printf(
            "  %s/%s/%s: median %6.1f us, best %6.1f us per call (%.2f GB/s of expert weights at the median, "
            "%.1f%%)\n",
            ggml_type_name(types[0]), ggml_type_name(types[1]), ggml_type_name(types[2]), median * 1e6, best * 1e6, gbs,
            100.0 * gbs / bw);
    }
}

}  // namespace

// Usage: bench_matmul [n_threads (2)] [section: all | gemv | gemm | moe]
int main(int argc, char** argv) {
    const int n_threads = argc > 1 ? std::atoi(argv[1]) : 2;
    const std::string section = argc > 2 ? argv[2] : "all";
    ThreadPool pool(n_threads);
    std::printf("threads: %d, AVX2 kernels: %s\n", pool.size(), simd_available() ? "yes" : "no");
    const double bw = measure_memory_bandwidth_gbs(pool, 1ull << 30, 5);
    std::printf("memory read bandwidth: %.2f GB/s\n\n", bw);
    if (section == "all" || section == "gemv") bench_gemv(pool, bw);
    if (section == "all" || section == "gemm") bench_gemm(pool);
    if (section == "all" || section == "moe") bench_moe(pool, bw);
    return 0;
}
