// Methods of strings, dicts and lists that templates call (`content.split('</think>')`, `message.get('x')`),
// and the global functions. Mutating methods (list.append, dict.update, ...) are refused as jinja2's
// ImmutableSandboxedEnvironment refuses them under HF.
#include <algorithm>
#include <cstring>
#include <ctime>
#include <string_view>
#include <unordered_set>

#include "core/utf8.h"
#include "template/jinja_interpreter.h"

namespace moe::jinja {

namespace {

// Python's str.isspace() for the code point of `len` bytes at s[at].
bool is_space_at(const std::string& s, size_t at, size_t len) {
    const char* p = s.data() + at;
    if (len == 1) return *p == ' ' || (*p >= '\t' && *p <= '\r') || (*p >= '\x1c' && *p <= '\x1f');
    static const char* const unicode_spaces[] = {"\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8", "\xe2\x80\xa9",
                                                 "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};
    if (len == 3 && p[0] == '\xe2' && p[1] == '\x80' && static_cast<unsigned char>(p[2]) <= 0x8a) return true;  // U+2000..200A
    return std::any_of(std::begin(unicode_spaces), std::end(unicode_spaces),
                       [&](const char* u) { return std::strlen(u) == len && std::memcmp(u, p, len) == 0; });
}

Value string_list(std::vector<std::string> parts) {
    std::vector<Value> items;
    items.reserve(parts.size());
    for (auto& p : parts) items.push_back(Value::string(std::move(p)));
    return Value::list(std::move(items));
}

void add_part(std::vector<std::string>& parts, std::string part) {
    if (parts.size() >= k_max_list_items) fail("split() would give more than " + std::to_string(k_max_list_items) + " parts");
    parts.push_back(std::move(part));
}

// str.split() / str.rsplit() without a separator: runs of whitespace separate, no empty parts; with
// maxsplit, the unsplit remainder keeps its inner whitespace.
Value split_whitespace(const std::string& s, int64_t maxsplit, bool from_right) {
    std::vector<std::pair<size_t, size_t>> words;  // byte spans
    for (size_t at = 0; at < s.size();) {
        size_t n = utf8_char_length(s, at);
        if (is_space_at(s, at, n)) {
            at += n;
            continue;
        }
        const size_t start = at;
        while (at < s.size() && !is_space_at(s, at, n)) {
            at += n;
            if (at < s.size()) n = utf8_char_length(s, at);
        }
        if (words.size() >= k_max_list_items) fail("split() would give too many parts");
        words.emplace_back(start, at);
    }
    std::vector<std::string> parts;
    const size_t n_words = words.size();
    if (maxsplit < 0 || static_cast<uint64_t>(maxsplit) + 1 >= n_words) {
        for (const auto& [b, e] : words) add_part(parts, s.substr(b, e - b));
    } else if (!from_right) {
        const auto k = static_cast<size_t>(maxsplit);
        for (size_t i = 0; i < k; ++i) add_part(parts, s.substr(words[i].first, words[i].second - words[i].first));
        add_part(parts, s.substr(words[k].first, words.back().second - words[k].first));
    } else {
        const size_t first_split = n_words - static_cast<size_t>(maxsplit);
        add_part(parts, s.substr(words[0].first, words[first_split - 1].second - words[0].first));
        for (size_t i = first_split; i < n_words; ++i) add_part(parts, s.substr(words[i].first, words[i].second - words[i].first));
    }
    return string_list(std::move(parts));
}

// str.split / str.rsplit.
Value py_split(const std::string& s, const Value* sep_v, int64_t maxsplit, bool from_right) {
    std::vector<std::string> parts;
    if (!sep_v || sep_v->is_none() || sep_v->is_undefined()) return split_whitespace(s, maxsplit, from_right);
    if (!sep_v->is_string()) fail("must be str or None, not " + sep_v->type_name());
    const std::string& sep = sep_v->as_string();
    if (sep.empty()) fail("empty separator");
    if (!from_right) {
        size_t start = 0;
        while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
            const size_t at = s.find(sep, start);
            if (at == std::string::npos) break;
            add_part(parts, s.substr(start, at - start));
            start = at + sep.size();
        }
        add_part(parts, s.substr(start));
        return string_list(std::move(parts));
    }
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
        if (end < sep.size()) break;
        const size_t at = s.rfind(sep, end - sep.size());
        if (at == std::string::npos) break;
        add_part(parts, s.substr(at + sep.size(), end - at - sep.size()));
        end = at;
    }
    add_part(parts, s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return string_list(std::move(parts));
}

bool affix_matches(const std::string& s, const Value& affix, bool prefix) {
    auto one = [&](const Value& a) {
        if (!a.is_string()) fail("startswith/endswith need a string or a tuple of strings");
        const std::string& t = a.as_string();
        if (t.size() > s.size()) return false;
        return prefix ? s.compare(0, t.size(), t) == 0 : s.compare(s.size() - t.size(), t.size(), t) == 0;
    };
    if (affix.is_list()) return std::any_of(affix.as_list().begin(), affix.as_list().end(), one);
    return one(affix);
}

int64_t find_text(const std::string& s, const std::string& sub, bool from_right) {
    const size_t at = from_right ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) return -1;
    return static_cast<int64_t>(count_code_points(s.substr(0, at)));  // Python indexes code points
}

// str.format with {} / {0} / {name} fields (no format specs).
std::string py_format(Interpreter& in, const std::string& fmt, const CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
            out += c;
            ++i;
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        const size_t close = fmt.find('}', i);
        if (close == std::string::npos) fail("single '{' encountered in format string");
        const std::string field = fmt.substr(i + 1, close - i - 1);
        const Value* v = nullptr;
        if (field.empty()) v = find_arg(args, auto_index++, "");
        else if (std::all_of(field.begin(), field.end(), [](char d) { return d >= '0' && d <= '9'; }) && field.size() < 9)
            v = find_arg(args, static_cast<size_t>(std::stoul(field)), "");
        else v = find_arg(args, static_cast<size_t>(-1), field.c_str());
        if (!v) fail("format field '{" + field + "}' has no value");
        out += to_str(*v);
        in.charge_bytes(out.size());
        i = close;
    }
    return out;
}

