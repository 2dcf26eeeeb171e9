// Filters and tests, following jinja2 3.1 (filters.py, tests.py) and HF's tojson override
// (json.dumps with ensure_ascii=False, key order kept, indent and sort_keys honoured).
// `safe` is the identity (HF renders without autoescaping); `escape`/`e` do real HTML escaping as jinja2
// does. upper/lower/capitalize map the cases of Latin, Greek and Cyrillic letters; title, ASCII only.
#include <algorithm>
#include <cfenv>
#include <cmath>

#include "template/jinja_interpreter.h"

namespace moe::jinja {

namespace {

int64_t int_arg(const CallArgs& args, size_t index, const char* name, int64_t fallback) {
    const Value* v = find_arg(args, index, name);
    if (!v || v->is_undefined() || v->is_none()) return fallback;
    if (!v->is_int()) fail(std::string("argument '") + name + "' must be an integer");
    return v->as_int();
}
bool bool_arg(const CallArgs& args, size_t index, const char* name, bool fallback) {
    const Value* v = find_arg(args, index, name);
    return v && !v->is_undefined() ? v->truthy() : fallback;
}
std::string str_arg(const CallArgs& args, size_t index, const char* name, const std::string& fallback) {
    const Value* v = find_arg(args, index, name);
    return v && !v->is_undefined() && !v->is_none() ? to_str(*v) : fallback;
}

std::vector<Value> sequence_of(Interpreter& in, const Value& v) { return in.iterate(v); }

// `attribute` may be dotted ("function.name"); integer parts index lists (jinja2 make_attrgetter).
Value attribute_path(Interpreter& in, const Value& item, const std::string& path) {
    Value v = item;
    size_t start = 0;
    while (start <= path.size()) {
        const size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; });
        v = numeric && part.size() < 18 ? in.get_item(v, Value::integer(std::stoll(part))) : in.get_item(v, Value::string(part));
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return v;
}

Value f_length(Interpreter&, const Value& v, CallArgs&) {
    switch (v.kind()) {
        case Value::Kind::Undefined: return Value::integer(0);
        case Value::Kind::String: return Value::integer(static_cast<int64_t>(count_code_points(v.as_string())));
        case Value::Kind::List: return Value::integer(static_cast<int64_t>(v.as_list().size()));
        case Value::Kind::Dict: return Value::integer(static_cast<int64_t>(v.as_dict().items.size()));
        default: fail("object of type '" + v.type_name() + "' has no len()");
    }
}

Value f_tojson(Interpreter& in, const Value& v, CallArgs& args) {
    const Value* indent_v = find_arg(args, 0, "indent");
    int indent = -1;
    if (indent_v && indent_v->is_int()) indent = static_cast<int>(std::clamp<int64_t>(indent_v->as_int(), 0, 64));
    std::string out, error;
    if (!to_json_text(v, indent, bool_arg(args, 99, "sort_keys", false), out, error)) fail(error);
    in.charge_bytes(out.size());
    return Value::string(std::move(out));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& args) {
    return Value::string(py_strip(to_str(v), find_arg(args, 0, "chars"), true, true));
}
Value f_upper(Interpreter&, const Value& v, CallArgs&) { return Value::string(py_upper(to_str(v))); }
Value f_lower(Interpreter&, const Value& v, CallArgs&) { return Value::string(py_lower(to_str(v))); }
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) {
    std::string s = py_lower(to_str(v));
    if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 32);
    return Value::string(std::move(s));
}
Value f_title(Interpreter&, const Value& v, CallArgs&) {
    // jinja2: split on runs of - whitespace ( { [ <, then upper-case the first letter of every piece.
    const std::string s = to_str(v);
    std::string out;
    bool word_start = true;
    for (char c : s) {
        const bool sep = c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' ||
                         c == '(' || c == '{' || c == '[' || c == '<';
        if (sep) out += c;
        else if (word_start && c >= 'a' && c <= 'z') out += static_cast<char>(c - 32);
        else if (!word_start && c >= 'A' && c <= 'Z') out += static_cast<char>(c + 32);
        else out += c;
        word_start = sep;
    }
    return Value::string(std::move(out));
}
Value f_replace(Interpreter& in, const Value& v, CallArgs& args) {
    return Value::string(py_replace(in, to_str(v), str_arg(args, 0, "old", ""), str_arg(args, 1, "new", ""),
                                    int_arg(args, 2, "count", -1)));
}
Value f_join(Interpreter& in, const Value& v, CallArgs& args) {
    const std::string sep = str_arg(args, 0, "d", "");
    const Value* attr = find_arg(args, 1, "attribute");
    std::string out;
    bool first = true;
    for (const auto& item : sequence_of(in, v)) {
        const std::string piece = to_str(attr ? attribute_path(in, item, to_str(*attr)) : item);
        in.charge_bytes(piece.size() + sep.size());
        if (out.size() + piece.size() + sep.size() > k_max_string_bytes) fail("joined string too large");
        if (!first) out += sep;
        out += piece;
        first = false;
    }
    return Value::string(std::move(out));
}
Value f_first(Interpreter& in, const Value& v, CallArgs&) {
    const auto items = sequence_of(in, v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}
Value f_last(Interpreter& in, const Value& v, CallArgs&) {
    const auto items = sequence_of(in, v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}
Value f_default(Interpreter&, const Value& v, CallArgs& args) {
    const Value* fallback = find_arg(args, 0, "default_value");
    const bool boolean = bool_arg(args, 1, "boolean", false);
    if (v.is_undefined() || (boolean && !v.truthy())) return fallback ? *fallback : Value::string("");
    return v;
}
Value f_list(Interpreter& in, const Value& v, CallArgs&) { return Value::list(sequence_of(in, v)); }
Value f_string(Interpreter&, const Value& v, CallArgs&) { return Value::string(to_str(v)); }

bool parse_python_number(std::string s, bool want_int, int base, double& out_float, int64_t& out_int) {
    s = py_strip(s, nullptr, true, true);
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    if (s.empty()) return false;
    errno = 0;
    char* end = nullptr;
    if (want_int) {
        const long long i = std::strtoll(s.c_str(), &end, base);
        if (errno == 0 && end && *end == '\0') {
            out_int = i;
            return true;
        }
        return false;
    }
    const double f = std::strtod(s.c_str(), &end);
    if (!end || *end != '\0') return false;
    out_float = f;
    return true;
}
Value f_int(Interpreter&, const Value& v, CallArgs& args) {
    const Value* dflt = find_arg(args, 0, "default");
    const Value fallback = dflt ? *dflt : Value::integer(0);
    const int64_t base = int_arg(args, 1, "base", 10);
    if (v.is_int()) return Value::integer(v.as_int());
    if (v.is_float()) {
        const double f = v.as_double();
        if (!std::isfinite(f) || std::fabs(f) >= 9.2e18) return fallback;
        return Value::integer(static_cast<int64_t>(f));
    }
    if (!v.is_string() || base < 2 || base > 36) return fallback;
    int64_t i = 0;
    double f = 0.0;
    if (parse_python_number(v.as_string(), true, static_cast<int>(base), f, i)) return Value::integer(i);
    if (base == 10 && parse_python_number(v.as_string(), false, 10, f, i) && std::isfinite(f) && std::fabs(f) < 9.2e18)
        return Value::integer(static_cast<int64_t>(f));
    return fallback;
}
Value f_float(Interpreter&, const Value& v, CallArgs& args) {
    const Value* dflt = find_arg(args, 0, "default");
    const Value fallback = dflt ? *dflt : Value::number(0.0);
    if (v.is_number()) return Value::number(v.as_double());
    int64_t i = 0;
    double f = 0.0;
    if (v.is_string() && parse_python_number(v.as_string(), false, 10, f, i)) return Value::number(f);
    return fallback;
}
Value f_abs(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_float()) return Value::number(std::fabs(v.as_double()));
    if (v.is_int()) {
        if (v.as_int() == INT64_MIN) fail("integer overflow in abs");
        return Value::integer(std::llabs(v.as_int()));
    }
    fail("bad operand type for abs(): '" + v.type_name() + "'");
}
Value f_items(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_mapping()) fail("can only get item pairs from a mapping");
    std::vector<Value> pairs;
    const auto& items = v.is_namespace() ? v.namespace_dict().items : v.as_dict().items;
    for (const auto& [k, e] : items) pairs.push_back(Value::list({k, e}, true));
    return Value::list(std::move(pairs));
}

