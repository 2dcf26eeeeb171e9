// A SAX builder over nlohmann's parser: it builds the same DOM as json::parse but sees every key as it
// arrives, so a duplicate can be refused, and it stops at the depth limit before allocating further.
#include "formats/json_strict.h"

#include <utility>
#include <vector>

namespace moe {

const char* json_kind(const nlohmann::json& value) {
    if (value.is_number_integer() && value.is_number_unsigned()) return "non-negative integer";
    if (value.is_number_integer()) return "negative integer";
    if (value.is_number_float()) return "floating-point number";
    return value.type_name();
}

namespace {

using json = nlohmann::json;

class StrictBuilder {
public:
    explicit StrictBuilder(size_t max_depth) : m_max_depth(max_depth) {}

    bool null() { return put(json(nullptr)); }
    bool boolean(bool v) { return put(json(v)); }
    bool number_integer(json::number_integer_t v) { return put(json(v)); }
    bool number_unsigned(json::number_unsigned_t v) { return put(json(v)); }
    bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return put(json(v)); }
    bool string(json::string_t& v) { return put(json(std::move(v))); }
    bool binary(json::binary_t& v) { return put(json::binary(std::move(v))); }
    bool start_object(std::size_t /*count*/) { return open(json::object()); }
    bool start_array(std::size_t /*count*/) { return open(json::array()); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(json::string_t& k) {
        Frame& top = m_stack.back();
        if (top.value.contains(k)) {
            const std::string where = location(m_stack.size() - 1);
            return fail("duplicate key " + (where.empty() ? "" : where + " -> ") + "'" + k + "'");
        }
        top.key = std::move(k);
        return true;
    }

    bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const nlohmann::detail::exception& ex) {
        if (m_error.empty()) m_error = std::string("not valid JSON: ") + ex.what();
        return false;
    }

    const std::string& error() const { return m_error; }
    json take_root() { return std::move(m_root); }

private:
    struct Frame {
        json value;
        std::string key;  // the key whose value comes next (objects only)
    };

    bool fail(std::string message) {
        if (m_error.empty()) m_error = std::move(message);
        return false;
    }

    // Where the parser stands, e.g. "'weight_map' -> 'x'" or "'w' -> 'shape' -> [0]"; `upto` frames.
    std::string location(size_t upto) const {
        std::string out;
        for (size_t i = 0; i < upto; ++i) {
            if (!out.empty()) out += " -> ";
            const Frame& f = m_stack[i];
            // Appended piecewise: GCC 12 warns (-Wrestrict) on "'" + std::string temporaries.
            out += f.value.is_object() ? "'" : "[";
            out += f.value.is_object() ? f.key : std::to_string(f.value.size());
            out += f.value.is_object() ? "'" : "]";
        }
        return out;
    }

    bool open(json container) {
        if (m_stack.size() >= m_max_depth)
            return fail("JSON nested deeper than " + std::to_string(m_max_depth) + " levels");
        m_stack.push_back({std::move(container), {}});
        return true;
    }

    bool close() {
        json done = std::move(m_stack.back().value);
        m_stack.pop_back();
        return put(std::move(done));
    }

    bool put(json v) {
        if (m_stack.empty()) {
            m_root = std::move(v);
            return true;
        }
        Frame& top = m_stack.back();
        if (top.value.is_object())
            top.value.emplace(std::move(top.key), std::move(v));
        else
            top.value.push_back(std::move(v));
        return true;
    }

    size_t m_max_depth;
    std::vector<Frame> m_stack;
    json m_root;
    std::string m_error;
};

}  // namespace

Result<nlohmann::json> parse_json_strict(std::string_view text, const std::string& name, size_t max_depth) {
    if (const auto bad = utf8_error_offset(text))
        return Status::error(name + ": not valid UTF-8 at byte " + std::to_string(*bad) + " of the JSON text");
    // nlohmann's lexer takes a NUL byte for the end of input, so "{} \0 junk" would pass; a raw NUL is never
    // valid JSON (inside strings it must be escaped).
    if (const size_t nul = text.find('\0'); nul != std::string_view::npos)
        return Status::error(name + ": not valid JSON: NUL byte at byte " + std::to_string(nul) + " of the JSON text");
    StrictBuilder builder(max_depth);
    bool ok = false;
    try {
        ok = json::sax_parse(text.begin(), text.end(), &builder);
    } catch (const json::exception& e) {
        return Status::error(name + ": not valid JSON: " + e.what());
    }
    if (!ok) {
        const std::string why = builder.error().empty() ? std::string("not valid JSON") : builder.error();
        return Status::error(name + ": " + why);
    }
    return builder.take_root();
}

}  // namespace moe
