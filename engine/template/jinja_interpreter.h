// Jinja interpreter: renders a parsed template (jinja_ast.h) the way jinja2's ImmutableSandboxedEnvironment
// does under HF transformers: default Undefined (falsy, renders as "", errors on attribute access or
// arithmetic), loop variables, namespace(), macros and call blocks, loop controls, the sandbox's refusal
// of mutating methods (list.append, dict.update, ...) and its 100000-item cap on range().
//
// Errors are thrown internally as JinjaError and turned into a Status by the public API
// (chat_template.h); nothing escapes it. Every render is bounded: operation count, recursion depth,
// string and list sizes (see the k_max_* constants), so no input can hang or exhaust memory.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "template/jinja_ast.h"
#include "template/jinja_lexer.h"
#include "template/jinja_value.h"

namespace moe::jinja {

inline constexpr size_t k_max_string_bytes = k_max_text_bytes;  // one string (the output included)
inline constexpr size_t k_max_total_bytes = 256u << 20;      // all strings built during one render
inline constexpr size_t k_max_list_items = 1u << 20;         // one list
inline constexpr int64_t k_max_range_items = 100000;         // jinja2 sandbox MAX_RANGE
inline constexpr uint64_t k_max_steps = 1'000'000;           // evaluated nodes (+ bulk work) per render
inline constexpr int k_max_call_depth = 400;                 // nested evaluation (macros recurse)

// A variable scope: a for-loop iteration, a macro call or the template's top level.
struct Scope {
    std::vector<std::pair<std::string, Value>> vars;
    std::shared_ptr<Scope> parent;
    const Value* find(const std::string& name) const;
    void set(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
public:
    // `max_steps` / `max_total_bytes`: the render's budget of operations and of string bytes built
    // (k_max_steps / k_max_total_bytes unless a caller, e.g. a fuzz target, asks for less).
    explicit Interpreter(uint64_t max_steps = k_max_steps, size_t max_total_bytes = k_max_total_bytes)
        : m_max_steps(max_steps), m_max_total_bytes(max_total_bytes) {}

    // Renders `body` with `globals` as the outermost scope. Throws JinjaError.
    std::string render(const StmtList& body, const ScopePtr& globals);

    // ---- services for builtins (filters, tests, methods, globals) -----------------------------------
    Value call_value(const Value& callee, CallArgs& args);
    Value apply_filter(const std::string& name, const Value& subject, CallArgs& args);
    bool apply_test(const std::string& name, const Value& subject, CallArgs& args);
    Value get_attribute(const Value& object, const std::string& name);
    Value get_item(const Value& object, const Value& key);
    // Records `n_bytes` of new string data; throws when a string or the whole render grows too large.
    void charge_bytes(size_t n_bytes);
    void charge_steps(uint64_t n = 1);
    // Bills work proportional to a string's length (scanning, copying): one step per 64 bytes.
    void charge_text(const Value& v) {
        if (v.is_string()) charge_steps(v.as_string().size() / 64);
    }
    std::vector<Value> iterate(const Value& v);  // the items a for loop over `v` sees

private:
    enum class Flow { Normal, Break, Continue };
    Flow exec_list(const StmtList& list, const ScopePtr& scope, std::string& out);
    Flow exec(const Stmt& s, const ScopePtr& scope, std::string& out);
    Flow exec_for(const Stmt& s, const ScopePtr& scope, std::string& out);
    void exec_set(const Stmt& s, const ScopePtr& scope);
    void exec_call_block(const Stmt& s, const ScopePtr& scope, std::string& out);
    Value make_macro(const Stmt& s, const ScopePtr& scope);
    Value invoke_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args, const Value& caller);
    void emit_text(std::string& out, const std::string& text);

    Value eval(const Expr& e, const ScopePtr& scope);
    Value eval_inner(const Expr& e, const ScopePtr& scope);
    Value eval_container(const Expr& e, const ScopePtr& scope);  // list, tuple or dict literal
    Value eval_compare(const Expr& e, const ScopePtr& scope);
    Value eval_slice(const Expr& e, const ScopePtr& scope);
    Value eval_filter_chain(const Expr& e, const ScopePtr& scope, const Value* block_input);
    CallArgs eval_args(const Expr& e, const ScopePtr& scope);

    uint64_t m_max_steps = k_max_steps;
    size_t m_max_total_bytes = k_max_total_bytes;
    uint64_t m_steps = 0;
    size_t m_total_bytes = 0;
    int m_depth = 0;
};

// Operators (jinja_operators.cpp), Python semantics; they throw JinjaError on type errors.
Value binary_operator(Interpreter& in, const std::string& op, const Value& a, const Value& b);
Value unary_operator(bool negate, const Value& v);  // -v or +v
bool contains(Interpreter& in, const Value& container, const Value& item);
[[noreturn]] void fail_undefined(const Value& v);

// Builtins (jinja_filters.cpp, jinja_methods.cpp).
using FilterFn = Value (*)(Interpreter&, const Value&, CallArgs&);
using TestFn = bool (*)(Interpreter&, const Value&, CallArgs&);
const std::unordered_map<std::string, FilterFn>& filter_table();
const std::unordered_map<std::string, TestFn>& test_table();
Value method_of(Interpreter& in, const Value& object, const std::string& name);  // undefined if none
// range, namespace, dict, raise_exception, strftime_now (formats `now_unix_s`, or the current time if < 0).
void add_globals(Scope& scope, int64_t now_unix_s);
// Python str helpers shared by filters and methods (code-point aware).
std::string py_strip(const std::string& s, const Value* chars, bool left, bool right);
std::string py_lower(const std::string& s);
std::string py_upper(const std::string& s);
std::string py_replace(Interpreter& in, const std::string& s, const std::string& old_text, const std::string& new_text, int64_t count);

// Argument helpers for builtins: the positional argument `index` or the keyword `name`, or null.
const Value* find_arg(const CallArgs& args, size_t index, const char* name);
[[noreturn]] void fail(const std::string& message);

}  // namespace moe::jinja
