#include "template/jinja_value.h"

#include "core/utf8.h"

#include "template/jinja_lexer.h"  // JinjaError

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdio>

namespace moe::jinja {

// ---- construction ----------------------------------------------------------------------------------

Value Value::undefined(std::string hint) {
    Value v;
    if (!hint.empty()) v.m_object = std::make_shared<std::string>(std::move(hint));
    return v;
}
Value Value::none() {
    Value v;
    v.m_kind = Kind::None;
    return v;
}
Value Value::boolean(bool b) {
    Value v;
    v.m_kind = Kind::Bool;
    v.m_bool = b;
    return v;
}
Value Value::integer(int64_t i) {
    Value v;
    v.m_kind = Kind::Int;
    v.m_number.i = i;
    return v;
}
Value Value::number(double f) {
    Value v;
    v.m_kind = Kind::Float;
    v.m_number.f = f;
    return v;
}
Value Value::string(std::string s) {
    Value v;
    v.m_kind = Kind::String;
    v.m_object = std::make_shared<std::string>(std::move(s));
    return v;
}
void Value::take_nesting_from(const Value& child) {
    m_has_namespace = m_has_namespace || child.m_has_namespace;
    if (child.m_depth + 1 > m_depth) {
        if (child.m_depth + 1 > k_max_value_depth)
            throw JinjaError{static_cast<size_t>(-1), "value nested more than " + std::to_string(k_max_value_depth) + " levels deep"};
        m_depth = static_cast<uint16_t>(child.m_depth + 1);
    }
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
    Value v;
    v.m_depth = 1;
    for (const auto& item : items) v.take_nesting_from(item);
    v.m_kind = Kind::List;
    v.m_is_tuple = is_tuple;
    v.m_object = std::make_shared<std::vector<Value>>(std::move(items));
    return v;
}
Value Value::dict(std::shared_ptr<Dict> d) {
    Value v;
    v.m_depth = 1;
    for (const auto& [k, e] : d->items) {
        v.take_nesting_from(k);
        v.take_nesting_from(e);
    }
    v.m_kind = Kind::Dict;
    v.m_object = std::move(d);
    return v;
}
Value Value::empty_dict() { return dict(std::make_shared<Dict>()); }
Value Value::namespace_object(std::shared_ptr<Dict> d) {
    Value v;
    v.m_depth = 1;
    v.m_has_namespace = true;
    v.m_kind = Kind::Namespace;
    v.m_object = std::move(d);
    return v;
}
Value Value::callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
    Value v;
    v.m_kind = Kind::Callable;
    v.m_object = std::make_shared<Callable>(Callable{std::move(name), std::move(fn)});
    return v;
}

Value Value::from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

Value Value::from_json_at(const nlohmann::ordered_json& j, int depth) {
    if (depth > k_max_value_depth)
        throw JinjaError{static_cast<size_t>(-1), "input JSON nested more than " + std::to_string(k_max_value_depth) + " levels deep"};
    switch (j.type()) {
        case nlohmann::ordered_json::value_t::null: return none();
        case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
        case nlohmann::ordered_json::value_t::number_integer: return integer(j.get<int64_t>());
        case nlohmann::ordered_json::value_t::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            return u <= static_cast<uint64_t>(INT64_MAX) ? integer(static_cast<int64_t>(u))
                                                         : number(static_cast<double>(u));
        }
        case nlohmann::ordered_json::value_t::number_float: return number(j.get<double>());
        case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
        case nlohmann::ordered_json::value_t::array: {
            std::vector<Value> items;
            items.reserve(j.size());
            for (const auto& e : j) items.push_back(from_json_at(e, depth + 1));
            return list(std::move(items));
        }
        case nlohmann::ordered_json::value_t::object: {
            auto d = std::make_shared<Dict>();
            d->items.reserve(j.size());
            for (const auto& [k, e] : j.items()) d->items.emplace_back(string(k), from_json_at(e, depth + 1));
            return dict(std::move(d));
        }
        default: return none();  // binary / discarded: nothing a template can use
    }
}

// ---- access ----------------------------------------------------------------------------------------

