// GGUF v3 writer: value factories, checks that make every written file readable by GgufFile, single-file
// and split (llama.cpp gguf-split layout) output. Layout: shared/spec/deepseek.md section 6.
#include "formats/gguf.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_set>

namespace moe {

static_assert(std::endian::native == std::endian::little, "GGUF is written by memcpy of little-endian fields");

namespace {

constexpr uint32_t k_gguf_magic = 0x46554747;  // "GGUF" little-endian
constexpr uint32_t k_gguf_version = 3;

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

GgufValue make_unsigned(GgufValueType type, uint64_t v) {
    GgufValue out;
    out.type = type;
    out.u = v;
    return out;
}

GgufValue make_signed(GgufValueType type, int64_t v) {
    GgufValue out;
    out.type = type;
    out.i = v;
    return out;
}

GgufValue make_float(GgufValueType type, double v) {
    GgufValue out;
    out.type = type;
    out.f = v;
    return out;
}

// Serialises header, metadata and tensor infos into memory (little-endian, as the host).
class ByteSink {
public:
    template <class T>
    void put(T v) {
        const size_t at = m_bytes.size();
        m_bytes.resize(at + sizeof(T));
        std::memcpy(m_bytes.data() + at, &v, sizeof(T));
    }
    void put_string(const std::string& s) {
        put<uint64_t>(s.size());
        m_bytes.insert(m_bytes.end(), s.begin(), s.end());
    }
    void pad_to(uint64_t alignment) { m_bytes.resize(align_up(m_bytes.size(), alignment), 0); }
    const std::vector<uint8_t>& bytes() const { return m_bytes; }

private:
    std::vector<uint8_t> m_bytes;
};

// A value as written: scalars narrowed to their declared width (check_value has checked the range).
void put_value(ByteSink& sink, const GgufValue& v) {
    switch (v.type) {
        case GgufValueType::Uint8: sink.put(static_cast<uint8_t>(v.u)); return;
        case GgufValueType::Int8: sink.put(static_cast<int8_t>(v.i)); return;
        case GgufValueType::Uint16: sink.put(static_cast<uint16_t>(v.u)); return;
        case GgufValueType::Int16: sink.put(static_cast<int16_t>(v.i)); return;
        case GgufValueType::Uint32: sink.put(static_cast<uint32_t>(v.u)); return;
        case GgufValueType::Int32: sink.put(static_cast<int32_t>(v.i)); return;
        case GgufValueType::Uint64: sink.put(v.u); return;
        case GgufValueType::Int64: sink.put(v.i); return;
        case GgufValueType::Float32: sink.put(static_cast<float>(v.f)); return;
        case GgufValueType::Float64: sink.put(v.f); return;
        case GgufValueType::Bool: sink.put(static_cast<uint8_t>(v.u)); return;
        case GgufValueType::String: sink.put_string(v.str); return;
        case GgufValueType::Array:
            sink.put(static_cast<uint32_t>(v.elem_type));
            sink.put<uint64_t>(v.items.size());
            for (const GgufValue& item : v.items) put_value(sink, item);
            return;
    }
}

Status range_error(const std::string& where, const GgufValue& v, const std::string& value) {
    return Status::error(where + ": value " + value + " does not fit " + gguf_value_type_name(v.type));
}

// Refuses what the reader would refuse (or could not represent): out-of-range integers, bool > 1,
// unknown types, array items of another type than the array's, arrays nested too deep.
Status check_value(const GgufValue& v, const std::string& where, int depth) {
    const auto in_signed = [&](int64_t lo, int64_t hi) {
        return v.i >= lo && v.i <= hi ? Status() : range_error(where, v, std::to_string(v.i));
    };
    const auto in_unsigned = [&](uint64_t hi) {
        return v.u <= hi ? Status() : range_error(where, v, std::to_string(v.u));
    };
    switch (v.type) {
        case GgufValueType::Uint8: return in_unsigned(std::numeric_limits<uint8_t>::max());
        case GgufValueType::Int8:
            return in_signed(std::numeric_limits<int8_t>::min(), std::numeric_limits<int8_t>::max());
        case GgufValueType::Uint16: return in_unsigned(std::numeric_limits<uint16_t>::max());
        case GgufValueType::Int16:
            return in_signed(std::numeric_limits<int16_t>::min(), std::numeric_limits<int16_t>::max());
        case GgufValueType::Uint32: return in_unsigned(std::numeric_limits<uint32_t>::max());
        case GgufValueType::Int32:
            return in_signed(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
        case GgufValueType::Uint64: case GgufValueType::Int64: case GgufValueType::String: return {};
        case GgufValueType::Float32:
            if (std::isfinite(v.f) && std::fabs(v.f) > std::numeric_limits<float>::max())
                return range_error(where, v, std::to_string(v.f));
            return {};
        case GgufValueType::Float64: return {};
        case GgufValueType::Bool: return v.u <= 1 ? Status() : range_error(where, v, std::to_string(v.u));
        case GgufValueType::Array: {
            if (depth >= k_gguf_max_array_depth)
                return Status::error(where + ": arrays nested deeper than " + std::to_string(k_gguf_max_array_depth) +
                                     " levels");
            if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufValueType::Float64))
                return Status::error(where + ": unknown array element type " +
                                     std::to_string(static_cast<uint32_t>(v.elem_type)));
            for (size_t j = 0; j < v.items.size(); ++j) {
                const GgufValue& item = v.items[j];
                if (item.type != v.elem_type)
                    return Status::error(where + ": array item " + std::to_string(j) + " is " +
                                         gguf_value_type_name(item.type) + ", expected " +
                                         gguf_value_type_name(v.elem_type));
                // The indexed location is built only on failure: vocabularies hold 100k+ items.
                if (!check_value(item, where, depth + 1).ok())
                    return check_value(item, where + "[" + std::to_string(j) + "]", depth + 1);
            }
            return {};
        }
    }
    return Status::error(where + ": unknown value type " + std::to_string(static_cast<uint32_t>(v.type)));
}

// A tensor's bytes from its pointer or its producer; a producer must deliver exactly n_bytes.
Status write_tensor_data(AtomicFileWriter& out, const std::string& path, const std::string& name, const void* data,
                         uint64_t n_bytes, const TensorProducer& producer) {
    if (!producer) return out.write(data, n_bytes);
    uint64_t given = 0;
    const TensorSink sink = [&](const void* piece, uint64_t piece_bytes) -> Status {
        if (piece_bytes > n_bytes - given)
            return Status::error(path + ": tensor '" + name + "': the producer gave more than " +
                                 std::to_string(n_bytes) + " bytes");
        given += piece_bytes;
        return out.write(piece, piece_bytes);
    };
    MOE_RETURN_IF_ERROR(producer(sink).with_context(path + ": tensor '" + name + "'"));
    if (given != n_bytes)
        return Status::error(path + ": tensor '" + name + "': the producer gave " + std::to_string(given) +
                             " bytes, expected " + std::to_string(n_bytes));
    return {};
}

bool is_split_key(const std::string& key) {
    return key == "split.no" || key == "split.count" || key == "split.tensors.count";
}

}  // namespace

