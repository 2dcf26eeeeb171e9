// Values of the Jinja interpreter: a small dynamic type that follows Python's semantics where chat
// templates can observe them (truthiness, ==, <, str(), repr(), json.dumps()).
//
// Strings, lists and dicts are shared (shared_ptr) so copying a Value is cheap; templates run in
// HF's ImmutableSandboxedEnvironment, where lists and dicts are never mutated in place, so sharing is
// safe. The one mutable object is a namespace() (set ns.attr = ...), which is shared on purpose.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace moe::jinja {

// Containers nest at most this deep (recursion in str(), ==, tojson and destruction follows nesting).
inline constexpr int k_max_value_depth = 128;
// str() of a list or dict longer than this is refused.
inline constexpr size_t k_max_text_bytes = 16u << 20;

class Value;
class Interpreter;

// Positional and keyword arguments of a call, already evaluated.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;
};

// A builtin function, a bound method, a macro or `caller`.
struct Callable {
    std::string name;
    std::function<Value(Interpreter&, CallArgs&)> fn;
};

struct Dict;

class Value {
public:
    enum class Kind : uint8_t { Undefined, None, Bool, Int, Float, String, List, Dict, Namespace, Callable };

    Value() = default;  // undefined
    static Value undefined(std::string hint = {});
    static Value none();
    static Value boolean(bool b);
    static Value integer(int64_t i);
    static Value number(double f);
    static Value string(std::string s);
    static Value list(std::vector<Value> items, bool is_tuple = false);
    static Value dict(std::shared_ptr<Dict> d);
    static Value empty_dict();
    static Value namespace_object(std::shared_ptr<Dict> d);
    static Value callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);
    static Value from_json(const nlohmann::ordered_json& j);

    Kind kind() const { return m_kind; }
    bool is_undefined() const { return m_kind == Kind::Undefined; }
    bool is_none() const { return m_kind == Kind::None; }
    bool is_bool() const { return m_kind == Kind::Bool; }
    bool is_int() const { return m_kind == Kind::Int || m_kind == Kind::Bool; }  // Python: bool is an int
    bool is_float() const { return m_kind == Kind::Float; }
    bool is_number() const { return is_int() || is_float(); }
    bool is_string() const { return m_kind == Kind::String; }
    bool is_list() const { return m_kind == Kind::List; }
    bool is_tuple() const { return m_kind == Kind::List && m_is_tuple; }
    bool is_dict() const { return m_kind == Kind::Dict; }
    bool is_namespace() const { return m_kind == Kind::Namespace; }
    bool is_mapping() const { return m_kind == Kind::Dict || m_kind == Kind::Namespace; }
    bool is_callable() const { return m_kind == Kind::Callable; }
    bool same_object(const Value& other) const { return m_object && m_object == other.m_object; }
    // Whether a namespace() is inside (or is) this value: one may not be stored into a namespace,
    // which would make a reference cycle.
    bool holds_namespace() const { return m_has_namespace; }

    bool as_bool() const { return m_bool; }
    int64_t as_int() const { return m_kind == Kind::Bool ? (m_bool ? 1 : 0) : m_number.i; }
    double as_double() const { return m_kind == Kind::Float ? m_number.f : static_cast<double>(as_int()); }
    const std::string& as_string() const;
    const std::vector<Value>& as_list() const;
    const Dict& as_dict() const;
    Dict& namespace_dict() const;  // the mutable attributes of a namespace()
    const Callable& as_callable() const { return *static_cast<const Callable*>(m_object.get()); }
    const std::string& undefined_hint() const;

    bool truthy() const;
    std::string type_name() const;  // Python's type name: "str", "int", "dict", ...

private:
    static const std::string& empty_string();
    static Value from_json_at(const nlohmann::ordered_json& j, int depth);
    void take_nesting_from(const Value& child);  // throws JinjaError past k_max_value_depth
    // 32 bytes: templates may hold lists of a million values.
    Kind m_kind = Kind::Undefined;
    bool m_bool = false;
    bool m_is_tuple = false;
    bool m_has_namespace = false;
    uint16_t m_depth = 0;  // container nesting: 0 for scalars
    union {
        int64_t i;
        double f;
    } m_number{0};
    // The string (or an undefined's hint), list, Dict or Callable, by kind.
    std::shared_ptr<void> m_object;
};

// An insertion-ordered mapping (Python dicts keep insertion order; tojson must too).
struct Dict {
    std::vector<std::pair<Value, Value>> items;
    const Value* find(const Value& key) const;
    const Value* find(const std::string& key) const;
    void set(const Value& key, Value value);
};

// Python semantics. `work` (optional) counts the element comparisons made, so callers can bill them.
bool values_equal(const Value& a, const Value& b, uint64_t* work = nullptr);
// -1, 0, 1; returns false when the two cannot be ordered (Python raises TypeError).
bool compare_values(const Value& a, const Value& b, int& order, uint64_t* work = nullptr);
// str(v): what {{ v }} renders. Throws JinjaError when a list or dict would exceed k_max_text_bytes.
std::string to_str(const Value& v);
std::string to_repr(const Value& v);  // repr(v): how str() shows items inside a list or dict
std::string format_float(double f);   // Python repr of a float: 1.0, 0.1, 1e+16, inf, nan

// json.dumps(v, ensure_ascii=False, indent=indent, sort_keys=sort_keys) as HF's tojson filter calls it.
// indent < 0 means no indentation. Returns false (with `error` set) for values JSON cannot hold.
bool to_json_text(const Value& v, int indent, bool sort_keys, std::string& out, std::string& error);

// Unicode helpers: strings are UTF-8, but Python indexes, slices and measures them in code points.
// Invalid UTF-8 bytes count as one code point each.
size_t utf8_char_length(const std::string& s, size_t at);  // bytes of the code point starting at `at`
size_t count_code_points(const std::string& s);
// Byte offset of every code point, then s.size(): code point i is [offsets[i], offsets[i+1]).
std::vector<uint32_t> code_point_offsets(const std::string& s);

}  // namespace moe::jinja
