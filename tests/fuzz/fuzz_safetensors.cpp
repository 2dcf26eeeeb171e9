// Fuzz target: the safetensors header parser and the index parser. Any input must be accepted or refused
// with a message; an accepted file must satisfy the format's invariants, and every tensor byte it reports
// is read so that ASan catches a range outside the input.
#include "formats/safetensors.h"

#include <cstdint>
#include <cstring>
#include <string_view>

namespace {

void check(bool condition) {
    if (!condition) __builtin_trap();
}

void check_file(const moe::SafetensorsFile& file, const uint8_t* data, size_t size) {
    check(file.data_offset() <= size);
    uint64_t expected_offset = 0;
    uint8_t sum = 0;
    for (const moe::SafetensorsTensor& t : file.tensors()) {
        const auto n_elements = moe::safetensors_element_count(t.shape);
        check(n_elements.has_value() && *n_elements == t.n_elements);
        const auto n_bytes = moe::safetensors_bytes(t.dtype, t.n_elements);
        check(n_bytes.has_value() && *n_bytes == t.n_bytes);
        check(t.data_offset == expected_offset);  // tiled in data order
        check(t.data == data + file.data_offset() + t.data_offset);
        check(file.find_tensor(t.name) == &t);
        for (uint64_t i = 0; i < t.n_bytes; ++i) sum = static_cast<uint8_t>(sum + t.data[i]);
        expected_offset += t.n_bytes;
    }
    check(file.data_offset() + expected_offset == size);
    volatile uint8_t sink = sum;
    (void)sink;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto file = moe::SafetensorsFile::parse(data, size, "fuzz.safetensors");
    if (file.ok())
        check_file(*file, data, size);
    else
        check(file.error().rfind("fuzz.safetensors: ", 0) == 0);

    // The same bytes as an index.json (and, past the 8-byte length, the header text as one).
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto index = moe::parse_safetensors_index(text, "fuzz.index.json");
    if (!index.ok()) check(!index.error().empty());
    if (size > 8) (void)moe::parse_safetensors_index(text.substr(8), "fuzz.index.json");
    return 0;
}