GgufValue GgufValue::make_u8(uint8_t v) { return make_unsigned(GgufValueType::Uint8, v); }
GgufValue GgufValue::make_i8(int8_t v) { return make_signed(GgufValueType::Int8, v); }
GgufValue GgufValue::make_u16(uint16_t v) { return make_unsigned(GgufValueType::Uint16, v); }
GgufValue GgufValue::make_i16(int16_t v) { return make_signed(GgufValueType::Int16, v); }
GgufValue GgufValue::make_u32(uint32_t v) { return make_unsigned(GgufValueType::Uint32, v); }
GgufValue GgufValue::make_i32(int32_t v) { return make_signed(GgufValueType::Int32, v); }
GgufValue GgufValue::make_u64(uint64_t v) { return make_unsigned(GgufValueType::Uint64, v); }
GgufValue GgufValue::make_i64(int64_t v) { return make_signed(GgufValueType::Int64, v); }
GgufValue GgufValue::make_f32(float v) { return make_float(GgufValueType::Float32, v); }
GgufValue GgufValue::make_f64(double v) { return make_float(GgufValueType::Float64, v); }
GgufValue GgufValue::make_bool(bool v) { return make_unsigned(GgufValueType::Bool, v ? 1 : 0); }

GgufValue GgufValue::make_string(std::string v) {
    GgufValue out;
    out.type = GgufValueType::String;
    out.str = std::move(v);
    return out;
}

GgufValue GgufValue::make_array(GgufValueType elem_type, std::vector<GgufValue> items) {
    GgufValue out;
    out.type = GgufValueType::Array;
    out.elem_type = elem_type;
    out.items = std::move(items);
    return out;
}

GgufValue GgufValue::make_string_array(const std::vector<std::string>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (const std::string& s : v) items.push_back(make_string(s));
    return make_array(GgufValueType::String, std::move(items));
}

GgufValue GgufValue::make_i32_array(const std::vector<int32_t>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (int32_t x : v) items.push_back(make_i32(x));
    return make_array(GgufValueType::Int32, std::move(items));
}

GgufValue GgufValue::make_f32_array(const std::vector<float>& v) {
    std::vector<GgufValue> items;
    items.reserve(v.size());
    for (float x : v) items.push_back(make_f32(x));
    return make_array(GgufValueType::Float32, std::move(items));
}

