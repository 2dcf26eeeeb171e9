// CUDA kernels through the shipped CudaBackend ops: the device's measured memory bandwidth (device-to-device
// copy) and cuBLAS bf16 peak, then per weight type the decode GEMV's weight-streaming rate (GB/s and fraction of
// that bandwidth) for a large matrix (16384 x 8192) at 1 and 4 tokens, the prompt GEMM's TFLOP/s at 512 tokens
// (and fraction of the cuBLAS peak), one MoE layer's decode (V2-Lite shape: 64 experts 2048 -> 1408 -> 2048,
// 6 routed + the shared expert), and absorbed MLA attention decode over 4096 cached positions.
// Usage: bench_cuda_kernels [reps]. Without a device it prints why and exits 77.
#include "cuda_backend.h"

#include "backend/backend.h"
#include "formats/ggml_type.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace moe;

namespace {

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int g_reps = 20;

// Random bytes for a matrix; block scales (fp16 d at the block start) are set to small finite values so that no
// inf/NaN arithmetic distorts the timing.
std::vector<uint8_t> random_bytes(uint64_t n) {
    std::vector<uint8_t> v(n);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (uint64_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        std::memcpy(v.data() + i, &x, 8);
    }
    for (uint64_t i = 0; i < n; ++i) v[i] = (v[i] & 0x7f) == 0x7f ? 0x30 : v[i];  // no fp8 NaN, finite halves
    return v;
}

struct DevMatrix {
    MatrixView view;
    std::unique_ptr<Buffer> data, scales;
    uint64_t bytes = 0;
};

DevMatrix make_matrix(Backend& b, GgmlType type, int64_t rows, int64_t cols) {
    DevMatrix m;
    const uint64_t rb = type == GgmlType::F8_E4M3_B128 ? uint64_t(cols) : *ggml_bytes(type, uint64_t(cols));
    m.bytes = rb * uint64_t(rows);
    m.data = std::move(b.alloc(m.bytes)).value();
    const std::vector<uint8_t> host = random_bytes(m.bytes);
    (void)b.upload(m.data->data(), host.data(), m.bytes);
    m.view = MatrixView{type, static_cast<const uint8_t*>(m.data->data()), cols, rows, rb};
    if (type == GgmlType::F8_E4M3_B128) {
        const int64_t sc = (cols + 127) / 128, sr = (rows + 127) / 128;
        std::vector<float> s(static_cast<size_t>(sc * sr), 0.01f);
        m.scales = std::move(b.alloc(s.size() * 4)).value();
        (void)b.upload(m.scales->data(), s.data(), s.size() * 4);
        m.view.block_scales = static_cast<const uint8_t*>(m.scales->data());
        m.view.scale_cols = sc;
    }
    return m;
}

// Seconds per call of f, after a warm-up call; f runs on the backend's stream, timed to its completion.
template <class F>
double time_op(Backend& b, F&& f) {
    if (Status s = f(); !s.ok()) {
        std::fprintf(stderr, "  failed: %s\n", s.message().c_str());
        return 0.0;
    }
    (void)b.synchronize();
    const double t0 = now_s();
    for (int r = 0; r < g_reps; ++r) (void)f();
    (void)b.synchronize();
    return (now_s() - t0) / g_reps;
}

// Random activations (N(0,1)-like, from the same generator): never time on zeros (METHOD.md).
std::unique_ptr<Buffer> activations(Backend& b, uint64_t floats) {
    auto buf = std::move(b.alloc(floats * 4)).value();
    std::vector<float> v(floats);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (float& f : v) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        f = float(int64_t(x % 2001) - 1000) / 500.0f;
    }
    (void)b.upload(buf->data(), v.data(), floats * 4);
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) g_reps = std::max(1, std::atoi(argv[1]));
    auto made = cuda::make_cuda_backend(0);
    if (!made.ok()) {
        std::printf("bench_cuda_kernels: %s\n", made.error().c_str());
        return 77;
    }
    Backend& b = **made;
    const double hbm = b.measure_memory_bandwidth_gbs().ok() ? *b.measure_memory_bandwidth_gbs() : 0.0;
    const double peak = b.measure_gemm_peak_gflops().ok() ? *b.measure_gemm_peak_gflops() : 0.0;
    std::printf("device %s\n", b.info().name.c_str());
    std::printf("memory bandwidth (device copy, read + write): %.1f GB/s\n", hbm);
    std::printf("cuBLAS bf16 GEMM peak (8192^3): %.1f TFLOP/s\n\n", peak / 1e3);

    const int64_t rows = 16384, cols = 8192, n_pp = 512;
    const GgmlType types[] = {GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,         GgmlType::Q4_0, GgmlType::Q4_K,
                              GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::F8_E4M3_B128, GgmlType::F32};
    auto x = activations(b, uint64_t(n_pp * cols));
    auto y = activations(b, uint64_t(n_pp * rows));
    std::printf("%-10s %10s %12s %8s %12s %8s %12s %8s\n", "type", "MB", "gemv1 GB/s", "of HBM", "gemv4 GB/s", "of HBM",
                "pp512 TFLOP/s", "of peak");
    for (GgmlType t : types) {
        DevMatrix m = make_matrix(b, t, rows, cols);
        float* xp = static_cast<float*>(x->data());
        float* yp = static_cast<float*>(y->data());
        const double t1 = time_op(b, [&] { return b.matmul(m.view, xp, cols, 1, yp, rows); });
        const double t4 = time_op(b, [&] { return b.matmul(m.view, xp, cols, 4, yp, rows); });
        const double tp = time_op(b, [&] { return b.matmul(m.view, xp, cols, n_pp, yp, rows); });
        const double g1 = t1 > 0 ? double(m.bytes) / t1 / 1e9 : 0, g4 = t4 > 0 ? double(m.bytes) / t4 / 1e9 : 0;
        const double tf = tp > 0 ? 2.0 * double(rows) * double(cols) * n_pp / tp / 1e12 : 0;
        std::printf("%-10s %10.1f %12.1f %7.0f%% %12.1f %7.0f%% %12.1f %7.0f%%\n", ggml_type_name(t),
                    double(m.bytes) / 1e6, g1, hbm > 0 ? 100 * g1 / hbm : 0, g4, hbm > 0 ? 100 * g4 / hbm : 0, tf,
                    peak > 0 ? 100 * tf * 1e3 / peak : 0);
    }

    // One MoE layer's decode, V2-Lite shape: 64 routed experts + the shared one (2 x 1408 wide), 6 + 1 used.
    std::printf("\nMoE layer decode (64 experts 2048 -> 1408 -> 2048, 6 routed + shared):\n");
    for (GgmlType t : {GgmlType::BF16, GgmlType::F16, GgmlType::Q8_0}) {
        const int64_t d = 2048, ff = 1408, n_exp = 64, k = 7;
        std::vector<DevMatrix> mats;
        std::vector<SwigluWeights> experts;
        for (int64_t e = 0; e <= n_exp; ++e) {
            const int64_t f = e == n_exp ? 2 * ff : ff;
            mats.push_back(make_matrix(b, t, f, d));  // (1408 is not a multiple of 256: no K-quant experts here)
            mats.push_back(make_matrix(b, t, f, d));
            mats.push_back(make_matrix(b, t, d, f));
            experts.push_back({mats[mats.size() - 3].view, mats[mats.size() - 2].view, mats.back().view});
        }
        const std::vector<int32_t> ids = {3, 17, 29, 40, 51, 62, int32_t(n_exp)};
        const std::vector<float> w = {0.3f, 0.2f, 0.1f, 0.1f, 0.1f, 0.1f, 1.0f};
        auto dids = std::move(b.alloc(ids.size() * 4)).value();
        auto dw = std::move(b.alloc(w.size() * 4)).value();
        (void)b.upload(dids->data(), ids.data(), ids.size() * 4);
        (void)b.upload(dw->data(), w.data(), w.size() * 4);
        uint64_t active = 0;
        for (int32_t id : ids) active += mats[3 * id].bytes + mats[3 * id + 1].bytes + mats[3 * id + 2].bytes;
        const double tm = time_op(b, [&] {
            return b.moe_ffn(experts, static_cast<float*>(x->data()), 1, d, k, static_cast<int32_t*>(dids->data()),
                             static_cast<float*>(dw->data()), static_cast<float*>(y->data()));
        });
        std::printf("  %-6s %8.1f us  %6.1f MB active  %8.1f GB/s  %5.0f%% of HBM\n", ggml_type_name(t), tm * 1e6,
                    double(active) / 1e6, tm > 0 ? double(active) / tm / 1e9 : 0,
                    tm > 0 && hbm > 0 ? 100 * double(active) / tm / 1e9 / hbm : 0);
    }

    // Absorbed MLA decode: 16 heads, 512 + 64 wide, 4096 cached positions (F32 and F16 cache).
    std::printf("\nMLA attention decode (16 heads, kv_lora 512 + rope 64):\n");
    for (bool f16 : {false, true}) {
        const int64_t H = 16, row = 576, ctx = 4096;
        auto q = activations(b, uint64_t(H * row));
        auto cache = activations(b, uint64_t(ctx * row));
        auto out = activations(b, uint64_t(H * 512));
        const int32_t pos = int32_t(ctx - 1);
        auto dpos = std::move(b.alloc(4)).value();
        (void)b.upload(dpos->data(), &pos, 4);
        MlaAttentionArgs a;
        a.n_tokens = 1, a.n_head = H, a.kv_lora = 512, a.n_rope = 64, a.kq_scale = 0.11f;
        a.q = static_cast<float*>(q->data());
        if (f16)
            a.cache_f16 = static_cast<uint16_t*>(cache->data());
        else
            a.cache = static_cast<float*>(cache->data());
        a.pos = static_cast<int32_t*>(dpos->data());
        a.out = static_cast<float*>(out->data());
        const double ta = time_op(b, [&] { return b.mla_attention(a); });
        const double bytes = double(ctx * row) * (f16 ? 2 : 4);
        std::printf("  %s cache: %8.1f us, %8.1f GB/s of cache read\n", f16 ? "f16" : "f32", ta * 1e6,
                    ta > 0 ? bytes / ta / 1e9 : 0);
    }
    return 0;
}
