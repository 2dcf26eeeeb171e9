// safetensors parsing: the header JSON is checked against the format's rules one field at a time, and
// the tensors' byte ranges must tile the buffer exactly. A bad file is refused with a message.
#include "formats/json_strict.h"
#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>

namespace moe {

namespace {

using json = nlohmann::json;

constexpr uint64_t k_max_header_bytes = 100'000'000;  // the reference parser's limit
constexpr size_t k_max_json_depth = 3;                  // root -> tensor -> shape / data_offsets
constexpr const char* k_metadata_key = "__metadata__";

std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string out = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) out += ", ";
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

std::string range_text(uint64_t begin, uint64_t end) {
    std::string out = "[";  // appended piecewise: GCC 12 warns (-Wrestrict) on "[" + std::to_string()
    out += std::to_string(begin);
    out += ", ";
    out += std::to_string(end);
    out += ")";
    return out;
}

std::string all_dtype_names() {
    std::string out;
    for (int i = 0; i < k_safetensors_dtype_count; ++i)
        out += (i ? ", " : "") + std::string(safetensors_dtype_name(static_cast<SafetensorsDtype>(i)));
    return out;
}

// A JSON value shown in a message, cut short so a huge value cannot flood it.
std::string value_text(const json& v) {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > 60) s = s.substr(0, 57) + "...";
    return s;
}

}  // namespace

class SafetensorsHeaderParser {
public:
    SafetensorsHeaderParser(const uint8_t* data, size_t size, const std::string& name)
        : m_data(data), m_size(size), m_name(name) {}

    Status parse(SafetensorsFile& out);

private:
    Status fail(const std::string& what) const { return Status::error(m_name + ": " + what); }
    Status tensor_fail(const std::string& tensor, const std::string& what) const {
        return fail("tensor '" + tensor + "': " + what);
    }
    Status read_header(std::string_view& text);
    Status parse_metadata(const json& value, SafetensorsFile& out) const;
    Status parse_tensor(const std::string& name, const json& value, SafetensorsTensor& t, uint64_t& end) const;
    Status parse_shape(const std::string& name, const json& value, std::vector<uint64_t>& shape) const;
    Status parse_offsets(const std::string& name, const json& value, uint64_t& begin, uint64_t& end) const;
    Status check_tiling(std::vector<SafetensorsTensor>& tensors, const std::vector<uint64_t>& ends) const;

    const uint8_t* m_data;
    uint64_t m_size;
    uint64_t m_buffer_bytes = 0;
    const std::string& m_name;
};

Status SafetensorsHeaderParser::read_header(std::string_view& text) {
    if (m_size < 8)
        return fail("file is " + std::to_string(m_size) + " bytes, shorter than the 8-byte header length field");
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | m_data[i];  // little-endian u64
    if (n > k_max_header_bytes)
        return fail("header length " + std::to_string(n) + " exceeds the limit of " +
                    std::to_string(k_max_header_bytes) + " bytes");
    if (n > m_size - 8)
        return fail("header length " + std::to_string(n) + " runs past the end of the file (expected at most " +
                    std::to_string(m_size - 8) + " bytes after the length field)");
    if (n == 0 || m_data[8] != '{')
        return fail("header does not start with '{' (expected a JSON object at byte 8)");
    text = std::string_view(reinterpret_cast<const char*>(m_data + 8), n);
    m_buffer_bytes = m_size - 8 - n;
    return {};
}

Status SafetensorsHeaderParser::parse_metadata(const json& value, SafetensorsFile& out) const {
    if (value.is_null()) return {};  // the reference parser reads null as "no metadata"
    if (!value.is_object())
        return fail(std::string("__metadata__: expected an object of string values, found ") + json_kind(value));
    for (const auto& [key, v] : value.items()) {
        if (!v.is_string())
            return fail("__metadata__: key '" + key + "': expected a string value, found " + json_kind(v) + " " +
                        value_text(v));
        out.m_metadata.emplace(key, v.get<std::string>());
    }
    return {};
}

