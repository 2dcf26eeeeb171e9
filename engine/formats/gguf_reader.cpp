// GGUF parsing with bounds checks on every read: a bad file is refused with a message, never a crash.
#include "formats/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

namespace moe {

static_assert(std::endian::native == std::endian::little, "GGUF is read by memcpy of little-endian fields");

namespace {

constexpr uint32_t k_gguf_magic = 0x46554747;  // "GGUF" little-endian

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

bool valid_value_type(uint32_t t) { return t <= 12; }

uint32_t byte_swap32(uint32_t v) {
    return (v >> 24) | ((v >> 8) & 0xFF00u) | ((v << 8) & 0xFF0000u) | (v << 24);
}

// Smallest encoded size of one value of type t; used to reject counts that cannot fit in the file.
uint64_t min_value_bytes(GgufValueType t) {
    switch (t) {
        case GgufValueType::Uint8: case GgufValueType::Int8: case GgufValueType::Bool: return 1;
        case GgufValueType::Uint16: case GgufValueType::Int16: return 2;
        case GgufValueType::Uint32: case GgufValueType::Int32: case GgufValueType::Float32: return 4;
        case GgufValueType::Uint64: case GgufValueType::Int64: case GgufValueType::Float64: return 8;
        case GgufValueType::String: return 8;
        case GgufValueType::Array: return 12;
    }
    return 1;
}

}  // namespace

const char* gguf_value_type_name(GgufValueType type) {
    switch (type) {
        case GgufValueType::Uint8: return "u8";
        case GgufValueType::Int8: return "i8";
        case GgufValueType::Uint16: return "u16";
        case GgufValueType::Int16: return "i16";
        case GgufValueType::Uint32: return "u32";
        case GgufValueType::Int32: return "i32";
        case GgufValueType::Float32: return "f32";
        case GgufValueType::Bool: return "bool";
        case GgufValueType::String: return "string";
        case GgufValueType::Array: return "array";
        case GgufValueType::Uint64: return "u64";
        case GgufValueType::Int64: return "i64";
        case GgufValueType::Float64: return "f64";
    }
    return "?";
}

bool GgufValue::is_integer() const {
    switch (type) {
        case GgufValueType::Uint8: case GgufValueType::Int8: case GgufValueType::Uint16:
        case GgufValueType::Int16: case GgufValueType::Uint32: case GgufValueType::Int32:
        case GgufValueType::Uint64: case GgufValueType::Int64: return true;
        default: return false;
    }
}

// A cursor over the file with checked reads. Messages are only built on failure: a vocabulary holds
// hundreds of thousands of values.
class GgufParser {
public:
    GgufParser(const uint8_t* data, size_t size, const std::string& name) : m_data(data), m_size(size), m_name(name) {}

    Status parse(GgufFile& out);

private:
    Status fail(const std::string& what) const { return Status::error(m_name + ": " + what); }
    Status truncated(const std::string& what) const {
        return fail("truncated file: " + what + " at byte " + std::to_string(m_pos) + " runs past the end (" +
                    std::to_string(m_size) + " bytes)");
    }
    static std::string key_what(const std::string& key) { return "key '" + key + "'"; }
    uint64_t remaining() const { return m_size - m_pos; }

    template <class T>
    bool read(T& v) {
        if (remaining() < sizeof(T)) return false;
        std::memcpy(&v, m_data + m_pos, sizeof(T));
        m_pos += sizeof(T);
        return true;
    }
    template <class T>
    Status read_scalar(T& v, const std::string& key) {
        return read(v) ? Status() : truncated(key_what(key) + " value");
    }
    // False when the length is missing or runs past the end; read_string builds the message.
    bool read_string_raw(std::string& out, uint64_t& len);
    Status string_error(uint64_t len, const char* what, const std::string& owner) const;
    Status read_string(std::string& out, const char* what, const std::string& owner);
    Status read_value(GgufValueType type, GgufValue& out, const std::string& key, int depth);
    Status read_array(GgufValue& out, const std::string& key, int depth);
    Status parse_header(uint64_t& n_tensors, uint64_t& n_kv, GgufFile& out);
    Status parse_metadata(GgufFile& out, uint64_t n_kv);
    Status parse_alignment(GgufFile& out);
    Status parse_tensor_info(GgufFile& out, uint64_t index);
    Status place_tensors(GgufFile& out, uint64_t n_tensors);

