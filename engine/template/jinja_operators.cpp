// Binary operators and `in` with Python semantics. Integers are 64-bit: an overflow is an error (Python
// would switch to big integers; no chat template needs them).
#include <cmath>

#include "template/jinja_interpreter.h"

namespace moe::jinja {

void fail_undefined(const Value& v) {
    fail(v.undefined_hint().empty() ? std::string("undefined value used") : v.undefined_hint());
}

namespace {

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
    fail("unsupported operand type(s) for " + op + ": '" + a.type_name() + "' and '" + b.type_name() + "'");
}

Value repeat(Interpreter& in, const Value& seq, int64_t n) {
    // An empty sequence repeats to itself whatever n is: no loop of n empty appends.
    const bool empty = seq.is_string() ? seq.as_string().empty() : seq.as_list().empty();
    if (n <= 0 || empty) return seq.is_string() ? Value::string("") : Value::list({}, seq.is_tuple());
    if (seq.is_string()) {
        const std::string& s = seq.as_string();
        if (!s.empty() && static_cast<uint64_t>(n) > k_max_string_bytes / s.size())
            fail("string repetition too large");
        in.charge_bytes(s.size() * static_cast<size_t>(n));
        std::string out;
        out.reserve(s.size() * static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) out += s;
        return Value::string(std::move(out));
    }
    const auto& items = seq.as_list();
    if (!items.empty() && static_cast<uint64_t>(n) > k_max_list_items / items.size()) fail("list repetition too large");
    in.charge_steps(items.size() * static_cast<uint64_t>(n));
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
    return Value::list(std::move(out), seq.is_tuple());
}

Value int_power(int64_t base, int64_t exp) {
    int64_t result = 1;
    while (exp > 0) {
        if (exp & 1)
            if (__builtin_mul_overflow(result, base, &result)) fail("integer overflow in '**'");
        exp >>= 1;
        if (exp > 0 && __builtin_mul_overflow(base, base, &base)) fail("integer overflow in '**'");
    }
    return Value::integer(result);
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
    if (a.is_float() || b.is_float() || op == "/") {
        const double x = a.as_double(), y = b.as_double();
        if (op == "+") return Value::number(x + y);
        if (op == "-") return Value::number(x - y);
        if (op == "*") return Value::number(x * y);
        if (op == "**") return Value::number(std::pow(x, y));
        if (y == 0.0) fail(op == "/" ? "division by zero" : "float division or modulo by zero");
        if (op == "/") return Value::number(x / y);
        if (op == "//") return Value::number(std::floor(x / y));
        double m = std::fmod(x, y);
        if (m != 0.0 && ((m < 0) != (y < 0))) m += y;  // Python: the sign of the divisor
        return Value::number(m);
    }
    const int64_t x = a.as_int(), y = b.as_int();
    int64_t r = 0;
    if (op == "+") {
        if (__builtin_add_overflow(x, y, &r)) fail("integer overflow in '+'");
        return Value::integer(r);
    }
    if (op == "-") {
        if (__builtin_sub_overflow(x, y, &r)) fail("integer overflow in '-'");
        return Value::integer(r);
    }
    if (op == "*") {
        if (__builtin_mul_overflow(x, y, &r)) fail("integer overflow in '*'");
        return Value::integer(r);
    }
    if (op == "**") {
        if (y < 0) return Value::number(std::pow(static_cast<double>(x), static_cast<double>(y)));
        return int_power(x, y);
    }
    if (y == 0) fail("integer division or modulo by zero");
    if (x == INT64_MIN && y == -1) fail("integer overflow in '" + op + "'");
    int64_t q = x / y, m = x % y;
    if (m != 0 && ((m < 0) != (y < 0))) {  // floor semantics
        --q;
        m += y;
    }
    return Value::integer(op == "//" ? q : m);
}

}  // namespace

Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b) {
    if (op == "~") {
        std::string s = to_str(a);
        const std::string t = to_str(b);
        in.charge_bytes(s.size() + t.size());
        return Value::string(s + t);
    }
    if (a.is_undefined()) fail_undefined(a);
    if (b.is_undefined()) fail_undefined(b);
    if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            in.charge_bytes(a.as_string().size() + b.as_string().size());
            return Value::string(a.as_string() + b.as_string());
        }
        if (a.is_list() && b.is_list() && a.is_tuple() == b.is_tuple()) {
            if (a.as_list().size() + b.as_list().size() > k_max_list_items) fail("list too large");
            in.charge_steps(a.as_list().size() + b.as_list().size());
            std::vector<Value> items = a.as_list();
            items.insert(items.end(), b.as_list().begin(), b.as_list().end());
            return Value::list(std::move(items), a.is_tuple());
        }
        if (a.is_string()) fail("can only concatenate str (not \"" + b.type_name() + "\") to str");
    }
    if (op == "*") {
        if ((a.is_string() || a.is_list()) && b.is_int()) return repeat(in, a, b.as_int());
        if (a.is_int() && (b.is_string() || b.is_list())) return repeat(in, b, a.as_int());
    }
    if (op == "%" && a.is_string()) fail("printf-style string formatting ('%') is not supported");
    unsupported(op, a, b);
}

Value unary_operator(bool negate, const Value& v) {
    if (v.is_undefined()) fail_undefined(v);
    if (!v.is_number()) fail(std::string("bad operand type for unary ") + (negate ? "-" : "+") + ": '" + v.type_name() + "'");
    if (!negate) return v.is_float() ? v : Value::integer(v.as_int());
    if (v.is_float()) return Value::number(-v.as_double());
    if (v.as_int() == INT64_MIN) fail("integer overflow in unary '-'");
    return Value::integer(-v.as_int());
}

bool contains(Interpreter& in, const Value& container, const Value& item) {
    uint64_t work = 0;
    switch (container.kind()) {
        case Value::Kind::Undefined: return false;
        case Value::Kind::String:
            if (!item.is_string()) fail("'in <string>' requires string as left operand, not " + item.type_name());
            in.charge_text(container);
            return container.as_string().find(item.as_string()) != std::string::npos;
        case Value::Kind::List:
            for (const auto& v : container.as_list()) {
                if (values_equal(v, item, &work)) {
                    in.charge_steps(work);
                    return true;
                }
            }
            in.charge_steps(work);
            return false;
        case Value::Kind::Dict:
            in.charge_steps(container.as_dict().items.size());
            return container.as_dict().find(item) != nullptr;
        case Value::Kind::Namespace:
            return item.is_string() && container.namespace_dict().find(item.as_string()) != nullptr;
        default: fail("argument of type '" + container.type_name() + "' is not iterable");
    }
}

}  // namespace moe::jinja
