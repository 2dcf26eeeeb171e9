#include "formats/ggml_type.h"

#include <algorithm>
#include <cctype>

namespace moe {

namespace {

struct Entry {
    GgmlType type;
    GgmlTypeInfo info;
};

// Block layouts: ggml-common.h (sizes per block of block_elems values).
constexpr Entry k_types[] = {
    {GgmlType::F32, {"f32", 1, 4, false}},
    {GgmlType::F16, {"f16", 1, 2, false}},
    {GgmlType::Q4_0, {"q4_0", 32, 18, true}},
    {GgmlType::Q4_1, {"q4_1", 32, 20, true}},
    {GgmlType::Q5_0, {"q5_0", 32, 22, true}},
    {GgmlType::Q5_1, {"q5_1", 32, 24, true}},
    {GgmlType::Q8_0, {"q8_0", 32, 34, true}},
    {GgmlType::Q8_1, {"q8_1", 32, 36, true}},
    {GgmlType::Q2_K, {"q2_K", 256, 84, true}},
    {GgmlType::Q3_K, {"q3_K", 256, 110, true}},
    {GgmlType::Q4_K, {"q4_K", 256, 144, true}},
    {GgmlType::Q5_K, {"q5_K", 256, 176, true}},
    {GgmlType::Q6_K, {"q6_K", 256, 210, true}},
    {GgmlType::Q8_K, {"q8_K", 256, 292, true}},
    {GgmlType::IQ2_XXS, {"iq2_xxs", 256, 66, true}},
    {GgmlType::IQ2_XS, {"iq2_xs", 256, 74, true}},
    {GgmlType::IQ3_XXS, {"iq3_xxs", 256, 98, true}},
    {GgmlType::IQ1_S, {"iq1_s", 256, 50, true}},
    {GgmlType::IQ4_NL, {"iq4_nl", 32, 18, true}},
    {GgmlType::IQ3_S, {"iq3_s", 256, 110, true}},
    {GgmlType::IQ2_S, {"iq2_s", 256, 82, true}},
    {GgmlType::IQ4_XS, {"iq4_xs", 256, 136, true}},
    {GgmlType::I8, {"i8", 1, 1, false}},
    {GgmlType::I16, {"i16", 1, 2, false}},
    {GgmlType::I32, {"i32", 1, 4, false}},
    {GgmlType::I64, {"i64", 1, 8, false}},
    {GgmlType::F64, {"f64", 1, 8, false}},
    {GgmlType::IQ1_M, {"iq1_m", 256, 56, true}},
    {GgmlType::BF16, {"bf16", 1, 2, false}},
    {GgmlType::TQ1_0, {"tq1_0", 256, 54, true}},
    {GgmlType::TQ2_0, {"tq2_0", 256, 66, true}},
    {GgmlType::MXFP4, {"mxfp4", 32, 17, true}},
    {GgmlType::F8_E4M3_B128, {"f8_e4m3", 1, 1, true}},
};

}  // namespace

std::optional<GgmlTypeInfo> ggml_type_info(uint32_t id) {
    for (const Entry& e : k_types)
        if (static_cast<uint32_t>(e.type) == id) return e.info;
    return std::nullopt;
}

const char* ggml_type_name(GgmlType type) {
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    return info ? info->name : "?";
}

std::optional<uint64_t> ggml_bytes(GgmlType type, uint64_t n_elements) {
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info || n_elements % info->block_elems != 0) return std::nullopt;
    const uint64_t blocks = n_elements / info->block_elems;
    if (blocks != 0 && info->block_bytes > UINT64_MAX / blocks) return std::nullopt;
    return blocks * info->block_bytes;
}

std::optional<GgmlType> ggml_type_from_name(const std::string& name) {
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    for (const Entry& e : k_types) {
        std::string n = e.info.name;
        std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
        if (n == lower) return e.type;
    }
    return std::nullopt;
}

}  // namespace moe
