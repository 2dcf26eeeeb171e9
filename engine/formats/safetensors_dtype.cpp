// safetensors dtypes: names as written in headers, element sizes in bits, ggml equivalents.
#include "formats/safetensors.h"

#include <limits>

namespace moe {

namespace {

struct DtypeEntry {
    SafetensorsDtype dtype;
    const char* name;
    uint32_t bits;
};

// Sizes follow the reference implementation (huggingface/safetensors Dtype::bitsize).
constexpr DtypeEntry k_dtypes[k_safetensors_dtype_count] = {
    {SafetensorsDtype::BOOL, "BOOL", 8},
    {SafetensorsDtype::U8, "U8", 8},
    {SafetensorsDtype::I8, "I8", 8},
    {SafetensorsDtype::I16, "I16", 16},
    {SafetensorsDtype::U16, "U16", 16},
    {SafetensorsDtype::I32, "I32", 32},
    {SafetensorsDtype::U32, "U32", 32},
    {SafetensorsDtype::I64, "I64", 64},
    {SafetensorsDtype::U64, "U64", 64},
    {SafetensorsDtype::F16, "F16", 16},
    {SafetensorsDtype::BF16, "BF16", 16},
    {SafetensorsDtype::F32, "F32", 32},
    {SafetensorsDtype::F64, "F64", 64},
    {SafetensorsDtype::C64, "C64", 64},
    {SafetensorsDtype::F8_E4M3, "F8_E4M3", 8},
    {SafetensorsDtype::F8_E5M2, "F8_E5M2", 8},
    {SafetensorsDtype::F8_E8M0, "F8_E8M0", 8},
    {SafetensorsDtype::F8_E4M3FNUZ, "F8_E4M3FNUZ", 8},
    {SafetensorsDtype::F8_E5M2FNUZ, "F8_E5M2FNUZ", 8},
    {SafetensorsDtype::F4, "F4", 4},
    {SafetensorsDtype::F6_E2M3, "F6_E2M3", 6},
    {SafetensorsDtype::F6_E3M2, "F6_E3M2", 6},
};

const DtypeEntry* entry(SafetensorsDtype dtype) {
    const auto i = static_cast<size_t>(dtype);
    return i < static_cast<size_t>(k_safetensors_dtype_count) ? &k_dtypes[i] : nullptr;
}

}  // namespace

const char* safetensors_dtype_name(SafetensorsDtype dtype) {
    const DtypeEntry* e = entry(dtype);
    return e != nullptr ? e->name : "?";
}

std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name) {
    for (const DtypeEntry& e : k_dtypes)
        if (name == e.name) return e.dtype;
    return std::nullopt;
}

uint32_t safetensors_dtype_bits(SafetensorsDtype dtype) {
    const DtypeEntry* e = entry(dtype);
    return e != nullptr ? e->bits : 0;
}

std::optional<uint64_t> safetensors_bytes(SafetensorsDtype dtype, uint64_t n_elements) {
    const uint64_t bits = safetensors_dtype_bits(dtype);
    if (bits == 0) return std::nullopt;
    if (n_elements > std::numeric_limits<uint64_t>::max() / bits) return std::nullopt;
    const uint64_t total_bits = n_elements * bits;
    if (total_bits % 8 != 0) return std::nullopt;
    return total_bits / 8;
}

std::optional<GgmlType> safetensors_to_ggml(SafetensorsDtype dtype) {
    switch (dtype) {
        case SafetensorsDtype::F32: return GgmlType::F32;
        case SafetensorsDtype::F16: return GgmlType::F16;
        case SafetensorsDtype::BF16: return GgmlType::BF16;
        case SafetensorsDtype::F64: return GgmlType::F64;
        case SafetensorsDtype::I8: return GgmlType::I8;
        case SafetensorsDtype::I16: return GgmlType::I16;
        case SafetensorsDtype::I32: return GgmlType::I32;
        case SafetensorsDtype::I64: return GgmlType::I64;
        default: return std::nullopt;
    }
}

std::optional<uint64_t> safetensors_element_count(const std::vector<uint64_t>& shape) {
    // A zero dimension makes the tensor empty whatever the others are, so it is not an overflow.
    for (const uint64_t d : shape)
        if (d == 0) return 0;
    uint64_t n = 1;
    for (const uint64_t d : shape) {
        if (n > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
        n *= d;
    }
    return n;
}

}  // namespace moe
