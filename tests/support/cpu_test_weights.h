// Random weights of every CPU matmul type and activations for the CPU kernel tests (test_cpu_matmul,
// test_cpu_moe), and the switch between the SIMD and scalar kernels.
#pragma once

#include "backend/backend.h"
#include "backend/cpu/cpu_matmul.h"
#include "check.h"
#include "core/half.h"
#include "formats/quants.h"

#include <cstring>
#include <random>
#include <vector>

namespace moe_test::cpu_weights {

using namespace moe;

struct TypeDesc {
    GgmlType type;
    int block;
    int bytes;
    std::vector<int> fp16_fields;  // byte offsets of fp16 scales in a block, set to sane values
};

inline const std::vector<TypeDesc>& all_types() {
    static const std::vector<TypeDesc> t = {
        {GgmlType::F32, 1, 4, {}},         {GgmlType::F16, 1, 2, {}},          {GgmlType::BF16, 1, 2, {}},
        {GgmlType::Q8_0, 32, 34, {0}},     {GgmlType::Q4_0, 32, 18, {0}},      {GgmlType::Q4_1, 32, 20, {0, 2}},
        {GgmlType::Q5_0, 32, 22, {0}},     {GgmlType::Q5_1, 32, 24, {0, 2}},   {GgmlType::Q2_K, 256, 84, {80, 82}},
        {GgmlType::Q3_K, 256, 110, {108}}, {GgmlType::Q4_K, 256, 144, {0, 2}}, {GgmlType::Q5_K, 256, 176, {0, 2}},
        {GgmlType::Q6_K, 256, 210, {208}}, {GgmlType::F8_E4M3_B128, 1, 1, {}},
    };
    return t;
}

struct Weights {
    MatrixView view;
    std::vector<uint8_t> data;
    std::vector<float> scales;  // FP8 block scales
};

// Random valid weights: float types from random floats, quantized types from random bytes with sane fp16
// scales (every bit pattern of the quants is valid), FP8 from random non-NaN bytes and random block scales.
inline Weights make_weights(const TypeDesc& t, int64_t rows, int64_t cols, std::mt19937& rng, int64_t pad_bytes = 0) {
    Weights w;
    std::normal_distribution<float> nd(0.0f, 1.0f);
    const int64_t row_bytes = cols / t.block * t.bytes + pad_bytes;
    w.data.assign(static_cast<size_t>(rows * row_bytes), 0);
    for (int64_t r = 0; r < rows; ++r) {
        uint8_t* row = w.data.data() + r * row_bytes;
        if (t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16) {
            std::vector<float> v(static_cast<size_t>(cols));
            for (auto& f : v) f = nd(rng);
            REQUIRE_OK(quantize_row(t.type, v.data(), row, cols));
            continue;
        }
        for (int64_t i = 0; i < cols / t.block * t.bytes; ++i) row[i] = static_cast<uint8_t>(rng());
        if (t.type == GgmlType::F8_E4M3_B128) {
            for (int64_t i = 0; i < cols; ++i)
                if ((row[i] & 0x7f) == 0x7f) row[i] = 0x3c;
            continue;
        }
        for (int64_t b = 0; b < cols / t.block; ++b)
            for (int off : t.fp16_fields) {
                const uint16_t h = fp32_to_fp16(std::uniform_real_distribution<float>(0.002f, 0.05f)(rng) *
                                                (rng() % 2 ? 1.0f : -1.0f));
                std::memcpy(row + b * t.bytes + off, &h, 2);
            }
    }
    w.view.type = t.type;
    w.view.data = w.data.data();
    w.view.rows = rows;
    w.view.cols = cols;
    w.view.row_bytes = static_cast<uint64_t>(row_bytes);
    if (t.type == GgmlType::F8_E4M3_B128) {
        w.view.scale_cols = (cols + 127) / 128;
        w.scales.resize(static_cast<size_t>(((rows + 127) / 128) * w.view.scale_cols));
        for (auto& s : w.scales) s = std::uniform_real_distribution<float>(0.001f, 0.01f)(rng);
        w.view.block_scales = reinterpret_cast<const uint8_t*>(w.scales.data());
    }
    return w;
}

inline std::vector<float> random_x(int64_t n, std::mt19937& rng) {
    std::normal_distribution<float> nd(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = nd(rng) * (rng() % 17 == 0 ? 8.0f : 1.0f);
    return x;
}

struct SimdGuard {
    explicit SimdGuard(bool on) { cpu::set_simd_enabled(on); }
    ~SimdGuard() { cpu::set_simd_enabled(true); }
};

inline std::vector<bool> simd_modes() {
    return cpu::simd_available() ? std::vector<bool>{true, false} : std::vector<bool>{false};
}

}  // namespace moe_test::cpu_weights