// select / reject / selectattr / rejectattr share this: arguments after the test name go to the test.
Value select_items(Interpreter& in, const Value& v, CallArgs& args, bool by_attribute, bool keep_if) {
    size_t next = 0;
    std::string attribute;
    if (by_attribute) {
        if (args.positional.empty()) fail("selectattr/rejectattr need an attribute name");
        attribute = to_str(args.positional[next++]);
    }
    std::string test;
    if (next < args.positional.size()) test = to_str(args.positional[next++]);
    CallArgs test_args;
    test_args.positional.assign(args.positional.begin() + static_cast<long>(next), args.positional.end());
    std::vector<Value> out;
    for (const auto& item : sequence_of(in, v)) {
        in.charge_steps();
        const Value subject = by_attribute ? attribute_path(in, item, attribute) : item;
        const bool pass = test.empty() ? subject.truthy() : in.apply_test(test, subject, test_args);
        if (pass == keep_if) out.push_back(item);
    }
    return Value::list(std::move(out));
}
Value f_select(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, false, true); }
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, false, false); }
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, true, true); }
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) { return select_items(in, v, a, true, false); }

Value f_map(Interpreter& in, const Value& v, CallArgs& args) {
    std::vector<Value> out;
    const Value* attr = find_arg(args, 99, "attribute");
    const Value* dflt = find_arg(args, 99, "default");
    if (!attr && args.positional.empty()) fail("map requires a filter name or attribute=");
    CallArgs filter_args;
    if (!attr) filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
    for (const auto& item : sequence_of(in, v)) {
        in.charge_steps();
        if (attr) {
            Value got = attribute_path(in, item, to_str(*attr));
            out.push_back(got.is_undefined() && dflt ? *dflt : got);
        } else {
            CallArgs a = filter_args;
            out.push_back(in.apply_filter(to_str(args.positional[0]), item, a));
        }
    }
    return Value::list(std::move(out));
}

