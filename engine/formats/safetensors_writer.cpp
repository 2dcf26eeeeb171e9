// Writing safetensors files and sharded folders. The header JSON is assembled by hand (names escaped by
// nlohmann) so that it keeps the order the tensors were added in, at linear cost.
#include "formats/json_strict.h"
#include "formats/safetensors.h"

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace moe {

namespace fs = std::filesystem;

namespace {

using json = nlohmann::json;

// Callers have checked the text is valid UTF-8, so dump() cannot throw.
std::string quoted(const std::string& s) { return json(s).dump(); }

std::string shard_name(const std::string& base, size_t i, size_t n) {
    char buf[64] = {};
    std::snprintf(buf, sizeof buf, "-%05zu-of-%05zu.safetensors", i, n);
    return base + buf;
}

}  // namespace

// One tensor's bytes from its pointer or its producer (which must deliver exactly n_bytes).
Status SafetensorsWriter::write_data(AtomicFileWriter& out, const std::string& path, const PendingTensor& t) {
    if (!t.producer) return t.n_bytes > 0 ? out.write(t.data, t.n_bytes) : Status();
    const std::string where = path + ": tensor '" + t.name + "'";
    uint64_t given = 0;
    const TensorSink sink = [&](const void* piece, uint64_t piece_bytes) -> Status {
        if (piece_bytes > t.n_bytes - given)
            return Status::error(where + ": the producer gave more than " + std::to_string(t.n_bytes) + " bytes");
        given += piece_bytes;
        return out.write(piece, piece_bytes);
    };
    MOE_RETURN_IF_ERROR(t.producer(sink).with_context(where));
    if (given != t.n_bytes)
        return Status::error(where + ": the producer gave " + std::to_string(given) + " bytes, expected " +
                             std::to_string(t.n_bytes));
    return {};
}

Status SafetensorsWriter::add_tensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                                     const void* data, uint64_t n_bytes) {
    if (data == nullptr && n_bytes > 0) return Status::error("safetensors writer: tensor '" + name + "': no data");
    return add_pending({name, dtype, std::move(shape), data, n_bytes, {}});
}

Status SafetensorsWriter::add_tensor(const std::string& name, SafetensorsDtype dtype, std::vector<uint64_t> shape,
                                     uint64_t n_bytes, TensorProducer producer) {
    if (!producer) return Status::error("safetensors writer: tensor '" + name + "': no producer");
    return add_pending({name, dtype, std::move(shape), nullptr, n_bytes, std::move(producer)});
}

Status SafetensorsWriter::add_pending(PendingTensor tensor) {
    const std::string& name = tensor.name;
    const SafetensorsDtype dtype = tensor.dtype;
    const std::vector<uint64_t>& shape = tensor.shape;
    const uint64_t n_bytes = tensor.n_bytes;
    const std::string what = "safetensors writer: tensor '" + name + "': ";
    if (name == "__metadata__") return Status::error(what + "the name is reserved for the metadata entry");
    if (utf8_error_offset(name)) return Status::error(what + "the name is not valid UTF-8");
    if (m_names.count(name) != 0) return Status::error(what + "added twice");
    if (safetensors_dtype_bits(dtype) == 0) return Status::error(what + "unknown dtype");
    const auto n_elements = safetensors_element_count(shape);
    const auto expected = n_elements ? safetensors_bytes(dtype, *n_elements) : std::nullopt;
    if (!expected)
        return Status::error(what + safetensors_dtype_name(dtype) + " shape is not a whole number of bytes "
                                    "or overflows 64 bits");
    if (*expected != n_bytes)
        return Status::error(what + std::to_string(n_bytes) + " bytes given, expected " + std::to_string(*expected));
    m_names.emplace(name, m_tensors.size());
    m_tensors.push_back(std::move(tensor));
    return {};
}

Status SafetensorsWriter::set_metadata(const std::string& key, const std::string& value) {
    if (utf8_error_offset(key) || utf8_error_offset(value))
        return Status::error("safetensors writer: metadata '" + key + "': key and value must be valid UTF-8");
    m_metadata[key] = value;
    return {};
}

