// Dequantization throughput, one thread: GB/s of *input* bytes per type over a 64 MiB buffer, writing into
// a 64 KiB output chunk that stays in cache (as a matmul that dequantizes a row at a time would).
// Also: FP8 block-scaled rows (DeepSeek-V3, 7168 columns) and quantization speed for the export types.
#include "core/half.h"
#include "formats/quants.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <time.h>
#include <vector>

using namespace moe;

namespace {

constexpr size_t k_input_bytes = 64u << 20;
constexpr int64_t k_chunk_elems = 16384;  // 64 KiB of floats
volatile float g_sink = 0.0f;             // keeps the compiler from discarding the conversions

struct DType {
    GgmlType type;
    std::vector<int> fp16_offsets;  // fp16 scale fields per block, set to a sane value (random bytes could be NaN)
    int f32_offset;                 // Q8_K's fp32 d, -1 if none
};

// Thread CPU time, not wall time: on a shared machine the wall clock also counts time other processes ran.
double thread_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::vector<uint8_t> make_input(const DType& t, const GgmlTypeInfo& info, size_t n_blocks) {
    std::mt19937 rng(42);
    std::vector<uint8_t> buf(n_blocks * info.block_bytes);
    for (auto& b : buf) b = static_cast<uint8_t>(rng());
    const uint16_t h = fp32_to_fp16(0.01f);
    const float d = 0.01f;
    for (size_t b = 0; b < n_blocks; ++b) {
        uint8_t* blk = buf.data() + b * info.block_bytes;
        for (int off : t.fp16_offsets) std::memcpy(blk + off, &h, 2);
        if (t.f32_offset >= 0) std::memcpy(blk + t.f32_offset, &d, 4);
    }
    if (t.type == GgmlType::F16 || t.type == GgmlType::BF16) {  // finite values, no NaN payloads
        for (size_t i = 0; i + 1 < buf.size(); i += 2) {
            const float v = static_cast<float>(static_cast<int>(rng() % 2001) - 1000) * 1e-3f;
            const uint16_t c = t.type == GgmlType::F16 ? fp32_to_fp16(v) : fp32_to_bf16(v);
            std::memcpy(buf.data() + i, &c, 2);
        }
    }
    return buf;
}

void bench_dequant(const DType& t) {
    const GgmlTypeInfo info = *ggml_type_info(static_cast<uint32_t>(t.type));
    const int64_t blocks_per_chunk = k_chunk_elems / info.block_elems;
    const size_t n_chunks = k_input_bytes / (blocks_per_chunk * info.block_bytes);
    const auto input = make_input(t, info, n_chunks * blocks_per_chunk);
    std::vector<float> out(k_chunk_elems);
    const size_t chunk_bytes = blocks_per_chunk * info.block_bytes;
    double best_s = 1e30, sink = 0.0;
    for (int rep = 0; rep < 5; ++rep) {
        const double t0 = thread_seconds();
        for (size_t c = 0; c < n_chunks; ++c) {
            if (!dequantize_row(t.type, input.data() + c * chunk_bytes, out.data(), k_chunk_elems).ok()) return;
            sink += out[c % k_chunk_elems];
        }
        best_s = std::min(best_s, thread_seconds() - t0);
    }
    const double bytes = static_cast<double>(n_chunks * chunk_bytes);
    const double elems = static_cast<double>(n_chunks) * k_chunk_elems;
    g_sink = g_sink + static_cast<float>(sink);
    std::printf("dequant %-6s %7.2f GB/s in  %7.2f Gelem/s  (%.1f MiB, best of 5)\n", info.name,
                bytes / best_s / 1e9, elems / best_s / 1e9, bytes / (1 << 20));
}

void bench_fp8() {
    const int64_t cols = 7168, rows = static_cast<int64_t>(k_input_bytes) / cols;
    std::mt19937 rng(7);
    std::vector<uint8_t> w(static_cast<size_t>(rows * cols));
    for (auto& b : w) b = static_cast<uint8_t>(rng() & 0x7e);  // no NaN codes
    std::vector<float> scales(static_cast<size_t>((rows + 127) / 128 * (cols / 128)), 0.5f);
    std::vector<float> out(static_cast<size_t>(cols));
    double best_s = 1e30, sink = 0.0;
    for (int rep = 0; rep < 5; ++rep) {
        const double t0 = thread_seconds();
        for (int64_t r = 0; r < rows; ++r) {
            dequantize_fp8_row(w.data() + r * cols, scales.data() + (r / 128) * (cols / 128), cols, out.data());
            sink += out[static_cast<size_t>(r % cols)];
        }
        best_s = std::min(best_s, thread_seconds() - t0);
    }
    g_sink = g_sink + static_cast<float>(sink);
    std::printf("dequant %-6s %7.2f GB/s in  %7.2f Gelem/s  (rows of 7168, best of 5)\n", "fp8", w.size() / best_s / 1e9,
                w.size() / best_s / 1e9);
}

void bench_quant(GgmlType type, size_t n_elems) {
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> x(n_elems);
    for (float& v : x) v = normal(rng);
    std::vector<uint8_t> out(*ggml_bytes(type, n_elems));
    const double t0 = thread_seconds();
    if (!quantize_row(type, x.data(), out.data(), static_cast<int64_t>(n_elems)).ok()) return;
    const double s = thread_seconds() - t0;
    std::printf("quant   %-6s %7.3f GB/s of f32 in  %7.3f Gelem/s\n", ggml_type_name(type), n_elems * 4 / s / 1e9,
                n_elems / s / 1e9);
}

}  // namespace

int main(int argc, char** argv) {
    // Optional argument: only the types whose name contains it ("q4", "fp8", "quant").
    const std::string only = argc > 1 ? argv[1] : "";
    auto wanted = [&](const std::string& name) { return only.empty() || name.find(only) != std::string::npos; };
    const DType types[] = {
        {GgmlType::F32, {}, -1},       {GgmlType::F16, {}, -1},        {GgmlType::BF16, {}, -1},
        {GgmlType::Q8_0, {0}, -1},     {GgmlType::Q4_0, {0}, -1},      {GgmlType::Q4_1, {0, 2}, -1},
        {GgmlType::Q5_0, {0}, -1},     {GgmlType::Q5_1, {0, 2}, -1},   {GgmlType::Q2_K, {80, 82}, -1},
        {GgmlType::Q3_K, {108}, -1},   {GgmlType::Q4_K, {0, 2}, -1},   {GgmlType::Q5_K, {0, 2}, -1},
        {GgmlType::Q6_K, {208}, -1},   {GgmlType::Q8_K, {}, 0},
    };
    std::printf("one thread (thread CPU time), 64 MiB input per type, output in a 64 KiB chunk\n");
    for (const DType& t : types)
        if (wanted(ggml_type_name(t.type))) bench_dequant(t);
    if (wanted("fp8")) bench_fp8();
    if (!wanted("quant")) return 0;
    bench_quant(GgmlType::F16, 16u << 20);
    bench_quant(GgmlType::BF16, 16u << 20);
    bench_quant(GgmlType::Q8_0, 16u << 20);
    bench_quant(GgmlType::Q4_0, 16u << 20);
    bench_quant(GgmlType::Q4_K, 1u << 20);
    bench_quant(GgmlType::Q6_K, 1u << 20);
    return 0;
}