Value sort_key(Interpreter& in, const Value& item, const Value* attribute, bool case_sensitive) {
    Value key = attribute ? attribute_path(in, item, to_str(*attribute)) : item;
    if (!case_sensitive && key.is_string()) key = Value::string(py_lower(key.as_string()));
    return key;
}
Value f_unique(Interpreter& in, const Value& v, CallArgs& args) {
    const bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const Value* attribute = find_arg(args, 1, "attribute");
    std::vector<Value> seen, out;
    for (const auto& item : sequence_of(in, v)) {
        const Value key = sort_key(in, item, attribute, case_sensitive);
        uint64_t work = 0;
        const bool is_new = std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key, &work); });
        in.charge_steps(work + 1);
        if (is_new) {
            seen.push_back(key);
            out.push_back(item);
        }
    }
    return Value::list(std::move(out));
}
void stable_sort_values(Interpreter& in, std::vector<std::pair<Value, Value>>& keyed, bool reverse) {
    std::string error;
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        int order = 0;
        uint64_t work = 0;
        const bool comparable = compare_values(x.first, y.first, order, &work);
        in.charge_steps(work);  // may throw out of the sort: the vector stays valid, and is dropped
        if (!comparable) {
            if (error.empty()) error = "'<' not supported between instances of '" + x.first.type_name() + "' and '" + y.first.type_name() + "'";
            return false;
        }
        return reverse ? order > 0 : order < 0;
    });
    if (!error.empty()) fail(error);
}
Value f_sort(Interpreter& in, const Value& v, CallArgs& args) {
    const bool reverse = bool_arg(args, 0, "reverse", false);
    const bool case_sensitive = bool_arg(args, 1, "case_sensitive", false);
    const Value* attribute = find_arg(args, 2, "attribute");
    std::vector<std::pair<Value, Value>> keyed;
    for (const auto& item : sequence_of(in, v)) keyed.emplace_back(sort_key(in, item, attribute, case_sensitive), item);
    stable_sort_values(in, keyed, reverse);
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return Value::list(std::move(out));
}
Value f_dictsort(Interpreter& in, const Value& v, CallArgs& args) {
    if (!v.is_dict()) fail("dictsort requires a mapping");
    const bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const bool by_value = str_arg(args, 1, "by", "key") == "value";
    const bool reverse = bool_arg(args, 2, "reverse", false);
    std::vector<std::pair<Value, Value>> keyed;
    for (const auto& [k, e] : v.as_dict().items) {
        Value key = by_value ? e : k;
        if (!case_sensitive && key.is_string()) key = Value::string(py_lower(key.as_string()));
        keyed.emplace_back(key, Value::list({k, e}, true));
    }
    stable_sort_values(in, keyed, reverse);
    std::vector<Value> out;
    for (auto& kv : keyed) out.push_back(std::move(kv.second));
    return Value::list(std::move(out));
}
Value f_reverse(Interpreter& in, const Value& v, CallArgs&) {
    if (v.is_string()) {
        const std::string& s = v.as_string();
        const std::vector<uint32_t> at = code_point_offsets(s);
        std::string out;
        out.reserve(s.size());
        for (size_t i = at.size() - 1; i > 0; --i) out.append(s, at[i - 1], at[i] - at[i - 1]);
        return Value::string(std::move(out));
    }
    auto items = sequence_of(in, v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}
Value f_escape(Interpreter& in, const Value& v, CallArgs&) {
    std::string out;
    for (char c : to_str(v)) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    in.charge_bytes(out.size());
    return Value::string(std::move(out));
}
Value f_safe(Interpreter&, const Value& v, CallArgs&) { return v; }

std::vector<std::string> split_lines(const std::string& s) {  // Python str.splitlines() for ASCII breaks
    std::vector<std::string> lines;
    std::string cur;
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '\x1c' || c == '\x1d' || c == '\x1e') {
            if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
            lines.push_back(std::move(cur));
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (!cur.empty()) lines.push_back(std::move(cur));
    return lines;
}
Value f_indent(Interpreter& in, const Value& v, CallArgs& args) {
    const Value* width = find_arg(args, 0, "width");
    std::string pad(4, ' ');
    if (width && width->is_string()) pad = width->as_string();
    else if (width && width->is_int()) pad = std::string(static_cast<size_t>(std::clamp<int64_t>(width->as_int(), 0, 1024)), ' ');
    const bool first = bool_arg(args, 1, "first", false);
    const bool blank = bool_arg(args, 2, "blank", false);
    const std::vector<std::string> lines = split_lines(to_str(v) + "\n");
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) out += "\n";
        if ((i == 0 && first) || (i > 0 && (blank || !lines[i].empty()))) out += pad;
        out += lines[i];
        if (out.size() > k_max_string_bytes) fail("indented string too large");
    }
    in.charge_bytes(out.size());
    return Value::string(std::move(out));
}
Value f_round(Interpreter&, const Value& v, CallArgs& args) {
    if (!v.is_number()) fail("round() needs a number, got '" + v.type_name() + "'");
    const int64_t precision = std::clamp<int64_t>(int_arg(args, 0, "precision", 0), -300, 300);
    const std::string method = str_arg(args, 1, "method", "common");
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double x = v.as_double() * scale;
    double r = 0.0;
    if (method == "ceil") r = std::ceil(x);
    else if (method == "floor") r = std::floor(x);
    else if (method == "common") r = std::nearbyint(x);  // Python round(): half to even
    else fail("method must be common, ceil or floor");
    if (v.is_int() && method == "common") {  // Python: round(int, n) stays an int
        const double back = r / scale;
        if (std::fabs(back) < 9.2e18) return Value::integer(static_cast<int64_t>(back));
    }
    return Value::number(r / scale);
}
Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
    int64_t n = 0;
    bool in_word = false;
    for (unsigned char c : to_str(v)) {
        const bool word = std::isalnum(c) || c == '_' || c >= 0x80;
        if (word && !in_word) ++n;
        in_word = word;
    }
    return Value::integer(n);
}
Value f_sum(Interpreter& in, const Value& v, CallArgs& args) {
    const Value* attribute = find_arg(args, 0, "attribute");
    const Value* start = find_arg(args, 1, "start");
    Value total = start ? *start : Value::integer(0);
    for (const auto& item : sequence_of(in, v))
        total = binary_operator(in, "+", total, attribute ? attribute_path(in, item, to_str(*attribute)) : item);
    return total;
}
Value min_max(Interpreter& in, const Value& v, CallArgs& args, bool want_max) {
    const bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const Value* attribute = find_arg(args, 1, "attribute");
    Value best, best_key;
    for (const auto& item : sequence_of(in, v)) {
        const Value key = sort_key(in, item, attribute, case_sensitive);
        int order = 0;
        uint64_t work = 0;
        if (!best.is_undefined() && !compare_values(key, best_key, order, &work)) fail("values cannot be compared");
        in.charge_steps(work);
        if (best.is_undefined() || (want_max ? order > 0 : order < 0)) {
            best = item;
            best_key = key;
        }
    }
    return best.is_undefined() ? Value::undefined("No aggregated item, sequence was empty.") : best;
}
Value f_min(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, false); }
Value f_max(Interpreter& in, const Value& v, CallArgs& a) { return min_max(in, v, a, true); }
Value f_batch(Interpreter& in, const Value& v, CallArgs& args) {
    const int64_t size = int_arg(args, 0, "linecount", 1);
    if (size <= 0) fail("batch size must be positive");
    const Value* fill = find_arg(args, 1, "fill_with");
    std::vector<Value> out, current;
    for (const auto& item : sequence_of(in, v)) {
        current.push_back(item);
        if (static_cast<int64_t>(current.size()) == size) {
            out.push_back(Value::list(std::move(current)));
            current.clear();
        }
    }
    if (!current.empty()) {
        while (fill && !fill->is_none() && static_cast<int64_t>(current.size()) < size) {
            in.charge_steps();
            current.push_back(*fill);
        }
        out.push_back(Value::list(std::move(current)));
    }
    return Value::list(std::move(out));
}
Value f_attr(Interpreter& in, const Value& v, CallArgs& args) { return in.get_attribute(v, str_arg(args, 0, "name", "")); }
Value f_center(Interpreter& in, const Value& v, CallArgs& args) {
    const std::string s = to_str(v);
    const auto width = static_cast<size_t>(std::clamp<int64_t>(int_arg(args, 0, "width", 80), 0, 1 << 20));
    const size_t len = count_code_points(s);
    if (width <= len) return Value::string(s);
    const size_t total = width - len;
    const size_t left = total / 2 + (total & width & 1);  // Python's centering rule
    in.charge_bytes(s.size() + total);
    return Value::string(std::string(left, ' ') + s + std::string(total - left, ' '));
}

