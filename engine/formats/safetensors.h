// safetensors files (Hugging Face): reading from a memory map, sharded folders, and writing.
// Layout (shared/spec/deepseek.md section 7.1): u64 LE header length N, N bytes of UTF-8 JSON starting with
// '{' (trailing spaces allowed), then the byte buffer. Each header entry is
//   "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// with offsets relative to the buffer, end exclusive; the tensors must cover the buffer exactly (no hole,
// no overlap). Data is row-major (C order), little-endian. "__metadata__" maps strings to strings.
#pragma once

#include "core/mapped_file.h"
#include "core/status.h"
#include "formats/ggml_type.h"
#include "formats/tensor_producer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe {

enum class SafetensorsDtype : uint8_t {
    BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, C64,
    F8_E4M3, F8_E5M2, F8_E8M0, F8_E4M3FNUZ, F8_E5M2FNUZ,
    F4, F6_E2M3, F6_E3M2,  // sub-byte: a tensor's total bit count must be a multiple of 8
};

inline constexpr int k_safetensors_dtype_count = 22;

// "F32", "BF16", "F8_E4M3"... exactly as written in headers.
const char* safetensors_dtype_name(SafetensorsDtype dtype);
// Parses a header dtype name; case-sensitive like the format ("f32" is not a dtype). nullopt if unknown.
std::optional<SafetensorsDtype> safetensors_dtype_from_name(std::string_view name);
// Bits per element: 1 byte for BOOL, 4 for F4, 6 for F6_*, 64 for C64 (two F32).
uint32_t safetensors_dtype_bits(SafetensorsDtype dtype);
// Bytes of `n_elements` elements; nullopt when the bit count is not a whole number of bytes or overflows.
std::optional<uint64_t> safetensors_bytes(SafetensorsDtype dtype, uint64_t n_elements);
// The ggml type with the same element encoding (F32, F16, BF16, F64, I8, I16, I32, I64), else nullopt.
// F8_E4M3 has none here: its 128x128 block scales are a model-level convention (GgmlType::F8_E4M3_B128).
std::optional<GgmlType> safetensors_to_ggml(SafetensorsDtype dtype);
// Product of the dimensions (1 for a scalar shape []); nullopt on 64-bit overflow.
std::optional<uint64_t> safetensors_element_count(const std::vector<uint64_t>& shape);

struct SafetensorsTensor {
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::F32;
    std::vector<uint64_t> shape;  // PyTorch order: shape.back() is the fastest-varying dimension
    uint64_t n_elements = 0;
    const uint8_t* data = nullptr;  // into the map; not necessarily aligned for the dtype: use memcpy
    uint64_t n_bytes = 0;
    uint64_t data_offset = 0;       // `begin` of data_offsets, relative to the byte buffer
};

class SafetensorsFile {
public:
    // Maps and parses `path`. Every rule of the format is checked; a failure names the file, the tensor or
    // key, and what was expected.
    static Result<SafetensorsFile> open(const std::string& path);
    // Parses a buffer the caller keeps alive (tests, fuzzing). `name` is used in messages.
    static Result<SafetensorsFile> parse(const uint8_t* data, size_t size, const std::string& name);

    const std::string& path() const { return m_name; }
    uint64_t header_bytes() const { return m_header_bytes; }  // N, the JSON length
    uint64_t data_offset() const { return 8 + m_header_bytes; }  // where the byte buffer starts in the file
    uint64_t file_size() const { return m_size; }

    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    // Tensors in data order (by data_offsets).
    const std::vector<SafetensorsTensor>& tensors() const { return m_tensors; }
    const SafetensorsTensor* find_tensor(std::string_view name) const;

private:
    friend class SafetensorsHeaderParser;
    std::string m_name;
    std::shared_ptr<MappedFile> m_map;  // null when parsing a caller's buffer
    uint64_t m_header_bytes = 0;
    uint64_t m_size = 0;
    std::map<std::string, std::string> m_metadata;
    std::vector<SafetensorsTensor> m_tensors;
    std::unordered_map<std::string, size_t> m_index;
};

// `model.safetensors.index.json`: {"metadata": {"total_size": N, ...}, "weight_map": {tensor: file}}.
struct SafetensorsIndex {
    std::map<std::string, std::string> weight_map;  // tensor name -> shard file name (relative)
    std::map<std::string, std::string> metadata;    // values that are not strings are kept as JSON text
    std::optional<uint64_t> total_size;
};