void GgufWriter::set(const std::string& key, GgufValue value) {
    if (key == "general.alignment" && value.type == GgufValueType::Uint32) {
        m_alignment = static_cast<uint32_t>(value.u);
        std::erase_if(m_kv, [&](const KeyValue& kv) { return kv.first == key; });
        return;
    }
    for (KeyValue& kv : m_kv) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    }
    m_kv.emplace_back(key, std::move(value));
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, const void* data,
                              uint64_t n_bytes) {
    if (data == nullptr && n_bytes > 0) return Status::error("tensor '" + name + "': no data");
    return add_pending(PendingTensor{name, type, std::move(ne), data, n_bytes, {}});
}

Status GgufWriter::add_tensor(const std::string& name, GgmlType type, std::vector<uint64_t> ne, uint64_t n_bytes,
                              TensorProducer producer) {
    if (!producer) return Status::error("tensor '" + name + "': no producer");
    return add_pending(PendingTensor{name, type, std::move(ne), nullptr, n_bytes, std::move(producer)});
}

Status GgufWriter::add_pending(PendingTensor tensor) {
    const std::string& name = tensor.name;
    const GgmlType type = tensor.type;
    const std::vector<uint64_t>& ne = tensor.ne;
    const uint64_t n_bytes = tensor.n_bytes;
    const std::string what = "tensor '" + name + "'";
    if (name.empty()) return Status::error("tensor with an empty name");
    if (name.size() > k_gguf_max_tensor_name)
        return Status::error(what + ": name is " + std::to_string(name.size()) + " bytes, longer than the limit of " +
                             std::to_string(k_gguf_max_tensor_name));
    for (const PendingTensor& t : m_tensors)
        if (t.name == name) return Status::error(what + ": duplicate tensor name");
    if (ne.empty() || ne.size() > k_gguf_max_dims)
        return Status::error(what + ": " + std::to_string(ne.size()) + " dimensions, expected 1 to 4");
    const auto info = ggml_type_info(static_cast<uint32_t>(type));
    if (!info || type == GgmlType::F8_E4M3_B128)
        return Status::error(what + ": type " + std::to_string(static_cast<uint32_t>(type)) +
                             " cannot be stored in GGUF");
    uint64_t n_elements = 1;
    for (size_t d = 0; d < ne.size(); ++d) {
        constexpr uint64_t k_max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
        if (ne[d] > k_max || (ne[d] != 0 && n_elements > k_max / ne[d]))
            return Status::error(what + ": element count overflows (dimension " + std::to_string(d) + " = " +
                                 std::to_string(ne[d]) + ")");
        n_elements *= ne[d];
    }
    if (ne[0] % info->block_elems != 0)
        return Status::error(what + ": row length " + std::to_string(ne[0]) + " is not a multiple of the " +
                             info->name + " block size " + std::to_string(info->block_elems));
    const auto expected = ggml_bytes(type, n_elements);
    if (!expected) return Status::error(what + ": byte size overflows");
    if (n_bytes != *expected)
        return Status::error(what + ": " + std::to_string(n_bytes) + " bytes given, but " + info->name + " with " +
                             std::to_string(n_elements) + " elements needs " + std::to_string(*expected));
    m_tensors.push_back(std::move(tensor));
    return {};
}

Status GgufWriter::check_metadata(const std::string& path) const {
    if (m_alignment == 0 || (m_alignment & (m_alignment - 1)) != 0)
        return Status::error(path + ": alignment " + std::to_string(m_alignment) + " is not a power of two");
    std::unordered_set<std::string> seen;
    for (const auto& [key, value] : m_kv) {
        if (key.size() > k_gguf_max_key)
            return Status::error(path + ": key of " + std::to_string(key.size()) + " bytes exceeds " +
                                 std::to_string(k_gguf_max_key));
        if (key == "general.alignment")  // set() takes a u32 as the alignment; anything else lands here
            return Status::error(path + ": key 'general.alignment': expected u32, found " +
                                 gguf_value_type_name(value.type));
        if (!seen.insert(key).second) return Status::error(path + ": key '" + key + "': duplicate key");
        MOE_RETURN_IF_ERROR(check_value(value, path + ": key '" + key + "'", 0));
    }
    return {};
}