    const uint8_t* m_data;
    uint64_t m_size;
    uint64_t m_pos = 0;
    uint64_t m_array_items = 0;  // running total, against k_gguf_max_array_items
    const std::string& m_name;
};

bool GgufParser::read_string_raw(std::string& out, uint64_t& len) {
    const uint64_t at = m_pos;
    if (!read(len) || len > remaining()) {
        m_pos = at;  // string_error reports from the length field
        return false;
    }
    out.assign(reinterpret_cast<const char*>(m_data + m_pos), len);
    m_pos += len;
    return true;
}

// `what` names the string ("length of key 3"), `owner` the key or tensor it belongs to.
Status GgufParser::string_error(uint64_t len, const char* what, const std::string& owner) const {
    if (remaining() < sizeof(uint64_t)) return truncated(std::string(what) + " of " + owner);
    return fail(owner + ": " + what + " " + std::to_string(len) + " runs past the end of the file (" +
                std::to_string(remaining() - sizeof(uint64_t)) + " bytes left at byte " +
                std::to_string(m_pos + sizeof(uint64_t)) + ")");
}

Status GgufParser::read_string(std::string& out, const char* what, const std::string& owner) {
    uint64_t len = 0;
    return read_string_raw(out, len) ? Status() : string_error(len, what, owner);
}

Status GgufParser::read_value(GgufValueType type, GgufValue& out, const std::string& key, int depth) {
    out.type = type;
    switch (type) {
        case GgufValueType::Uint8: { uint8_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.u = v; return {}; }
        case GgufValueType::Int8: { int8_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.i = v; return {}; }
        case GgufValueType::Uint16: { uint16_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.u = v; return {}; }
        case GgufValueType::Int16: { int16_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.i = v; return {}; }
        case GgufValueType::Uint32: { uint32_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.u = v; return {}; }
        case GgufValueType::Int32: { int32_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.i = v; return {}; }
        case GgufValueType::Uint64: { uint64_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.u = v; return {}; }
        case GgufValueType::Int64: { int64_t v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.i = v; return {}; }
        case GgufValueType::Float32: { float v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.f = v; return {}; }
        case GgufValueType::Float64: { double v = 0; MOE_RETURN_IF_ERROR(read_scalar(v, key)); out.f = v; return {}; }
        case GgufValueType::Bool: {
            uint8_t v = 0;
            MOE_RETURN_IF_ERROR(read_scalar(v, key));
            if (v > 1)
                return fail(key_what(key) + ": bool value " + std::to_string(v) + " at byte " +
                            std::to_string(m_pos - 1) + ", expected 0 or 1");
            out.u = v;
            return {};
        }
        case GgufValueType::String: {  // the message is built only on failure: vocabularies are long
            uint64_t len = 0;
            return read_string_raw(out.str, len) ? Status() : string_error(len, "string length", key_what(key));
        }
        case GgufValueType::Array: return read_array(out, key, depth);
    }
    return fail(key_what(key) + ": unknown value type " + std::to_string(static_cast<uint32_t>(type)));
}

Status GgufParser::read_array(GgufValue& out, const std::string& key, int depth) {
    if (depth >= k_gguf_max_array_depth)
        return fail(key_what(key) + ": arrays nested deeper than " + std::to_string(k_gguf_max_array_depth) +
                    " levels");
    uint32_t elem = 0;
    uint64_t count = 0;
    if (!read(elem)) return truncated(key_what(key) + " array element type");
    if (!valid_value_type(elem))
        return fail(key_what(key) + ": unknown array element type " + std::to_string(elem) + " (expected 0..12)");
    if (!read(count)) return truncated(key_what(key) + " array length");
    out.elem_type = static_cast<GgufValueType>(elem);
    if (count > remaining() / min_value_bytes(out.elem_type))
        return fail(key_what(key) + ": array of " + std::to_string(count) + " " + gguf_value_type_name(out.elem_type) +
                    " runs past the end of the file (" + std::to_string(remaining()) + " bytes left at byte " +
                    std::to_string(m_pos) + ")");
    if (count > k_gguf_max_array_items - m_array_items)
        return fail(key_what(key) + ": array of " + std::to_string(count) + " items takes the file past " +
                    std::to_string(k_gguf_max_array_items) + " array items in all");
    m_array_items += count;
    out.items.resize(count);
    for (uint64_t j = 0; j < count; ++j)
        MOE_RETURN_IF_ERROR(read_value(out.elem_type, out.items[j], key, depth + 1));
    return {};
}

Status GgufParser::parse_tensor_info(GgufFile& out, uint64_t index) {
    GgufTensorInfo t;
    const std::string ordinal = "tensor " + std::to_string(index);
    MOE_RETURN_IF_ERROR(read_string(t.name, "name length", ordinal));
    if (t.name.size() > k_gguf_max_tensor_name)
        return fail(ordinal + " '" + t.name.substr(0, k_gguf_max_tensor_name) + "...': name is " +
                    std::to_string(t.name.size()) +
                    " bytes, longer than the limit of " + std::to_string(k_gguf_max_tensor_name));
    const std::string what = "tensor '" + t.name + "'";
    if (!read(t.n_dims)) return truncated(what + " dimension count");
    if (t.n_dims == 0 || t.n_dims > k_gguf_max_dims)
        return fail(what + ": " + std::to_string(t.n_dims) + " dimensions, expected 1 to 4");
    uint64_t n = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) {
        if (!read(t.ne[d])) return truncated(what + " shape");
        if (t.ne[d] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
            (t.ne[d] != 0 && n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / t.ne[d]))
            return fail(what + ": element count overflows (dimension " + std::to_string(d) + " = " +
                        std::to_string(t.ne[d]) + ")");
        n *= t.ne[d];
    }
    t.n_elements = n;
    uint32_t type = 0;
    if (!read(type)) return truncated(what + " type");
    const auto info = ggml_type_info(type);
    if (!info || type == static_cast<uint32_t>(GgmlType::F8_E4M3_B128))
        return fail(what + ": unknown tensor type " + std::to_string(type));
    t.type = static_cast<GgmlType>(type);
    if (t.ne[0] % info->block_elems != 0)
        return fail(what + ": row length " + std::to_string(t.ne[0]) + " is not a multiple of the " + info->name +
                    " block size " + std::to_string(info->block_elems));
    const auto bytes = ggml_bytes(t.type, t.n_elements);
    if (!bytes) return fail(what + ": byte size overflows");
    t.n_bytes = *bytes;
    if (!read(t.offset)) return truncated(what + " offset");
    if (out.m_tensor_index.count(t.name) != 0) return fail(what + ": duplicate tensor name");
    out.m_tensor_index.emplace(t.name, out.m_tensors.size());
    out.m_tensors.push_back(std::move(t));
    return {};
}