// ---- tests -----------------------------------------------------------------------------------------

const Value& test_arg(const CallArgs& args) {
    static const Value none;
    return args.positional.empty() ? none : args.positional[0];
}
int64_t modulo_of(const Value& v, int64_t divisor) {
    if (!v.is_number()) fail("test needs a number, got '" + v.type_name() + "'");
    if (divisor == 0) fail("integer division or modulo by zero");
    if (v.is_float()) return std::fmod(v.as_double(), static_cast<double>(divisor)) == 0.0 ? 0 : 1;
    if (divisor == -1) return 0;
    return v.as_int() % divisor;
}
bool equal_charged(Interpreter& in, const Value& a, const Value& b) {
    uint64_t work = 0;
    const bool equal = values_equal(a, b, &work);
    in.charge_steps(work);
    return equal;
}
bool compare_test(const Value& a, const Value& b, const char* op) {
    int order = 0;
    if (!compare_values(a, b, order)) fail(std::string("'") + op + "' not supported between these values");
    const std::string o = op;
    return o == "<" ? order < 0 : o == "<=" ? order <= 0 : o == ">" ? order > 0 : order >= 0;
}
bool all_case(const std::string& s, bool upper) {
    bool cased = false;
    for (char c : s) {
        if (upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) return false;
        cased = cased || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    return cased;
}

}  // namespace

