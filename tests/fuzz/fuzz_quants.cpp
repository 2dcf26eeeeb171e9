// Fuzz target for the tensor-type conversions: arbitrary bytes as quantized blocks of every type, as
// floats to quantize (NaN, inf, subnormals), and as FP8 matrices with arbitrary shapes and block sizes.
// Input: byte 0 selects the type, byte 1 an FP8 shape; the rest is data. Must never crash or hit UB.
#include "formats/quants.h"

#include <cstdint>
#include <cstring>
#include <vector>

using namespace moe;

namespace {

constexpr GgmlType k_types[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
    GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
    GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::IQ2_XXS, GgmlType::Q8_1,
};
constexpr size_t k_n_types = sizeof k_types / sizeof k_types[0];

void dequantize_bytes(GgmlType type, const uint8_t* data, size_t size) {
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info) return;
    const size_t blocks = size / info->block_bytes;
    std::vector<float> out(blocks * info->block_elems + 1);
    // Whole blocks succeed for supported types; a partial block must be refused, not read past the end.
    (void)dequantize_row(type, data, out.data(), static_cast<int64_t>(blocks * info->block_elems));
    if (info->block_elems > 1) {
        const Status partial = dequantize_row(type, data, out.data(), static_cast<int64_t>(blocks * info->block_elems) + 1);
        if (partial.ok()) __builtin_trap();
    }
}

void quantize_floats(GgmlType type, const uint8_t* data, size_t size) {
    const size_t n = (size / 4) / 256 * 256;  // a multiple of every block size
    if (n == 0 || !can_quantize(type)) return;
    std::vector<float> x(n);
    std::memcpy(x.data(), data, n * 4);
    std::vector<uint8_t> q(*ggml_bytes(type, n));
    std::vector<float> y(n);
    if (quantize_row(type, x.data(), q.data(), static_cast<int64_t>(n)).ok())
        (void)dequantize_row(type, q.data(), y.data(), static_cast<int64_t>(n));
}

void fp8_matrix(uint8_t shape, const uint8_t* data, size_t size) {
    const int64_t cols = 1 + (shape & 15), block = 1 + (shape >> 4);
    const int64_t rows = static_cast<int64_t>(size) / cols;
    if (rows == 0) return;
    const int64_t scale_rows = (rows + block - 1) / block, scale_cols = (cols + block - 1) / block;
    std::vector<float> scales(static_cast<size_t>(scale_rows * scale_cols), 0.5f);
    std::vector<float> out(static_cast<size_t>(rows * cols));
    (void)dequantize_fp8_block_scaled(data, scales.data(), rows, cols, out.data(), block);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const GgmlType type = k_types[data[0] % k_n_types];
    const uint8_t shape = data[1];
    data += 2;
    size -= 2;
    dequantize_bytes(type, data, size);
    quantize_floats(type, data, size);
    fp8_matrix(shape, data, size);
    return 0;
}