Status GgufParser::parse_header(uint64_t& n_tensors, uint64_t& n_kv, GgufFile& out) {
    uint32_t magic = 0;
    if (!read(magic)) return truncated("magic");
    if (magic != k_gguf_magic) return fail("not a GGUF file (bad magic; expected \"GGUF\")");
    if (!read(out.m_version)) return truncated("version");
    if (byte_swap32(out.m_version) == 2 || byte_swap32(out.m_version) == 3)
        return fail("big-endian GGUF files are not supported (version field reads " +
                    std::to_string(out.m_version) + ")");
    if (out.m_version != 2 && out.m_version != 3)
        return fail("GGUF version " + std::to_string(out.m_version) + " is not supported (expected 2 or 3)");
    if (!read(n_tensors)) return truncated("tensor count");
    if (!read(n_kv)) return truncated("metadata count");
    // Smallest entries: a key-value is 8 (key length) + 4 (type) + 1 (u8); a tensor info 8 + 4 + 8 + 4 + 8.
    if (n_kv > remaining() / 13)
        return fail("metadata count " + std::to_string(n_kv) + " exceeds what the file can hold");
    if (n_tensors > remaining() / 32)
        return fail("tensor count " + std::to_string(n_tensors) + " exceeds what the file can hold");
    return {};
}

Status GgufParser::parse_metadata(GgufFile& out, uint64_t n_kv) {
    out.m_kv.reserve(n_kv);
    for (uint64_t k = 0; k < n_kv; ++k) {
        std::string key;
        MOE_RETURN_IF_ERROR(read_string(key, "length", "metadata key " + std::to_string(k)));
        if (key.size() > k_gguf_max_key)
            return fail("metadata key " + std::to_string(k) + ": length " + std::to_string(key.size()) +
                        " exceeds " + std::to_string(k_gguf_max_key));
        uint32_t type = 0;
        if (!read(type)) return truncated(key_what(key) + " type");
        if (!valid_value_type(type))
            return fail(key_what(key) + ": unknown value type " + std::to_string(type) + " (expected 0..12)");
        GgufValue value;
        MOE_RETURN_IF_ERROR(read_value(static_cast<GgufValueType>(type), value, key, 0));
        if (out.m_kv_index.count(key) != 0) return fail(key_what(key) + ": duplicate key");
        out.m_kv_index.emplace(key, out.m_kv.size());
        out.m_kv.emplace_back(std::move(key), std::move(value));
    }
    return {};
}