// One GGUF file: header, `kv` (plus general.alignment when not the default), tensor infos with offsets
// packed in the given order, then each tensor's data padded to the alignment.
Status GgufWriter::write_file(const std::string& path, const std::vector<const KeyValue*>& kv,
                              const std::vector<const PendingTensor*>& tensors) const {
    const bool write_alignment = m_alignment != k_gguf_default_alignment;
    ByteSink sink;
    sink.put(k_gguf_magic);
    sink.put(k_gguf_version);
    sink.put<uint64_t>(tensors.size());
    sink.put<uint64_t>(kv.size() + (write_alignment ? 1 : 0));
    if (write_alignment) {
        sink.put_string("general.alignment");
        sink.put(static_cast<uint32_t>(GgufValueType::Uint32));
        sink.put(m_alignment);
    }
    for (const KeyValue* entry : kv) {
        sink.put_string(entry->first);
        sink.put(static_cast<uint32_t>(entry->second.type));
        put_value(sink, entry->second);
    }
    uint64_t offset = 0;
    for (const PendingTensor* t : tensors) {
        sink.put_string(t->name);
        sink.put(static_cast<uint32_t>(t->ne.size()));
        for (uint64_t n : t->ne) sink.put(n);
        sink.put(static_cast<uint32_t>(t->type));
        sink.put(offset);
        offset += align_up(t->n_bytes, m_alignment);
    }
    sink.pad_to(m_alignment);

    AtomicFileWriter out;
    MOE_RETURN_IF_ERROR(out.open(path));
    MOE_RETURN_IF_ERROR(out.write(sink.bytes().data(), sink.bytes().size()));
    for (const PendingTensor* t : tensors) {
        MOE_RETURN_IF_ERROR(write_tensor_data(out, path, t->name, t->data, t->n_bytes, t->producer));
        MOE_RETURN_IF_ERROR(out.write_zeros(align_up(t->n_bytes, m_alignment) - t->n_bytes));
    }
    return out.commit();
}

Status GgufWriter::write(const std::string& path) const {
    MOE_RETURN_IF_ERROR(check_metadata(path));
    std::vector<const KeyValue*> kv;
    kv.reserve(m_kv.size());
    for (const KeyValue& entry : m_kv) kv.push_back(&entry);
    std::vector<const PendingTensor*> tensors;
    tensors.reserve(m_tensors.size());
    for (const PendingTensor& t : m_tensors) tensors.push_back(&t);
    return write_file(path, kv, tensors);
}

Result<std::vector<std::string>> GgufWriter::write_split(const std::string& prefix_or_path,
                                                         uint64_t max_shard_bytes) const {
    std::string prefix = prefix_or_path;
    uint32_t shard_no = 0, shard_count = 0;
    if (!gguf_parse_split_path(prefix_or_path, prefix, shard_no, shard_count) && prefix.size() > 5 &&
        prefix.compare(prefix.size() - 5, 5, ".gguf") == 0)
        prefix.resize(prefix.size() - 5);
    MOE_RETURN_IF_ERROR(check_metadata(gguf_split_path(prefix, 1, 1)));

    // Plan: tensors in order, a new shard when the next one's padded data would pass the limit.
    std::vector<std::vector<const PendingTensor*>> shards(1);
    uint64_t shard_bytes = 0;
    for (const PendingTensor& t : m_tensors) {
        const uint64_t padded = align_up(t.n_bytes, m_alignment);
        if (!shards.back().empty() && (shard_bytes + padded > max_shard_bytes || shard_bytes + padded < shard_bytes)) {
            shards.emplace_back();
            shard_bytes = 0;
        }
        shards.back().push_back(&t);
        shard_bytes += padded;
    }
    if (shards.size() > std::numeric_limits<uint16_t>::max())
        return Status::error(prefix + ": " + std::to_string(shards.size()) +
                             " shards exceed the split.count limit of " +
                             std::to_string(std::numeric_limits<uint16_t>::max()));
    if (m_tensors.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
        return Status::error(prefix + ": too many tensors for split.tensors.count");

    const auto n_shards = static_cast<uint16_t>(shards.size());
    std::vector<std::string> paths;
    for (uint16_t s = 0; s < n_shards; ++s) {
        // The first shard keeps all metadata (minus stale split keys); every shard gets its split keys.
        const KeyValue split_keys[] = {
            {"split.no", GgufValue::make_u16(s)},
            {"split.count", GgufValue::make_u16(n_shards)},
            {"split.tensors.count", GgufValue::make_i32(static_cast<int32_t>(m_tensors.size()))},
        };
        std::vector<const KeyValue*> kv;
        if (s == 0)
            for (const KeyValue& entry : m_kv)
                if (!is_split_key(entry.first)) kv.push_back(&entry);
        for (const KeyValue& entry : split_keys) kv.push_back(&entry);
        paths.push_back(gguf_split_path(prefix, s + 1u, n_shards));
        MOE_RETURN_IF_ERROR(write_file(paths.back(), kv, shards[s]));
    }
    return paths;
}

}  // namespace moe