const std::string& Value::empty_string() {
    static const std::string empty;
    return empty;
}
const std::string& Value::as_string() const {
    return m_kind == Kind::String ? *static_cast<const std::string*>(m_object.get()) : empty_string();
}
const std::string& Value::undefined_hint() const {
    return m_kind == Kind::Undefined && m_object ? *static_cast<const std::string*>(m_object.get()) : empty_string();
}
const std::vector<Value>& Value::as_list() const {
    static const std::vector<Value> empty;
    return m_kind == Kind::List ? *static_cast<const std::vector<Value>*>(m_object.get()) : empty;
}
const Dict& Value::as_dict() const {
    static const Dict empty;
    return m_kind == Kind::Dict ? *static_cast<const Dict*>(m_object.get()) : empty;
}
Dict& Value::namespace_dict() const {
    assert(m_kind == Kind::Namespace && "namespace_dict() on a value that is not a namespace");
    return *static_cast<Dict*>(m_object.get());
}

bool Value::truthy() const {
    switch (m_kind) {
        case Kind::Undefined:
        case Kind::None: return false;
        case Kind::Bool: return m_bool;
        case Kind::Int: return m_number.i != 0;
        case Kind::Float: return m_number.f != 0.0;
        case Kind::String: return !as_string().empty();
        case Kind::List: return !as_list().empty();
        case Kind::Dict: return !as_dict().items.empty();
        case Kind::Namespace:
        case Kind::Callable: return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (m_kind) {
        case Kind::Undefined: return "Undefined";
        case Kind::None: return "NoneType";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Float: return "float";
        case Kind::String: return "str";
        case Kind::List: return m_is_tuple ? "tuple" : "list";
        case Kind::Dict: return "dict";
        case Kind::Namespace: return "Namespace";
        case Kind::Callable: return "function";
    }
    return "object";
}

const Value* Dict::find(const Value& key) const {
    for (const auto& [k, v] : items)
        if (values_equal(k, key)) return &v;
    return nullptr;
}
const Value* Dict::find(const std::string& key) const {
    for (const auto& [k, v] : items)
        if (k.is_string() && k.as_string() == key) return &v;
    return nullptr;
}
void Dict::set(const Value& key, Value value) {
    for (auto& [k, v] : items) {
        if (values_equal(k, key)) {
            v = std::move(value);
            return;
        }
    }
    items.emplace_back(key, std::move(value));
}

// ---- comparison ------------------------------------------------------------------------------------

bool values_equal(const Value& a, const Value& b, uint64_t* work) {
    if (work) ++*work;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
        return a.as_int() == b.as_int();
    }
    if (a.kind() != b.kind()) return false;
    if (a.same_object(b) && a.kind() != Value::Kind::Undefined) return true;  // Python: identity first
    switch (a.kind()) {
        case Value::Kind::Undefined:
        case Value::Kind::None: return true;
        case Value::Kind::String:
            if (work) *work += a.as_string().size() / 64;
            return a.as_string() == b.as_string();
        case Value::Kind::List: {
            if (a.is_tuple() != b.is_tuple()) return false;
            const auto& x = a.as_list();
            const auto& y = b.as_list();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i)
                if (!values_equal(x[i], y[i], work)) return false;
            return true;
        }
        case Value::Kind::Dict: {
            const auto& x = a.as_dict().items;
            if (x.size() != b.as_dict().items.size()) return false;
            for (const auto& [k, v] : x) {
                if (work) *work += b.as_dict().items.size();
                const Value* other = b.as_dict().find(k);
                if (!other || !values_equal(v, *other, work)) return false;
            }
            return true;
        }
        case Value::Kind::Namespace: return &a.namespace_dict() == &b.namespace_dict();
        case Value::Kind::Callable: return &a.as_callable() == &b.as_callable();
        default: return false;
    }
}