Status GgufParser::parse_alignment(GgufFile& out) {
    const GgufValue* a = out.find("general.alignment");
    if (a == nullptr) return {};
    if (a->type != GgufValueType::Uint32)
        return fail(std::string("key 'general.alignment': expected u32, found ") + gguf_value_type_name(a->type));
    if (a->u == 0 || (a->u & (a->u - 1)) != 0)
        return fail("key 'general.alignment': " + std::to_string(a->u) + " is not a power of two");
    out.m_alignment = static_cast<uint32_t>(a->u);
    return {};
}

// Checks each tensor's data lies inside the data section, aligned, and that no two overlap.
Status GgufParser::place_tensors(GgufFile& out, uint64_t n_tensors) {
    out.m_data_offset = align_up(m_pos, out.m_alignment);
    if (n_tensors > 0 && out.m_data_offset > m_size)
        return fail("truncated file: the data section would start at byte " + std::to_string(out.m_data_offset) +
                    " past the end (" + std::to_string(m_size) + " bytes)");
    const uint64_t data_size = n_tensors > 0 ? m_size - out.m_data_offset : 0;

    std::vector<const GgufTensorInfo*> by_offset;
    by_offset.reserve(out.m_tensors.size());
    for (GgufTensorInfo& t : out.m_tensors) {
        const std::string what = "tensor '" + t.name + "'";
        if (t.offset % out.m_alignment != 0)
            return fail(what + ": data offset " + std::to_string(t.offset) + " is not aligned to " +
                        std::to_string(out.m_alignment) + " bytes");
        if (t.offset > data_size || t.n_bytes > data_size - t.offset)
            return fail(what + ": data [" + std::to_string(t.offset) + ", +" + std::to_string(t.n_bytes) +
                        ") lies beyond the end of the file (data section holds " + std::to_string(data_size) +
                        " bytes)");
        t.data = m_data + out.m_data_offset + t.offset;
        by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(),
              [](const GgufTensorInfo* a, const GgufTensorInfo* b) { return a->offset < b->offset; });
    for (size_t j = 1; j < by_offset.size(); ++j) {
        const GgufTensorInfo* prev = by_offset[j - 1];
        if (prev->offset + prev->n_bytes > by_offset[j]->offset)
            return fail("tensor '" + by_offset[j]->name + "': data at offset " + std::to_string(by_offset[j]->offset) +
                        " overlaps tensor '" + prev->name + "' [" + std::to_string(prev->offset) + ", +" +
                        std::to_string(prev->n_bytes) + ")");
    }
    return {};
}

Status GgufParser::parse(GgufFile& out) {
    uint64_t n_tensors = 0, n_kv = 0;
    MOE_RETURN_IF_ERROR(parse_header(n_tensors, n_kv, out));
    MOE_RETURN_IF_ERROR(parse_metadata(out, n_kv));
    MOE_RETURN_IF_ERROR(parse_alignment(out));
    out.m_tensors.reserve(n_tensors);
    for (uint64_t t = 0; t < n_tensors; ++t) MOE_RETURN_IF_ERROR(parse_tensor_info(out, t));
    MOE_RETURN_IF_ERROR(place_tensors(out, n_tensors));
    out.m_size = m_size;
    return {};
}

Result<GgufFile> GgufFile::parse(const uint8_t* data, size_t size, const std::string& name) {
    GgufFile file;
    file.m_name = name;
    GgufParser parser(data, size, file.m_name);
    MOE_RETURN_IF_ERROR(parser.parse(file));
    return file;
}

Result<GgufFile> GgufFile::open(const std::string& path) {
    auto map = MappedFile::open(path);
    if (!map) return map.status();
    auto shared = std::make_shared<MappedFile>(std::move(map.value()));
    auto file = parse(shared->data(), shared->size(), path);
    if (!file) return file.status();
    file->m_map = std::move(shared);
    return file;
}

const GgufValue* GgufFile::find(std::string_view key) const {
    const auto it = m_kv_index.find(std::string(key));
    return it == m_kv_index.end() ? nullptr : &m_kv[it->second].second;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
    const auto it = m_tensor_index.find(std::string(name));
    return it == m_tensor_index.end() ? nullptr : &m_tensors[it->second];
}

void GgufFile::release_metadata() {
    std::vector<std::pair<std::string, GgufValue>>().swap(m_kv);
    std::unordered_map<std::string, size_t>().swap(m_kv_index);
}