const std::unordered_map<std::string, FilterFn>& filter_table() {
    static const std::unordered_map<std::string, FilterFn> table = {
        {"length", f_length}, {"count", f_length}, {"tojson", f_tojson}, {"trim", f_trim},
        {"upper", f_upper}, {"lower", f_lower}, {"capitalize", f_capitalize}, {"title", f_title},
        {"replace", f_replace}, {"join", f_join}, {"first", f_first}, {"last", f_last},
        {"default", f_default}, {"d", f_default}, {"list", f_list}, {"string", f_string},
        {"int", f_int}, {"float", f_float}, {"abs", f_abs}, {"items", f_items},
        {"select", f_select}, {"reject", f_reject}, {"selectattr", f_selectattr}, {"rejectattr", f_rejectattr},
        {"map", f_map}, {"unique", f_unique}, {"sort", f_sort}, {"dictsort", f_dictsort},
        {"reverse", f_reverse}, {"escape", f_escape}, {"e", f_escape}, {"forceescape", f_escape},
        {"safe", f_safe}, {"indent", f_indent}, {"round", f_round}, {"wordcount", f_wordcount},
        {"sum", f_sum}, {"min", f_min}, {"max", f_max}, {"attr", f_attr}, {"batch", f_batch}, {"center", f_center},
    };
    return table;
}