bool compare_values(const Value& a, const Value& b, int& order, uint64_t* work) {
    if (work) ++*work;
    if (a.is_number() && b.is_number()) {
        if (a.is_float() || b.is_float()) {
            const double x = a.as_double(), y = b.as_double();
            order = x < y ? -1 : (x > y ? 1 : 0);
        } else {
            const int64_t x = a.as_int(), y = b.as_int();
            order = x < y ? -1 : (x > y ? 1 : 0);
        }
        return true;
    }
    if (a.is_string() && b.is_string()) {
        // UTF-8 byte order is code point order, which is how Python orders str.
        const int c = a.as_string().compare(b.as_string());
        order = c < 0 ? -1 : (c > 0 ? 1 : 0);
        return true;
    }
    if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
        const auto& x = a.as_list();
        const auto& y = b.as_list();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (values_equal(x[i], y[i], work)) continue;
            return compare_values(x[i], y[i], order, work);
        }
        order = x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
        return true;
    }
    return false;
}

// ---- text forms ------------------------------------------------------------------------------------

std::string format_float(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
    if (f == 0.0) return std::signbit(f) ? "-0.0" : "0.0";
    // Shortest round-trip digits, then laid out the way Python's repr() does.
    char buf[64] = {};
    const auto res = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
    const std::string sci(buf, res.ptr);
    const size_t e_at = sci.find('e');
    std::string mantissa = sci.substr(0, e_at);
    const int exponent = std::stoi(sci.substr(e_at + 1));
    const bool negative = mantissa[0] == '-';
    if (negative) mantissa.erase(0, 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.') digits += c;
    std::string out = negative ? "-" : "";
    if (exponent >= 16 || exponent < -4) {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char exp_buf[16] = {};
        std::snprintf(exp_buf, sizeof(exp_buf), "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
        return out + exp_buf;
    }
    if (exponent < 0) return out + "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    const size_t int_len = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= int_len) return out + digits + std::string(int_len - digits.size(), '0') + ".0";
    return out + digits.substr(0, int_len) + "." + digits.substr(int_len);
}

static std::string repr_string(const std::string& s) {
    const bool has_single = s.find('\'') != std::string::npos;
    const bool has_double = s.find('"') != std::string::npos;
    const char quote = (has_single && !has_double) ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == static_cast<unsigned char>(quote)) out += std::string("\\") + quote;
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7f) {
            char buf[8] = {};
            std::snprintf(buf, sizeof(buf), "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + quote;
}

static void check_text_size(const std::string& s) {
    if (s.size() > k_max_text_bytes)
        throw JinjaError{static_cast<size_t>(-1), "value too large to convert to a string (over 16 MiB)"};
}

static std::string join_repr(const Value& v) {
    std::string out;
    if (v.is_list()) {
        const auto& items = v.as_list();
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += ", ";
            out += to_repr(items[i]);
            check_text_size(out);
        }
        if (v.is_tuple()) return "(" + out + (items.size() == 1 ? ",)" : ")");
        return "[" + out + "]";
    }
    const auto& items = v.is_namespace() ? v.namespace_dict().items : v.as_dict().items;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ", ";
        out += to_repr(items[i].first);
        out += ": ";
        out += to_repr(items[i].second);
        check_text_size(out);
    }
    return v.is_namespace() ? "<Namespace {" + out + "}>" : "{" + out + "}";
}

std::string to_str(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return "";
        case Value::Kind::None: return "None";
        case Value::Kind::Bool: return v.as_bool() ? "True" : "False";
        case Value::Kind::Int: return std::to_string(v.as_int());
        case Value::Kind::Float: return format_float(v.as_double());
        case Value::Kind::String: return v.as_string();
        case Value::Kind::List:
        case Value::Kind::Dict:
        case Value::Kind::Namespace: return join_repr(v);
        case Value::Kind::Callable: return "<function " + v.as_callable().name + ">";
    }
    return "";
}

std::string to_repr(const Value& v) {
    if (v.is_string()) return repr_string(v.as_string());
    if (v.is_undefined()) return "Undefined";
    return to_str(v);
}

// ---- JSON ------------------------------------------------------------------------------------------

static void json_escape(const std::string& s, std::string& out) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char buf[8] = {};
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += static_cast<char>(c);  // ensure_ascii=False: UTF-8 passes through
                }
        }
    }
    out += '"';
}

