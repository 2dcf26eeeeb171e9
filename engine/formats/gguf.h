// GGUF v3 (and v2) files: metadata and tensor table, tensor data used from the memory map.
// Layout: shared/spec/deepseek.md section 6.
#pragma once

#include "core/mapped_file.h"
#include "core/status.h"
#include "formats/ggml_type.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe {

enum class GgufValueType : uint32_t {
    Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7,
    String = 8, Array = 9, Uint64 = 10, Int64 = 11, Float64 = 12,
};

const char* gguf_value_type_name(GgufValueType type);

// One metadata value. Scalars keep their declared type; integers are held widened (u for unsigned and
// bool, i for signed), floats as double. Arrays hold their element type and items (arrays may nest).
struct GgufValue {
    GgufValueType type = GgufValueType::Uint8;
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0.0;
    std::string str;
    GgufValueType elem_type = GgufValueType::Uint8;  // arrays only
    std::vector<GgufValue> items;                    // arrays only

    bool is_integer() const;
    bool is_float() const { return type == GgufValueType::Float32 || type == GgufValueType::Float64; }
    bool is_number() const { return is_integer() || is_float(); }

    static GgufValue make_u32(uint32_t v);
    static GgufValue make_i32(int32_t v);
    static GgufValue make_u64(uint64_t v);
    static GgufValue make_f32(float v);
    static GgufValue make_bool(bool v);
    static GgufValue make_string(std::string v);
    static GgufValue make_array(GgufValueType elem_type, std::vector<GgufValue> items);
    static GgufValue make_string_array(const std::vector<std::string>& v);
    static GgufValue make_i32_array(const std::vector<int32_t>& v);
    static GgufValue make_f32_array(const std::vector<float>& v);
};

struct GgufTensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    std::array<uint64_t, 4> ne = {1, 1, 1, 1};  // ne[0] is the innermost (fastest-varying) dimension
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;      // relative to the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;  // into the memory map (or the parsed buffer)
};

class GgufFile {
public:
    // Maps and parses `path`. Every length, count, offset and type is checked; a failure names the file,
    // the key or tensor, and what was expected.
    static Result<GgufFile> open(const std::string& path);
    // Parses a buffer the caller keeps alive (fuzzing, tests). `name` is used in messages.
    static Result<GgufFile> parse(const uint8_t* data, size_t size, const std::string& name);

    const std::string& path() const { return m_name; }
    uint32_t version() const { return m_version; }
    uint32_t alignment() const { return m_alignment; }
    uint64_t data_offset() const { return m_data_offset; }
    uint64_t file_size() const { return m_size; }

    // Metadata in file order.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return m_kv; }
    const GgufValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed getters: fail with "<file>: key '<key>': missing" or "...: expected <type>, found <type>".
    // Integers accept any integer type whose value fits; floats accept any number.
    Result<uint64_t> get_uint(std::string_view key) const;
    Result<int64_t> get_int(std::string_view key) const;
    Result<double> get_float(std::string_view key) const;
    Result<bool> get_bool(std::string_view key) const;
    Result<std::string> get_string(std::string_view key) const;
    Result<std::vector<std::string>> get_string_array(std::string_view key) const;
    Result<std::vector<int64_t>> get_int_array(std::string_view key) const;
    Result<std::vector<double>> get_float_array(std::string_view key) const;

    const std::vector<GgufTensorInfo>& tensors() const { return m_tensors; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;

private:
    friend class GgufParser;
    std::string m_name;
    std::shared_ptr<MappedFile> m_map;  // null when parsing a caller's buffer
    uint32_t m_version = 0;
    uint32_t m_alignment = 32;
    uint64_t m_data_offset = 0;
    uint64_t m_size = 0;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::unordered_map<std::string, size_t> m_kv_index;
    std::vector<GgufTensorInfo> m_tensors;
    std::unordered_map<std::string, size_t> m_tensor_index;
};

// A model stored as one GGUF file or as split files "name-0000N-of-0000M.gguf". Opening any shard (or the
// first) opens them all; metadata comes from the first shard, tensors from all of them.
class GgufModel {
public:
    static Result<GgufModel> open(const std::string& path);

    const GgufFile& primary() const { return m_files.front(); }
    const std::vector<GgufFile>& files() const { return m_files; }
    const std::vector<const GgufTensorInfo*>& tensors() const { return m_tensors; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    uint64_t total_bytes() const;  // sum of the shard file sizes

private:
    std::vector<GgufFile> m_files;
    std::vector<const GgufTensorInfo*> m_tensors;
    std::unordered_map<std::string, const GgufTensorInfo*> m_index;
};

// Writes a GGUF v3 file (atomically: temporary file, flush, rename). Tensor data is streamed from the
// caller's pointers, padded to the alignment.
class GgufWriter {
public:
    void set_alignment(uint32_t alignment) { m_alignment = alignment; }
    void set(const std::string& key, GgufValue value);  // replaces an existing key, keeps first position
    // `data` must stay valid until write(); its size must equal ggml_bytes(type, product of ne).
    Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                      uint64_t n_bytes);
    Status write(const std::string& path) const;

private:
    struct PendingTensor {
        std::string name;
        GgmlType type;
        std::vector<uint64_t> ne;
        const void* data;
        uint64_t n_bytes;
    };
    uint32_t m_alignment = 32;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::vector<PendingTensor> m_tensors;
};

}  // namespace moe