// Parses index JSON text. Refuses duplicate keys, a missing or non-object weight_map, non-string file
// names, and file names that are empty, absolute or contain "..". `name` is used in messages.
Result<SafetensorsIndex> parse_safetensors_index(std::string_view text, const std::string& name);

// A model as one safetensors file or a folder of shards.
class SafetensorsModel {
public:
    // `path` is a folder, a .safetensors file, or an index .json file. A folder uses
    // model.safetensors.index.json if present, else model.safetensors, else every *.safetensors in it
    // (by name). With an index: every mapped tensor must be in its named shard, missing shards are named,
    // and no tensor may be in two shards; a shard's tensors that the index does not list are still loaded
    // (as transformers does).
    static Result<SafetensorsModel> open(const std::string& path);

    SafetensorsModel() = default;
    SafetensorsModel(SafetensorsModel&&) noexcept = default;
    SafetensorsModel& operator=(SafetensorsModel&&) noexcept = default;
    SafetensorsModel(const SafetensorsModel&) = delete;  // m_tensors points into m_files
    SafetensorsModel& operator=(const SafetensorsModel&) = delete;

    const std::string& folder() const { return m_folder; }
    const std::string& index_path() const { return m_index_path; }  // "" when there is no index
    const std::optional<SafetensorsIndex>& index() const { return m_index; }
    const std::vector<SafetensorsFile>& files() const { return m_files; }
    // The first file's __metadata__.
    const std::map<std::string, std::string>& metadata() const;
    // Every tensor: files in order, each in data order.
    const std::vector<const SafetensorsTensor*>& tensors() const { return m_tensors; }
    const SafetensorsTensor* find_tensor(std::string_view name) const;
    // The file holding tensor `name`, or nullptr.
    const SafetensorsFile* file_of(std::string_view name) const;
    uint64_t total_bytes() const;  // sum of the tensors' n_bytes

private:
    Status add_file(SafetensorsFile file);
    Status check_index() const;
    std::string m_folder;
    std::string m_index_path;
    std::optional<SafetensorsIndex> m_index;
    std::vector<SafetensorsFile> m_files;
    std::vector<const SafetensorsTensor*> m_tensors;
    std::unordered_map<std::string, std::pair<const SafetensorsTensor*, size_t>> m_by_name;  // -> (tensor, file)
};

// Writes safetensors files atomically (temporary file, flush, rename). Tensor data is streamed from the
// caller's pointers, which must stay valid until write()/write_sharded() returns.
class SafetensorsWriter {
public:
    // Fails when the name is taken, is "__metadata__" or is not valid UTF-8, or when n_bytes is not the
    // size of `shape` in `dtype` (e.g. F4 [3] is 12 bits: refused).
    Status add_tensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                      const void* data, uint64_t n_bytes);
    // The same checks; the data comes from `producer` while the file is written (streaming a model larger
    // than memory). The producer may be called again if the writer writes again.
    Status add_tensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                      uint64_t n_bytes, TensorProducer producer);
    // Sets a __metadata__ entry (replaces an existing key). Fails when key or value is not valid UTF-8.
    Status set_metadata(const std::string& key, const std::string& value);

    size_t tensor_count() const { return m_tensors.size(); }
    uint64_t data_bytes() const;  // sum of the tensors' n_bytes

    // One file: the header (padded with spaces to a multiple of 8 bytes), then the tensors' data in the
    // order they were added, contiguous.
    Status write(const std::string& path) const;
    // Shards of at most max_shard_bytes of tensor data each (a larger tensor gets a shard of its own), in
    // the order added: "<base>-00001-of-0000M.safetensors" + "<base>.safetensors.index.json". When one
    // shard suffices, writes "<base>.safetensors" only and removes a stale index of that name.
    // Creates `folder` if needed.
    Status write_sharded(const std::string& folder, const std::string& base_name = "model",
                         uint64_t max_shard_bytes = 5'000'000'000ull) const;

private:
    struct PendingTensor {
        std::string name;
        SafetensorsDtype dtype = SafetensorsDtype::F32;
        std::vector<uint64_t> shape;
        const void* data = nullptr;
        uint64_t n_bytes = 0;
        TensorProducer producer;  // set instead of data for streamed tensors
    };
    Status add_pending(PendingTensor tensor);
    static Status write_data(AtomicFileWriter& out, const std::string& path, const PendingTensor& t);
    Status write_range(const std::string& path, size_t first, size_t last) const;
    std::map<std::string, std::string> m_metadata;
    std::vector<PendingTensor> m_tensors;
    std::unordered_map<std::string, size_t> m_names;
};

}  // namespace moe