uint64_t SafetensorsWriter::data_bytes() const {
    uint64_t total = 0;
    for (const PendingTensor& t : m_tensors) total += t.n_bytes;
    return total;
}

// Writes tensors [first, last) to one file.
Status SafetensorsWriter::write_range(const std::string& path, size_t first, size_t last) const {
    std::string header = "{";
    if (!m_metadata.empty()) {
        header += "\"__metadata__\":{";
        bool comma = false;
        for (const auto& [k, v] : m_metadata) {
            if (comma) header += ",";
            header += quoted(k);
            header += ":";
            header += quoted(v);
            comma = true;
        }
        header += "}";
    }
    uint64_t offset = 0;
    for (size_t i = first; i < last; ++i) {
        const PendingTensor& t = m_tensors[i];
        if (header.size() > 1) header += ",";
        header += quoted(t.name) + ":{\"dtype\":\"" + safetensors_dtype_name(t.dtype) + "\",\"shape\":[";
        for (size_t d = 0; d < t.shape.size(); ++d) {
            if (d > 0) header += ",";
            header += std::to_string(t.shape[d]);
        }
        header += "],\"data_offsets\":[";
        header += std::to_string(offset);
        header += ",";
        header += std::to_string(offset + t.n_bytes);
        header += "]}";
        offset += t.n_bytes;
    }
    header += "}";
    header.append((8 - header.size() % 8) % 8, ' ');  // so the buffer starts 8-byte aligned in the file

    uint8_t length[8] = {};
    for (int b = 0; b < 8; ++b) length[b] = static_cast<uint8_t>(static_cast<uint64_t>(header.size()) >> (8 * b));
    AtomicFileWriter out;
    MOE_RETURN_IF_ERROR(out.open(path));
    MOE_RETURN_IF_ERROR(out.write(length, sizeof length));
    MOE_RETURN_IF_ERROR(out.write(header.data(), header.size()));
    for (size_t i = first; i < last; ++i) MOE_RETURN_IF_ERROR(write_data(out, path, m_tensors[i]));
    return out.commit();
}

Status SafetensorsWriter::write(const std::string& path) const { return write_range(path, 0, m_tensors.size()); }

Status SafetensorsWriter::write_sharded(const std::string& folder, const std::string& base_name,
                                        uint64_t max_shard_bytes) const {
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) return Status::error(folder + ": cannot create the folder: " + ec.message());
    const fs::path dir(folder);
    const fs::path index_path = dir / (base_name + ".safetensors.index.json");

    // Greedy packing in the order added: [starts[s], starts[s + 1]) is shard s.
    std::vector<size_t> starts = {0};
    uint64_t shard_bytes = 0;
    for (size_t i = 0; i < m_tensors.size(); ++i) {
        const uint64_t n = m_tensors[i].n_bytes;
        if (i > starts.back() && (shard_bytes > max_shard_bytes || n > max_shard_bytes - shard_bytes)) {
            starts.push_back(i);
            shard_bytes = 0;
        }
        shard_bytes += n;
    }
    starts.push_back(m_tensors.size());
    const size_t n_shards = starts.size() - 1;

    if (n_shards == 1) {
        MOE_RETURN_IF_ERROR(write((dir / (base_name + ".safetensors")).string()));
        fs::remove(index_path, ec);  // a stale index would take precedence over the new file
        return {};
    }
    json weight_map = json::object();
    for (size_t s = 0; s < n_shards; ++s) {
        const std::string name = shard_name(base_name, s + 1, n_shards);
        MOE_RETURN_IF_ERROR(write_range((dir / name).string(), starts[s], starts[s + 1]));
        for (size_t i = starts[s]; i < starts[s + 1]; ++i) weight_map[m_tensors[i].name] = name;
    }
    json index = {{"metadata", {{"total_size", data_bytes()}}}, {"weight_map", std::move(weight_map)}};
    const std::string text = index.dump(2) + "\n";
    return write_file_atomic(index_path.string(), text.data(), text.size());  // last: shards exist first
}

}  // namespace moe
