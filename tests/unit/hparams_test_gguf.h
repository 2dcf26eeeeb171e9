// GGUF files with exactly the keys a test states (missing keys, wrong types, unknown architectures, the split
// MLA layout) and zero-filled F32 tensors, serialised by the engine's GgufWriter. Keys can be replaced in
// place or removed, which GgufWriter's append-or-replace interface does not offer by itself.
#pragma once

#include "check.h"
#include "formats/gguf.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace hparams_test {

class GgufBytes {
public:
    void u32(const std::string& key, uint32_t v) { kv(key, moe::GgufValue::make_u32(v)); }
    void i32(const std::string& key, int32_t v) { kv(key, moe::GgufValue::make_i32(v)); }
    void f32(const std::string& key, float v) { kv(key, moe::GgufValue::make_f32(v)); }
    void boolean(const std::string& key, bool v) { kv(key, moe::GgufValue::make_bool(v)); }
    void str(const std::string& key, const std::string& v) { kv(key, moe::GgufValue::make_string(v)); }
    void tensor(const std::string& name, std::vector<uint64_t> ne) { m_tensors.push_back({name, std::move(ne)}); }
    void remove(const std::string& key) {
        for (size_t i = 0; i < m_entries.size(); ++i)
            if (m_entries[i].first == key) m_entries.erase(m_entries.begin() + static_cast<std::ptrdiff_t>(i));
    }

    // The file's bytes, written by GgufWriter (a test failure if the writer refuses).
    std::vector<uint8_t> bytes() const {
        moe::GgufWriter writer;
        for (const auto& [key, value] : m_entries) writer.set(key, value);
        std::vector<std::vector<float>> data;  // zeros, alive until write()
        data.reserve(m_tensors.size());
        for (const auto& [name, ne] : m_tensors) {
            uint64_t n = 1;
            for (uint64_t d : ne) n *= d;
            data.emplace_back(n, 0.0f);
            REQUIRE_OK(writer.add_tensor(name, moe::GgmlType::F32, ne, data.back().data(), n * sizeof(float)));
        }
        const std::string path = moe_test::temp_dir() + "/hparams_test.gguf";
        REQUIRE_OK(writer.write(path));
        std::ifstream in(path, std::ios::binary);
        return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }

private:
    // Setting a key again replaces its value in place (so tests can override one key of a base set).
    void kv(const std::string& key, moe::GgufValue value) {
        for (auto& entry : m_entries)
            if (entry.first == key) {
                entry.second = std::move(value);
                return;
            }
        m_entries.emplace_back(key, std::move(value));
    }

    std::vector<std::pair<std::string, moe::GgufValue>> m_entries;
    std::vector<std::pair<std::string, std::vector<uint64_t>>> m_tensors;
};

}  // namespace hparams_test
