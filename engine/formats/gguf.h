// GGUF v3 (and v2) files: metadata and tensor table, tensor data used from the memory map.
// Layout: shared/spec/deepseek.md section 6.
#pragma once

#include "core/mapped_file.h"
#include "core/status.h"
#include "formats/ggml_type.h"
#include "formats/tensor_producer.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe {

// Limits shared by the reader and the writer (a file the writer produces is always readable).
constexpr uint32_t k_gguf_default_alignment = 32;
constexpr size_t k_gguf_max_tensor_name = 64;   // bytes, as in ggml (GGML_MAX_NAME)
constexpr size_t k_gguf_max_key = 65535;        // bytes
constexpr int k_gguf_max_array_depth = 8;       // levels of arrays inside one value
constexpr uint32_t k_gguf_max_dims = 4;
// Total array items of one file's metadata. Each item costs ~100 bytes in memory, so this caps what a
// malicious file can make us allocate (~1.6 GB); real files hold < 1M (tokens + merges + token types).
constexpr uint64_t k_gguf_max_array_items = 16u << 20;

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

    // One factory per value type; the value keeps that exact type when written.
    static GgufValue make_u8(uint8_t v);
    static GgufValue make_i8(int8_t v);
    static GgufValue make_u16(uint16_t v);
    static GgufValue make_i16(int16_t v);
    static GgufValue make_u32(uint32_t v);
    static GgufValue make_i32(int32_t v);
    static GgufValue make_u64(uint64_t v);
    static GgufValue make_i64(int64_t v);
    static GgufValue make_f32(float v);
    static GgufValue make_f64(double v);
    static GgufValue make_bool(bool v);
    static GgufValue make_string(std::string v);
    // Every item must have type `elem_type` (checked by GgufWriter::write); items may be arrays.
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

    // Frees the metadata, for a reader that has taken what it needs from it (a 100k-token vocabulary's values take
    // ~20 MB of heap); metadata() is empty after, the tensors stay.
    void release_metadata();

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
    // `path` named "<prefix>-0000N-of-0000M.gguf" opens all M shards (llama.cpp gguf-split layout:
    // split.no is 0-based, split.count and split.tensors.count agree in every shard); any other name opens
    // one file. Fails naming the missing shard, a disagreeing key, or a tensor found in two shards.
    static Result<GgufModel> open(const std::string& path);

    GgufModel() = default;
    GgufModel(GgufModel&&) noexcept = default;
    GgufModel& operator=(GgufModel&&) noexcept = default;
    // Copies rebuild the tensor index so it points into the copy's own files.
    GgufModel(const GgufModel& other);
    GgufModel& operator=(const GgufModel& other);

    const GgufFile& primary() const { return m_files.front(); }
    const std::vector<GgufFile>& files() const { return m_files; }
    const std::vector<const GgufTensorInfo*>& tensors() const { return m_tensors; }
    const GgufTensorInfo* find_tensor(std::string_view name) const;
    uint64_t total_bytes() const;  // sum of the shard file sizes
    void release_metadata();       // GgufFile::release_metadata of every shard

private:
    Status index_tensors();
    std::vector<GgufFile> m_files;
    std::vector<const GgufTensorInfo*> m_tensors;
    std::unordered_map<std::string, const GgufTensorInfo*> m_index;
};

// Split shard names: "<prefix>-0000N-of-0000M.gguf" with N 1-based (llama.cpp's llama_split_path).
std::string gguf_split_path(const std::string& prefix, uint32_t shard_no, uint32_t shard_count);
// Recognises a shard name; on success fills prefix (the path without "-0000N-of-0000M.gguf"), the 1-based
// shard number and the count. False for any other name, or N == 0, N > M.
bool gguf_parse_split_path(const std::string& path, std::string& prefix, uint32_t& shard_no, uint32_t& shard_count);

// Writes a GGUF v3 file (atomically: temporary file, flush, rename). Tensor data is streamed from the
// caller's pointers, each tensor padded to the alignment.
class GgufWriter {
public:
    // A power of two; written as general.alignment (u32) when it is not 32. write() checks it.
    void set_alignment(uint32_t alignment) { m_alignment = alignment; }
    uint32_t alignment() const { return m_alignment; }
    // Replaces an existing key, keeping its first position. "general.alignment" with a u32 value is the
    // same as set_alignment(); with another type it is kept, and write() refuses it.
    void set(const std::string& key, GgufValue value);
    // Checks the name (unique, 1..64 bytes), 1..4 dimensions, the row length ne[0] against the type's block
    // size and that n_bytes == ggml_bytes(type, product of ne). `data` must stay valid until write().
    Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                      uint64_t n_bytes);
    // The same checks, but the data comes from `producer` while the file is written (so a model larger than
    // memory can be streamed). The producer may be called more than once if the file is written again.
    Status add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, uint64_t n_bytes,
                      TensorProducer producer);
    // Checks every key and value (types, ranges, array item types, nesting), then writes the file.
    Status write(const std::string& path) const;
    // Writes shards "<prefix>-0000N-of-0000M.gguf" as llama.cpp's gguf-split does: all metadata in the
    // first shard, every shard carries split.no (u16, 0-based), split.count (u16) and split.tensors.count
    // (i32). A new shard starts when the next tensor's padded data would take the current shard past
    // max_shard_bytes (a tensor larger than that gets a shard of its own). `prefix_or_path` may be a prefix
    // or a path ending in ".gguf" (and "-0000N-of-0000M.gguf"), which is stripped. Returns the paths.
    Result<std::vector<std::string>> write_split(const std::string& prefix_or_path, uint64_t max_shard_bytes) const;

private:
    struct PendingTensor {
        std::string name;
        GgmlType type = GgmlType::F32;
        std::vector<uint64_t> ne;
        const void* data = nullptr;
        uint64_t n_bytes = 0;
        TensorProducer producer;  // set instead of data for streamed tensors
    };
    Status add_pending(PendingTensor tensor);
    using KeyValue = std::pair<std::string, GgufValue>;
    Status check_metadata(const std::string& path) const;
    Status write_file(const std::string& path, const std::vector<const KeyValue*>& kv,
                      const std::vector<const PendingTensor*>& tensors) const;
    uint32_t m_alignment = 32;
    std::vector<std::pair<std::string, GgufValue>> m_kv;
    std::vector<PendingTensor> m_tensors;
};

}  // namespace moe