const std::unordered_map<std::string, TestFn>& test_table() {
    using A = CallArgs;
    using I = Interpreter;
    static const std::unordered_map<std::string, TestFn> table = {
        {"defined", [](I&, const Value& v, A&) { return !v.is_undefined(); }},
        {"undefined", [](I&, const Value& v, A&) { return v.is_undefined(); }},
        {"none", [](I&, const Value& v, A&) { return v.is_none(); }},
        {"string", [](I&, const Value& v, A&) { return v.is_string(); }},
        {"number", [](I&, const Value& v, A&) { return v.is_number(); }},
        {"integer", [](I&, const Value& v, A&) { return v.kind() == Value::Kind::Int; }},
        {"float", [](I&, const Value& v, A&) { return v.is_float(); }},
        {"mapping", [](I&, const Value& v, A&) { return v.is_dict(); }},
        {"iterable", [](I&, const Value& v, A&) { return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined(); }},
        {"sequence", [](I&, const Value& v, A&) { return v.is_string() || v.is_list() || v.is_dict() || v.is_undefined(); }},
        {"boolean", [](I&, const Value& v, A&) { return v.is_bool(); }},
        {"true", [](I&, const Value& v, A&) { return v.is_bool() && v.as_bool(); }},
        {"false", [](I&, const Value& v, A&) { return v.is_bool() && !v.as_bool(); }},
        {"callable", [](I&, const Value& v, A&) { return v.is_callable(); }},
        {"odd", [](I&, const Value& v, A&) { return modulo_of(v, 2) != 0; }},
        {"even", [](I&, const Value& v, A&) { return modulo_of(v, 2) == 0; }},
        {"divisibleby", [](I&, const Value& v, A& a) {
             const Value& d = test_arg(a);
             if (!d.is_int()) fail("divisibleby needs an integer");
             return modulo_of(v, d.as_int()) == 0;
         }},
        {"equalto", [](I& in, const Value& v, A& a) { return equal_charged(in, v, test_arg(a)); }},
        {"eq", [](I& in, const Value& v, A& a) { return equal_charged(in, v, test_arg(a)); }},
        {"==", [](I& in, const Value& v, A& a) { return equal_charged(in, v, test_arg(a)); }},
        {"sameas", [](I& in, const Value& v, A& a) { return equal_charged(in, v, test_arg(a)) && v.kind() == test_arg(a).kind(); }},
        {"ne", [](I& in, const Value& v, A& a) { return !equal_charged(in, v, test_arg(a)); }},
        {"!=", [](I& in, const Value& v, A& a) { return !equal_charged(in, v, test_arg(a)); }},
        {"lt", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), "<"); }},
        {"<", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), "<"); }},
        {"le", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), "<="); }},
        {"<=", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), "<="); }},
        {"gt", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), ">"); }},
        {">", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), ">"); }},
        {"ge", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), ">="); }},
        {">=", [](I&, const Value& v, A& a) { return compare_test(v, test_arg(a), ">="); }},
        {"in", [](I& in, const Value& v, A& a) { return contains(in, test_arg(a), v); }},
        {"lower", [](I&, const Value& v, A&) { return all_case(to_str(v), false); }},
        {"upper", [](I&, const Value& v, A&) { return all_case(to_str(v), true); }},
        {"escaped", [](I&, const Value&, A&) { return false; }},
    };
    return table;
}

}  // namespace moe::jinja