namespace {

Status key_error(const std::string& file, std::string_view key, const std::string& what) {
    return Status::error(file + ": key '" + std::string(key) + "': " + what);
}

Result<uint64_t> value_as_uint(const GgufValue& v, const std::string& file, std::string_view key) {
    if (v.type == GgufValueType::Bool || !v.is_integer())
        return key_error(file, key, std::string("expected an unsigned integer, found ") + gguf_value_type_name(v.type));
    if (v.type == GgufValueType::Int8 || v.type == GgufValueType::Int16 || v.type == GgufValueType::Int32 ||
        v.type == GgufValueType::Int64) {
        if (v.i < 0) return key_error(file, key, "expected a non-negative integer, found " + std::to_string(v.i));
        return static_cast<uint64_t>(v.i);
    }
    return v.u;
}

Result<int64_t> value_as_int(const GgufValue& v, const std::string& file, std::string_view key) {
    if (v.type == GgufValueType::Bool || !v.is_integer())
        return key_error(file, key, std::string("expected an integer, found ") + gguf_value_type_name(v.type));
    if (v.type == GgufValueType::Uint8 || v.type == GgufValueType::Uint16 || v.type == GgufValueType::Uint32 ||
        v.type == GgufValueType::Uint64) {
        if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
            return key_error(file, key, "integer " + std::to_string(v.u) + " is too large");
        return static_cast<int64_t>(v.u);
    }
    return v.i;
}

Result<double> value_as_float(const GgufValue& v, const std::string& file, std::string_view key) {
    if (v.is_float()) return v.f;
    auto i = value_as_int(v, file, key);
    if (!i) return key_error(file, key, std::string("expected a number, found ") + gguf_value_type_name(v.type));
    return static_cast<double>(*i);
}

}  // namespace

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    return value_as_uint(*v, m_name, key);
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    return value_as_int(*v, m_name, key);
}

Result<double> GgufFile::get_float(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    return value_as_float(*v, m_name, key);
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    if (v->type != GgufValueType::Bool)
        return key_error(m_name, key, std::string("expected bool, found ") + gguf_value_type_name(v->type));
    return v->u != 0;
}

Result<std::string> GgufFile::get_string(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    if (v->type != GgufValueType::String)
        return key_error(m_name, key, std::string("expected string, found ") + gguf_value_type_name(v->type));
    return v->str;
}

namespace {

// "array of i32", "string": what a value is, for "expected ..., found ..." messages.
std::string describe_value(const GgufValue& v) {
    if (v.type != GgufValueType::Array) return gguf_value_type_name(v.type);
    return std::string("array of ") + gguf_value_type_name(v.elem_type);
}

}  // namespace

Result<std::vector<std::string>> GgufFile::get_string_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    if (v->type != GgufValueType::Array || v->elem_type != GgufValueType::String)
        return key_error(m_name, key, "expected an array of strings, found " + describe_value(*v));
    std::vector<std::string> out;
    out.reserve(v->items.size());
    for (const GgufValue& item : v->items) out.push_back(item.str);
    return out;
}

Result<std::vector<int64_t>> GgufFile::get_int_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    if (v->type != GgufValueType::Array)
        return key_error(m_name, key, "expected an array of integers, found " + describe_value(*v));
    std::vector<int64_t> out;
    out.reserve(v->items.size());
    for (size_t j = 0; j < v->items.size(); ++j) {
        auto i = value_as_int(v->items[j], m_name, key);
        if (!i)  // rebuilt with the index only on failure: arrays can be long
            return value_as_int(v->items[j], m_name, std::string(key) + "[" + std::to_string(j) + "]").status();
        out.push_back(*i);
    }
    return out;
}

Result<std::vector<double>> GgufFile::get_float_array(std::string_view key) const {
    const GgufValue* v = find(key);
    if (v == nullptr) return key_error(m_name, key, "missing");
    if (v->type != GgufValueType::Array)
        return key_error(m_name, key, "expected an array of numbers, found " + describe_value(*v));
    std::vector<double> out;
    out.reserve(v->items.size());
    for (size_t j = 0; j < v->items.size(); ++j) {
        auto f = value_as_float(v->items[j], m_name, key);
        if (!f)  // rebuilt with the index only on failure: arrays can be long
            return value_as_float(v->items[j], m_name, std::string(key) + "[" + std::to_string(j) + "]").status();
        out.push_back(*f);
    }
    return out;
}

}  // namespace moe