Status SafetensorsHeaderParser::parse_shape(const std::string& name, const json& value,
                                            std::vector<uint64_t>& shape) const {
    if (!value.is_array())
        return tensor_fail(name, std::string("shape: expected an array of non-negative integers, found ") +
                                     json_kind(value) + " " + value_text(value));
    shape.reserve(value.size());
    for (size_t i = 0; i < value.size(); ++i) {
        const json& d = value[i];
        if (!d.is_number_unsigned())
            return tensor_fail(name, "shape[" + std::to_string(i) + "]: expected a non-negative integer, found " +
                                         json_kind(d) + " " + value_text(d));
        shape.push_back(d.get<uint64_t>());
    }
    return {};
}

Status SafetensorsHeaderParser::parse_offsets(const std::string& name, const json& value, uint64_t& begin,
                                              uint64_t& end) const {
    const bool pair = value.is_array() && value.size() == 2 && value[0].is_number_unsigned() &&
                      value[1].is_number_unsigned();
    if (!pair)
        return tensor_fail(name, "data_offsets: expected [begin, end] (two non-negative integers), found " +
                                     value_text(value));
    begin = value[0].get<uint64_t>();
    end = value[1].get<uint64_t>();
    if (begin > end)
        return tensor_fail(name, "data_offsets " + range_text(begin, end) + ": expected begin <= end");
    return {};
}

Status SafetensorsHeaderParser::parse_tensor(const std::string& name, const json& value, SafetensorsTensor& t,
                                             uint64_t& end) const {
    if (!value.is_object())
        return tensor_fail(name, std::string("expected an object {dtype, shape, data_offsets}, found ") +
                                     json_kind(value));
    for (const auto& [field, v] : value.items()) {
        (void)v;
        if (field != "dtype" && field != "shape" && field != "data_offsets")
            return tensor_fail(name, "unexpected field '" + field + "' (expected only dtype, shape, data_offsets)");
    }
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!value.contains(field)) return tensor_fail(name, std::string("missing field '") + field + "'");

    const json& dtype = value["dtype"];
    if (!dtype.is_string())
        return tensor_fail(name, std::string("dtype: expected a string, found ") + json_kind(dtype));
    const auto parsed = safetensors_dtype_from_name(dtype.get<std::string>());
    if (!parsed)
        return tensor_fail(name, "unknown dtype " + value_text(dtype) + " (expected one of " + all_dtype_names() + ")");
    t.name = name;
    t.dtype = *parsed;
    MOE_RETURN_IF_ERROR(parse_shape(name, value["shape"], t.shape));
    MOE_RETURN_IF_ERROR(parse_offsets(name, value["data_offsets"], t.data_offset, end));

    // "F32 [2, 2]", built only for a message.
    const auto what = [&t] { return std::string(safetensors_dtype_name(t.dtype)) + " " + shape_text(t.shape); };
    const auto n_elements = safetensors_element_count(t.shape);
    if (!n_elements) return tensor_fail(name, "shape " + shape_text(t.shape) + " has more than 2^64 - 1 elements");
    t.n_elements = *n_elements;
    const auto n_bytes = safetensors_bytes(t.dtype, t.n_elements);
    if (!n_bytes) {
        const bool overflow = t.n_elements > UINT64_MAX / safetensors_dtype_bits(t.dtype);
        return tensor_fail(name, what() + (overflow ? " is more than 2^64 - 1 bits"
                                                  : " is " + std::to_string(t.n_elements * safetensors_dtype_bits(t.dtype)) +
                                                        " bits, not a whole number of bytes"));
    }
    t.n_bytes = *n_bytes;
    if (end - t.data_offset != t.n_bytes)
        return tensor_fail(name, "data_offsets " + range_text(t.data_offset, end) + " hold " +
                                     std::to_string(end - t.data_offset) + " bytes but " + what() + " needs " +
                                     std::to_string(t.n_bytes) + " bytes");
    if (end > m_buffer_bytes)
        return tensor_fail(name, "data_offsets " + range_text(t.data_offset, end) +
                                     " run past the end of the byte buffer (" + std::to_string(m_buffer_bytes) +
                                     " bytes after the header; the file is truncated or the offsets are wrong)");
    return {};
}

