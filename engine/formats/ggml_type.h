// ggml tensor types as stored in GGUF files: ids, block sizes and bytes per block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace moe {

enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
    I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
    // Not a ggml type: FP8 E4M3 with 128x128 block scales (DeepSeek-V3 safetensors). The scales live in a
    // sibling tensor; this id never appears in a GGUF file.
    F8_E4M3_B128 = 1000,
};

struct GgmlTypeInfo {
    const char* name = "";        // "q4_K" style, as llama.cpp prints it
    uint32_t block_elems = 0;     // elements per block
    uint32_t block_bytes = 0;     // bytes per block
    bool quantized = false;
};

// The traits of a known type, or nullopt for an id this program does not know.
std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id);
const char* ggml_type_name(GgmlType type);  // "?" for unknown ids

// Bytes of `n_elements` elements of `type`; nullopt when n_elements is not a multiple of the block size or
// the byte count overflows 64 bits.
std::optional<uint64_t> ggml_bytes(GgmlType type, uint64_t n_elements);

// Parses "f32", "q4_k", "Q8_0", "bf16"... (case-insensitive).
std::optional<GgmlType> ggml_type_from_name(const std::string& name);

}  // namespace moe
