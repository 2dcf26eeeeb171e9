// Fuzzes the GGUF parser: any input must be accepted or refused with a message, never crash, hang or read
// out of bounds. Accepted files are walked completely (every value, every tensor's first and last data
// byte) and queried through the typed getters, so a wrong bound or pointer shows up under ASan.
#include "formats/gguf.h"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace {

volatile uint64_t g_sink = 0;  // keeps the walks from being optimised away

void touch(const moe::GgufValue& v) {
    g_sink = g_sink + v.u + static_cast<uint64_t>(v.i) + static_cast<uint64_t>(v.f != 0.0) + v.str.size();
    if (!v.str.empty()) g_sink = g_sink + static_cast<uint8_t>(v.str.front()) + static_cast<uint8_t>(v.str.back());
    for (const moe::GgufValue& item : v.items) touch(item);
}

void query(const moe::GgufFile& file, const std::string& key) {
    // Results are ignored: only the absence of crashes and sanitizer reports matters here.
    g_sink = g_sink + file.get_uint(key).ok() + file.get_int(key).ok() + file.get_float(key).ok() +
             file.get_bool(key).ok() + file.get_string(key).ok() + file.get_string_array(key).ok() +
             file.get_int_array(key).ok() + file.get_float_array(key).ok();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto file = moe::GgufFile::parse(data, size, "fuzz.gguf");
    if (!file.ok()) {
        // A refusal must say which file it is about.
        if (file.error().rfind("fuzz.gguf: ", 0) != 0) {
            std::fprintf(stderr, "refusal without the file name: %s\n", file.error().c_str());
            std::abort();
        }
        return 0;
    }
    for (const auto& [key, value] : file->metadata()) {
        touch(value);
        if (file->find(key) != &value) std::abort();  // the index points at the first (only) entry
        query(*file, key);
    }
    query(*file, "general.architecture");
    for (const moe::GgufTensorInfo& t : file->tensors()) {
        if (t.n_bytes > 0) g_sink = g_sink + t.data[0] + t.data[t.n_bytes - 1];
        if (file->find_tensor(t.name) != &t) std::abort();
        if (t.n_bytes > file->file_size() || file->data_offset() + t.offset + t.n_bytes > file->file_size())
            std::abort();
    }
    return 0;
}