// The byte ranges, sorted by (begin, end), must follow each other with no gap and end at the buffer's end.
Status SafetensorsHeaderParser::check_tiling(std::vector<SafetensorsTensor>& tensors,
                                             const std::vector<uint64_t>& ends) const {
    std::vector<size_t> order(tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        const SafetensorsTensor& ta = tensors[a];
        const SafetensorsTensor& tb = tensors[b];
        return ta.data_offset != tb.data_offset ? ta.data_offset < tb.data_offset : ends[a] < ends[b];
    });
    uint64_t covered = 0;
    const SafetensorsTensor* prev = nullptr;
    for (const size_t i : order) {
        const SafetensorsTensor& t = tensors[i];
        if (t.data_offset > covered)
            return fail("byte buffer " + range_text(covered, t.data_offset) +
                        " is not covered by any tensor (a hole before tensor '" + t.name + "'; expected it to start at " +
                        std::to_string(covered) + ")");
        if (t.data_offset < covered)
            return tensor_fail(t.name, "data_offsets " + range_text(t.data_offset, ends[i]) + " overlap tensor '" +
                                           prev->name + "' " + range_text(prev->data_offset, covered));
        covered = ends[i];
        prev = &t;
    }
    if (covered != m_buffer_bytes)
        return fail("byte buffer " + range_text(covered, m_buffer_bytes) + " is not covered by any tensor " +
                    (prev ? "(after the last tensor '" + prev->name + "')" : std::string("(the header has no tensors)")) +
                    "; expected the tensors to end at the end of the file");
    std::vector<SafetensorsTensor> sorted;
    sorted.reserve(tensors.size());
    for (const size_t i : order) sorted.push_back(std::move(tensors[i]));
    tensors = std::move(sorted);
    return {};
}

Status SafetensorsHeaderParser::parse(SafetensorsFile& out) {
    std::string_view text;
    MOE_RETURN_IF_ERROR(read_header(text));
    auto header = parse_json_strict(text, m_name + ": header", k_max_json_depth);
    if (!header) return header.status();
    if (!header->is_object())  // a '{' start makes this unreachable, but the check is cheap
        return fail(std::string("header: expected a JSON object, found ") + json_kind(*header));

    std::vector<SafetensorsTensor> tensors;
    std::vector<uint64_t> ends;
    tensors.reserve(header->size());
    ends.reserve(header->size());
    for (const auto& [key, value] : header->items()) {
        if (key == k_metadata_key) {
            MOE_RETURN_IF_ERROR(parse_metadata(value, out));
            continue;
        }
        SafetensorsTensor t;
        uint64_t end = 0;
        MOE_RETURN_IF_ERROR(parse_tensor(key, value, t, end));
        tensors.push_back(std::move(t));
        ends.push_back(end);
    }
    MOE_RETURN_IF_ERROR(check_tiling(tensors, ends));

    const uint8_t* buffer = m_data + 8 + (m_size - 8 - m_buffer_bytes);
    out.m_header_bytes = m_size - 8 - m_buffer_bytes;
    out.m_size = m_size;
    out.m_tensors = std::move(tensors);
    out.m_index.reserve(out.m_tensors.size());
    for (size_t i = 0; i < out.m_tensors.size(); ++i) {
        SafetensorsTensor& t = out.m_tensors[i];
        t.data = buffer + t.data_offset;
        out.m_index.emplace(t.name, i);
    }
    return {};
}

Result<SafetensorsFile> SafetensorsFile::parse(const uint8_t* data, size_t size, const std::string& name) {
    SafetensorsFile file;
    file.m_name = name;
    SafetensorsHeaderParser parser(data, size, file.m_name);
    MOE_RETURN_IF_ERROR(parser.parse(file));
    return file;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
    auto map = MappedFile::open(path);
    if (!map) return map.status();
    auto shared = std::make_shared<MappedFile>(std::move(map.value()));
    auto file = parse(shared->data(), shared->size(), path);
    if (!file) return file.status();
    file->m_map = std::move(shared);
    return file;
}

const SafetensorsTensor* SafetensorsFile::find_tensor(std::string_view name) const {
    const auto it = m_index.find(std::string(name));
    return it == m_index.end() ? nullptr : &m_tensors[it->second];
}

}  // namespace moe
