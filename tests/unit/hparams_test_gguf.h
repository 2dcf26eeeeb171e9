// A tiny GGUF v3 serialiser for the hparams tests: arbitrary metadata and zero-filled F32 tensors, so a test
// can state exactly which keys a file has (missing keys, wrong types, unknown architectures, the split
// MLA layout) without depending on the engine's GgufWriter.
#pragma once

#include <cstdint>
#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

namespace hparams_test {

class GgufBytes {
public:
    void u32(const std::string& key, uint32_t v) { kv(key, 4, &v, 4); }
    void i32(const std::string& key, int32_t v) { kv(key, 5, &v, 4); }
    void f32(const std::string& key, float v) { kv(key, 6, &v, 4); }
    void boolean(const std::string& key, bool v) {
        const uint8_t b = v ? 1 : 0;
        kv(key, 7, &b, 1);
    }
    void str(const std::string& key, const std::string& v) {
        std::vector<uint8_t> payload;
        put_string(payload, v);
        kv(key, 8, payload.data(), payload.size());
    }
    void tensor(const std::string& name, std::vector<uint64_t> ne) { m_tensors.push_back({name, std::move(ne)}); }
    void remove(const std::string& key) {
        for (size_t i = 0; i < m_entries.size(); ++i)
            if (m_entries[i].key == key) m_entries.erase(m_entries.begin() + static_cast<std::ptrdiff_t>(i));
    }

    std::vector<uint8_t> bytes() const {
        std::vector<uint8_t> out;
        put(out, uint32_t{0x46554747});  // "GGUF"
        put(out, uint32_t{3});
        put(out, static_cast<uint64_t>(m_tensors.size()));
        put(out, static_cast<uint64_t>(m_entries.size()));
        for (const Entry& e : m_entries) {
            put_string(out, e.key);
            put(out, e.type);
            out.insert(out.end(), e.payload.begin(), e.payload.end());
        }
        uint64_t offset = 0;
        std::vector<uint64_t> sizes;
        for (const Tensor& t : m_tensors) {
            put_string(out, t.name);
            put(out, static_cast<uint32_t>(t.ne.size()));
            uint64_t n = 1;
            for (uint64_t d : t.ne) {
                put(out, d);
                n *= d;
            }
            put(out, uint32_t{0});  // F32
            put(out, offset);
            sizes.push_back(n * 4);
            offset += (n * 4 + 31) / 32 * 32;
        }
        out.resize((out.size() + 31) / 32 * 32, 0);
        out.resize(out.size() + offset, 0);
        return out;
    }

private:
    struct Tensor {
        std::string name;
        std::vector<uint64_t> ne;
    };
    template <class T>
    static void put(std::vector<uint8_t>& out, T v) {
        uint8_t b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        out.insert(out.end(), b, b + sizeof(T));
    }
    static void put_string(std::vector<uint8_t>& out, const std::string& s) {
        put(out, static_cast<uint64_t>(s.size()));
        out.insert(out.end(), s.begin(), s.end());
    }
    // Setting a key again replaces its value in place (so tests can override one key of a base set).
    void kv(const std::string& key, uint32_t type, const void* payload, size_t n) {
        const auto* p = static_cast<const uint8_t*>(payload);
        Entry e{key, type, std::vector<uint8_t>(p, p + n)};
        for (Entry& old : m_entries)
            if (old.key == key) {
                old = std::move(e);
                return;
            }
        m_entries.push_back(std::move(e));
    }

    struct Entry {
        std::string key;
        uint32_t type;
        std::vector<uint8_t> payload;
    };
    std::vector<Entry> m_entries;
    std::vector<Tensor> m_tensors;
};

}  // namespace hparams_test