bool all_chars(const std::string& s, int (*pred)(int)) {
    if (s.empty()) return false;
    return std::all_of(s.begin(), s.end(), [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}

Value bound(const std::string& name, std::function<Value(Interpreter&, CallArgs&)> fn) {
    return Value::callable(name, std::move(fn));
}

// Methods that transform the string: strip, split, upper, lower, title, capitalize, replace.
Value string_transform_method(const std::string& s, const std::string& name) {
    if (name == "strip" || name == "lstrip" || name == "rstrip")
        return bound(name, [s, name](Interpreter&, CallArgs& a) {
            return Value::string(py_strip(s, find_arg(a, 0, "chars"), name != "rstrip", name != "lstrip"));
        });
    if (name == "split" || name == "rsplit")
        return bound(name, [s, name](Interpreter& in, CallArgs& a) {
            const Value* max_v = find_arg(a, 1, "maxsplit");
            Value out = py_split(s, find_arg(a, 0, "sep"), max_v && max_v->is_int() ? max_v->as_int() : -1, name == "rsplit");
            in.charge_steps(out.as_list().size());
            return out;
        });
    if (name == "startswith" || name == "endswith")
        return bound(name, [s, name](Interpreter&, CallArgs& a) {
            const Value* affix = find_arg(a, 0, "prefix");
            if (!affix) fail(name + "() takes at least 1 argument");
            return Value::boolean(affix_matches(s, *affix, name == "startswith"));
        });
    if (name == "upper") return bound(name, [s](Interpreter&, CallArgs&) { return Value::string(py_upper(s)); });
    if (name == "lower") return bound(name, [s](Interpreter&, CallArgs&) { return Value::string(py_lower(s)); });
    if (name == "title" || name == "capitalize")
        return bound(name, [s, name](Interpreter&, CallArgs&) {
            std::string out = py_lower(s);
            bool start = true;
            for (char& c : out) {
                const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                if (start && c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
                start = name == "title" ? !letter : false;
            }
            return Value::string(std::move(out));
        });
    if (name == "replace")
        return bound(name, [s](Interpreter& in, CallArgs& a) {
            const Value* old_v = find_arg(a, 0, "old");
            const Value* new_v = find_arg(a, 1, "new");
            const Value* count = find_arg(a, 2, "count");
            if (!old_v || !new_v || !old_v->is_string() || !new_v->is_string()) fail("replace() needs two strings");
            return Value::string(py_replace(in, s, old_v->as_string(), new_v->as_string(), count && count->is_int() ? count->as_int() : -1));
        });
    return Value();
}

// Methods that search, test or combine: find, count, format, join, is*, splitlines.
Value string_query_method(const Value& object, const std::string& s, const std::string& name) {
    if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count")
        return bound(name, [s, name](Interpreter&, CallArgs& a) {
            const Value* sub = find_arg(a, 0, "sub");
            if (!sub || !sub->is_string()) fail(name + "() needs a string argument");
            if (name == "count") {
                const std::string& t = sub->as_string();
                if (t.empty()) return Value::integer(static_cast<int64_t>(count_code_points(s)) + 1);
                int64_t n = 0;
                for (size_t at = s.find(t); at != std::string::npos; at = s.find(t, at + t.size())) ++n;
                return Value::integer(n);
            }
            const int64_t at = find_text(s, sub->as_string(), name[0] == 'r');
            if (at < 0 && name.find("index") != std::string::npos) fail("substring not found");
            return Value::integer(at);
        });
    if (name == "format")
        return bound(name, [s](Interpreter& in, CallArgs& a) { return Value::string(py_format(in, s, a)); });
    if (name == "join")
        return bound(name, [object](Interpreter& in, CallArgs& a) {
            if (a.positional.empty()) fail("join() takes exactly one argument");
            CallArgs filter_args;
            filter_args.positional.push_back(object);
            return in.apply_filter("join", a.positional[0], filter_args);
        });
    if (name == "isdigit") return bound(name, [s](Interpreter&, CallArgs&) { return Value::boolean(all_chars(s, isdigit)); });
    if (name == "isalpha") return bound(name, [s](Interpreter&, CallArgs&) { return Value::boolean(all_chars(s, isalpha)); });
    if (name == "isalnum") return bound(name, [s](Interpreter&, CallArgs&) { return Value::boolean(all_chars(s, isalnum)); });
    if (name == "isspace") return bound(name, [s](Interpreter&, CallArgs&) { return Value::boolean(all_chars(s, isspace)); });
    if (name == "splitlines")
        return bound(name, [s](Interpreter&, CallArgs&) {
            std::vector<std::string> lines;
            std::string cur;
            for (size_t i = 0; i < s.size(); ++i) {
                if (s[i] == '\n' || s[i] == '\r') {
                    if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
                    lines.push_back(std::move(cur));
                    cur.clear();
                } else {
                    cur += s[i];
                }
            }
            if (!cur.empty()) lines.push_back(std::move(cur));
            return string_list(std::move(lines));
        });
    return Value();
}

Value string_method(const Value& object, const std::string& name) {
    const std::string& s = object.as_string();
    Value method = string_transform_method(s, name);
    return method.is_callable() ? method : string_query_method(object, s, name);
}

Value unsafe(const Value& object, const std::string& name) {
    return Value::undefined("access to attribute '" + name + "' of '" + object.type_name() + "' object is unsafe.");
}

Value dict_method(const Value& object, const std::string& name) {
    if (name == "items" || name == "keys" || name == "values")
        return bound(name, [object, name](Interpreter&, CallArgs&) {
            std::vector<Value> out;
            for (const auto& [k, v] : object.as_dict().items)
                out.push_back(name == "keys" ? k : name == "values" ? v : Value::list({k, v}, true));
            return Value::list(std::move(out));
        });
    if (name == "get")
        return bound(name, [object](Interpreter&, CallArgs& a) {
            const Value* key = find_arg(a, 0, "key");
            if (!key) fail("get() takes at least 1 argument");
            const Value* v = object.as_dict().find(*key);
            if (v) return *v;
            const Value* dflt = find_arg(a, 1, "default");
            return dflt ? *dflt : Value::none();
        });
    static const char* const mutating[] = {"update", "pop", "popitem", "setdefault", "clear"};
    if (std::any_of(std::begin(mutating), std::end(mutating), [&](const char* m) { return name == m; }))
        return unsafe(object, name);
    return Value();
}

Value list_method(const Value& object, const std::string& name) {
    if (name == "index" || name == "count")
        return bound(name, [object, name](Interpreter& in, CallArgs& a) {
            if (a.positional.empty()) fail(name + "() takes exactly one argument");
            const auto& items = object.as_list();
            int64_t n = 0;
            for (size_t i = 0; i < items.size(); ++i) {
                in.charge_steps();
                if (!values_equal(items[i], a.positional[0])) continue;
                if (name == "index") return Value::integer(static_cast<int64_t>(i));
                ++n;
            }
            if (name == "index") fail("value is not in list");
            return Value::integer(n);
        });
    static const char* const mutating[] = {"append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear"};
    if (std::any_of(std::begin(mutating), std::end(mutating), [&](const char* m) { return name == m; }))
        return unsafe(object, name);
    return Value();
}

}  // namespace

// ---- shared string helpers -------------------------------------------------------------------------

// Start of the code point that ends at `end` (consistent with utf8_char_length on invalid bytes).
static size_t previous_char_start(const std::string& s, size_t end) {
    for (size_t k = 1; k <= 4 && k <= end; ++k) {
        const auto c = static_cast<unsigned char>(s[end - k]);
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte: keep looking for the lead
        return utf8_char_length(s, end - k) == k ? end - k : end - 1;
    }
    return end - 1;
}

std::string py_strip(const std::string& s, const Value* chars, bool left, bool right) {
    const bool whitespace = !chars || chars->is_none() || chars->is_undefined();
    std::unordered_set<std::string_view> set;
    const std::string set_text = whitespace ? std::string() : to_str(*chars);
    for (size_t k = 0; k < set_text.size(); k += utf8_char_length(set_text, k)) {
        set.emplace(set_text.data() + k, utf8_char_length(set_text, k));
        if (set.size() > 4096) fail("strip() chars argument has more than 4096 different characters");
    }
    auto strip_it = [&](size_t at, size_t n) {
        return whitespace ? is_space_at(s, at, n) : set.count(std::string_view(s.data() + at, n)) > 0;
    };
    size_t from = 0;
    while (left && from < s.size() && strip_it(from, utf8_char_length(s, from))) from += utf8_char_length(s, from);
    size_t to = s.size();
    while (right && to > from) {
        const size_t start = std::max(previous_char_start(s, to), from);
        if (!strip_it(start, to - start)) break;
        to = start;
    }
    return s.substr(from, to - from);
}

// Case mapping for ASCII, Latin-1, Latin Extended-A, Greek and Cyrillic (what chat text needs);
// other scripts pass through unchanged.
static uint32_t map_case(uint32_t cp, bool upper) {
    auto shift = [&](uint32_t lo_upper, uint32_t hi_upper, uint32_t delta) -> int {
        if (!upper && cp >= lo_upper && cp <= hi_upper) return 1;
        if (upper && cp >= lo_upper + delta && cp <= hi_upper + delta) return -1;
        return 0;
    };
    struct Block { uint32_t lo, hi, delta; };
    static const Block blocks[] = {{'A', 'Z', 32}, {0xC0, 0xDE, 32}, {0x391, 0x3AB, 32}, {0x410, 0x42F, 32}, {0x400, 0x40F, 80}};
    for (const auto& b : blocks) {
        if (cp == 0xD7 || cp == 0xF7 || cp == 0x3A2) return cp;  // × ÷ and the final-sigma gap
        const int dir = shift(b.lo, b.hi, b.delta);
        if (dir > 0) return cp + b.delta;
        if (dir < 0) return cp - b.delta;
    }
    if (cp >= 0x100 && cp <= 0x17F && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149 && cp != 0x17F) {
        const bool odd_is_lower = !(cp >= 0x139 && cp <= 0x148) && !(cp >= 0x179 && cp <= 0x17E);
        const bool is_lower = ((cp & 1) == 1) == odd_is_lower;
        if (upper && is_lower) return cp - 1;
        if (!upper && !is_lower) return cp + 1;
    }
    return cp;
}

static std::string change_case(const std::string& s, bool upper) {
    std::string out;
    out.reserve(s.size());
    for (size_t at = 0; at < s.size();) {
        uint32_t cp = 0;
        const size_t n = utf8_decode(s, at, cp);
        if (n == 0) {  // a byte that starts no valid character is kept as it is
            out += s[at++];
            continue;
        }
        const uint32_t m = map_case(cp, upper);
        if (m == cp) out.append(s, at, n);
        else utf8_append(out, m);
        at += n;
    }
    return out;
}

std::string py_lower(const std::string& s) { return change_case(s, false); }
std::string py_upper(const std::string& s) { return change_case(s, true); }

std::string py_replace(Interpreter& in, const std::string& s, const std::string& old_text, const std::string& new_text,
                       int64_t count) {
    std::string out;
    int64_t done = 0;
    auto grow = [&](const std::string& piece) {
        if (out.size() + piece.size() > k_max_string_bytes) fail("replace() result too large");
        out += piece;
    };
    if (old_text.empty()) {  // Python inserts `new` around every code point
        for (size_t at = 0; at < s.size();) {
            const size_t n = utf8_char_length(s, at);
            if (count < 0 || done < count) {
                grow(new_text);
                ++done;
            }
            grow(s.substr(at, n));
            at += n;
        }
        if (count < 0 || done < count) grow(new_text);
    } else {
        size_t start = 0;
        for (size_t at = s.find(old_text); at != std::string::npos && (count < 0 || done < count);
             at = s.find(old_text, start)) {
            if (out.size() + (at - start) + new_text.size() > k_max_string_bytes) fail("replace() result too large");
            if ((done & 1023) == 1023) in.charge_steps(1024);  // many small replacements are work too
            out.append(s, start, at - start);
            out += new_text;
            start = at + old_text.size();
            ++done;
        }
        grow(s.substr(start));
    }
    in.charge_bytes(out.size());
    return out;
}

Value method_of(Interpreter& in, const Value& object, const std::string& name) {
    if (object.is_string()) {
        in.charge_text(object);  // the bound method holds a copy
        return string_method(object, name);
    }
    if (object.is_dict()) return dict_method(object, name);
    if (object.is_list()) return list_method(object, name);
    return Value();
}

// ---- globals -------------------------------------------------------------------------------------------

static Value range_of(CallArgs& a) {
    for (const auto& v : a.positional)
        if (!v.is_int()) fail("range() arguments must be integers, not '" + v.type_name() + "'");
    int64_t start = 0, stop = 0, step = 1;
    if (a.positional.size() == 1) stop = a.positional[0].as_int();
    else if (a.positional.size() == 2 || a.positional.size() == 3) {
        start = a.positional[0].as_int();
        stop = a.positional[1].as_int();
        if (a.positional.size() == 3) step = a.positional[2].as_int();
    } else {
        fail("range() takes 1 to 3 integer arguments");
    }
    if (step == 0) fail("range() arg 3 must not be zero");
    const long double n_items = step > 0 ? (static_cast<long double>(stop) - start) / step
                                         : (static_cast<long double>(start) - stop) / -static_cast<long double>(step);
    if (n_items > static_cast<long double>(k_max_range_items))
        fail("Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).");
    std::vector<Value> items;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        items.push_back(Value::integer(i));
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return Value::list(std::move(items));
}

static std::shared_ptr<Dict> dict_from_args(const CallArgs& a) {
    auto d = std::make_shared<Dict>();
    for (const auto& v : a.positional) {
        if (!v.is_mapping()) fail("namespace()/dict() positional argument must be a mapping");
        for (const auto& [k, e] : (v.is_namespace() ? v.namespace_dict() : v.as_dict()).items) d->set(k, e);
    }
    for (const auto& [k, v] : a.keyword) d->set(Value::string(k), v);
    return d;
}

void add_globals(Scope& scope, int64_t now_unix_s) {
    scope.set("range", Value::callable("range", [](Interpreter&, CallArgs& a) { return range_of(a); }));
    scope.set("namespace", Value::callable("namespace", [](Interpreter&, CallArgs& a) {
                  return Value::namespace_object(dict_from_args(a));
              }));
    scope.set("dict", Value::callable("dict", [](Interpreter&, CallArgs& a) { return Value::dict(dict_from_args(a)); }));
    scope.set("raise_exception", Value::callable("raise_exception", [](Interpreter&, CallArgs& a) -> Value {
                  fail(a.positional.empty() ? std::string("raise_exception() called") : to_str(a.positional[0]));
              }));
    scope.set("strftime_now", Value::callable("strftime_now", [now_unix_s](Interpreter&, CallArgs& a) {
                  const std::string format = a.positional.empty() ? std::string() : to_str(a.positional[0]);
                  if (format.size() > 256) fail("strftime_now() format too long");
                  const std::time_t t = now_unix_s >= 0 ? static_cast<std::time_t>(now_unix_s) : std::time(nullptr);
                  std::tm parts{};
                  localtime_r(&t, &parts);
                  char buf[1024] = {};
                  const size_t n = std::strftime(buf, sizeof(buf), format.c_str(), &parts);
                  return Value::string(std::string(buf, n));
              }));
}

}  // namespace moe::jinja