static bool json_key(const Value& k, std::string& out, std::string& error) {
    if (k.is_string()) out = k.as_string();
    else if (k.is_bool()) out = k.as_bool() ? "true" : "false";
    else if (k.is_int()) out = std::to_string(k.as_int());
    else if (k.is_float()) out = format_float(k.as_double());
    else if (k.is_none()) out = "null";
    else {
        error = "keys must be str, int, float, bool or None, not " + k.type_name();
        return false;
    }
    return true;
}

static bool json_write(const Value& v, int indent, bool sort_keys, int depth, std::string& out,
                       std::string& error) {
    if (depth > 256) {
        error = "value nested too deeply for tojson";
        return false;
    }
    const std::string item_sep = indent >= 0 ? "," : ", ";
    auto newline = [&](int level) {
        if (indent >= 0) out += "\n" + std::string(static_cast<size_t>(indent) * level, ' ');
    };
    switch (v.kind()) {
        case Value::Kind::None: out += "null"; return true;
        case Value::Kind::Bool: out += v.as_bool() ? "true" : "false"; return true;
        case Value::Kind::Int: out += std::to_string(v.as_int()); return true;
        case Value::Kind::Float: {
            const double f = v.as_double();
            out += std::isnan(f) ? "NaN" : std::isinf(f) ? (f > 0 ? "Infinity" : "-Infinity") : format_float(f);
            return true;
        }
        case Value::Kind::String: json_escape(v.as_string(), out); return true;
        case Value::Kind::List: {
            const auto& items = v.as_list();
            if (items.empty()) { out += "[]"; return true; }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                if (!json_write(items[i], indent, sort_keys, depth + 1, out, error)) return false;
                if (out.size() > k_max_text_bytes) {
                    error = "tojson output larger than 16 MiB";
                    return false;
                }
            }
            newline(depth);
            out += ']';
            return true;
        }
        case Value::Kind::Dict: {
            std::vector<std::pair<std::string, const Value*>> entries;
            for (const auto& [k, e] : v.as_dict().items) {
                std::string key;
                if (!json_key(k, key, error)) return false;
                entries.emplace_back(std::move(key), &e);
            }
            if (sort_keys)
                std::stable_sort(entries.begin(), entries.end(),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
            if (entries.empty()) { out += "{}"; return true; }
            out += '{';
            for (size_t i = 0; i < entries.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                json_escape(entries[i].first, out);
                out += ": ";
                if (!json_write(*entries[i].second, indent, sort_keys, depth + 1, out, error)) return false;
                if (out.size() > k_max_text_bytes) {
                    error = "tojson output larger than 16 MiB";
                    return false;
                }
            }
            newline(depth);
            out += '}';
            return true;
        }
        default:
            error = "Object of type " + v.type_name() + " is not JSON serializable";
            return false;
    }
}

bool to_json_text(const Value& v, int indent, bool sort_keys, std::string& out, std::string& error) {
    return json_write(v, indent, sort_keys, 0, out, error);
}

// ---- UTF-8 -----------------------------------------------------------------------------------------

size_t utf8_char_length(const std::string& s, size_t i) {
    uint32_t cp = 0;
    const size_t n = utf8_decode(s, i, cp);
    return n == 0 ? 1 : n;  // a byte that starts no valid character counts as one character
}

std::vector<uint32_t> code_point_offsets(const std::string& s) {
    if (s.size() >= UINT32_MAX) throw JinjaError{static_cast<size_t>(-1), "string too large to index"};
    std::vector<uint32_t> offsets;
    offsets.reserve(s.size() + 1);
    for (size_t i = 0; i < s.size(); i += utf8_char_length(s, i)) offsets.push_back(static_cast<uint32_t>(i));
    offsets.push_back(static_cast<uint32_t>(s.size()));
    return offsets;
}

size_t count_code_points(const std::string& s) {
    size_t count = 0;
    for (size_t i = 0; i < s.size(); i += utf8_char_length(s, i)) ++count;
    return count;
}

}  // namespace moe::jinja
static_assert(sizeof(moe::jinja::Value) <= 32, "Value grew: lists of values get expensive");
