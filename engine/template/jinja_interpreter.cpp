#include "template/jinja_interpreter.h"

#include <algorithm>

namespace moe::jinja {

void fail(const std::string& message) { throw JinjaError{static_cast<size_t>(-1), message}; }

const Value* find_arg(const CallArgs& args, size_t index, const char* name) {
    if (index < args.positional.size()) return &args.positional[index];
    for (const auto& [k, v] : args.keyword)
        if (k == name) return &v;
    return nullptr;
}

const Value* Scope::find(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent.get())
        for (const auto& [k, v] : s->vars)
            if (k == name) return &v;
    return nullptr;
}

void Scope::set(const std::string& name, Value value) {
    for (auto& [k, v] : vars) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars.emplace_back(name, std::move(value));
}

namespace {

// Counts nesting of evaluation; a macro that calls itself forever ends here, not in a stack overflow.
struct DepthGuard {
    explicit DepthGuard(int& depth) : m_depth(depth) {
        if (++m_depth > k_max_call_depth) {
            --m_depth;
            fail("recursion too deep (more than " + std::to_string(k_max_call_depth) + " nested calls)");
        }
    }
    ~DepthGuard() { --m_depth; }
    int& m_depth;
};

// "'dict object' has no attribute 'x'", jinja2's hint for an Undefined (built by appends: GCC 12 warns
// falsely about chained operator+ here).
std::string missing_attribute_hint(const Value& object, const std::string& quoted_name) {
    std::string hint = "'";
    hint += object.type_name();
    hint += " object' has no attribute ";
    hint += quoted_name;
    return hint;
}

ScopePtr child_scope(const ScopePtr& parent) {
    auto s = std::make_shared<Scope>();
    s->parent = parent;
    return s;
}

}  // namespace

// ---- bookkeeping ---------------------------------------------------------------------------------------

void Interpreter::charge_bytes(size_t n_bytes) {
    if (n_bytes > k_max_string_bytes)
        fail("string too large (" + std::to_string(n_bytes) + " bytes, limit " + std::to_string(k_max_string_bytes) + ")");
    m_total_bytes += n_bytes;
    if (m_total_bytes > m_max_total_bytes)
        fail("template built more than " + std::to_string(m_max_total_bytes) + " bytes of strings");
    charge_steps(n_bytes / 64);  // copying text is work too
}

void Interpreter::charge_steps(uint64_t n) {
    m_steps += n;
    if (m_steps > m_max_steps) fail("template exceeded " + std::to_string(m_max_steps) + " operations");
}

void Interpreter::emit_text(std::string& out, const std::string& text) {
    if (out.size() + text.size() > k_max_string_bytes) fail("output larger than 16 MiB");
    charge_bytes(text.size());
    out += text;
}

std::string Interpreter::render(const StmtList& body, const ScopePtr& globals) {
    std::string out;
    exec_list(body, globals, out);
    return out;
}

// ---- statements ----------------------------------------------------------------------------------------

Interpreter::Flow Interpreter::exec_list(const StmtList& list, const ScopePtr& scope, std::string& out) {
    for (const auto& s : list) {
        const Flow f = exec(*s, scope, out);
        if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
}

Interpreter::Flow Interpreter::exec(const Stmt& s, const ScopePtr& scope, std::string& out) {
    DepthGuard guard(m_depth);
    charge_steps();
    try {
        switch (s.kind) {
            case StmtKind::Text: emit_text(out, s.text); return Flow::Normal;
            case StmtKind::Print: emit_text(out, to_str(eval(*s.expr, scope))); return Flow::Normal;
            case StmtKind::If:
                for (const auto& [cond, body] : s.branches)
                    if (!cond || eval(*cond, scope).truthy()) return exec_list(body, scope, out);
                return Flow::Normal;
            case StmtKind::For: return exec_for(s, scope, out);
            case StmtKind::Set: exec_set(s, scope); return Flow::Normal;
            case StmtKind::SetBlock: {
                std::string captured;
                exec_list(s.body, scope, captured);
                Value v = Value::string(std::move(captured));
                if (s.filter) v = eval_filter_chain(*s.filter, scope, &v);
                scope->set(s.targets[0], std::move(v));
                return Flow::Normal;
            }
            case StmtKind::Macro: scope->set(s.text, make_macro(s, scope)); return Flow::Normal;
            case StmtKind::CallBlock: exec_call_block(s, scope, out); return Flow::Normal;
            case StmtKind::FilterBlock: {
                std::string captured;
                exec_list(s.body, scope, captured);
                const Value input = Value::string(std::move(captured));
                emit_text(out, to_str(eval_filter_chain(*s.filter, scope, &input)));
                return Flow::Normal;
            }
            case StmtKind::Break: return Flow::Break;
            case StmtKind::Continue: return Flow::Continue;
        }
    } catch (JinjaError& e) {
        if (e.offset == static_cast<size_t>(-1)) e.offset = s.offset;
        throw;
    }
    return Flow::Normal;
}

static void bind_targets(Scope& scope, const std::vector<std::string>& targets, const Value& item) {
    if (targets.size() == 1) {
        scope.set(targets[0], item);
        return;
    }
    if (!item.is_list()) fail("cannot unpack a " + item.type_name() + " into " + std::to_string(targets.size()) + " variables");
    const auto& parts = item.as_list();
    if (parts.size() != targets.size())
        fail("cannot unpack " + std::to_string(parts.size()) + " values into " + std::to_string(targets.size()) + " variables");
    for (size_t i = 0; i < targets.size(); ++i) scope.set(targets[i], parts[i]);
}

static Value loop_object(const std::vector<Value>& items, size_t i) {
    auto d = std::make_shared<Dict>();
    const auto n = static_cast<int64_t>(items.size());
    const auto k = static_cast<int64_t>(i);
    auto put = [&](const char* key, Value v) { d->items.emplace_back(Value::string(key), std::move(v)); };
    put("index", Value::integer(k + 1));
    put("index0", Value::integer(k));
    put("revindex", Value::integer(n - k));
    put("revindex0", Value::integer(n - k - 1));
    put("first", Value::boolean(i == 0));
    put("last", Value::boolean(k == n - 1));
    put("length", Value::integer(n));
    put("depth", Value::integer(1));
    put("depth0", Value::integer(0));
    if (i > 0) put("previtem", items[i - 1]);
    if (k + 1 < n) put("nextitem", items[i + 1]);
    put("cycle", Value::callable("loop.cycle", [k](Interpreter&, CallArgs& args) {
            if (args.positional.empty()) fail("no items for cycling given");
            return args.positional[static_cast<size_t>(k) % args.positional.size()];
        }));
    return Value::dict(std::move(d));
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    std::vector<Value> items = iterate(eval(*s.expr, scope));
    charge_steps(items.size() / 8);  // copying the items is work even if the loop breaks at once
    if (s.condition) {  // `for x in xs if cond`: filtered before loop.length is known
        std::vector<Value> kept;
        for (const auto& item : items) {
            charge_steps();
            ScopePtr probe = child_scope(scope);
            bind_targets(*probe, s.targets, item);
            if (eval(*s.condition, probe).truthy()) kept.push_back(item);
        }
        items = std::move(kept);
    }
    if (items.empty()) return exec_list(s.else_body, scope, out);
    // One scope serves every iteration (cleared each time): variables set in the body do not outlive
    // their iteration, as in jinja2, and the loop allocates less.
    ScopePtr iteration = child_scope(scope);
    for (size_t i = 0; i < items.size(); ++i) {
        charge_steps();  // an empty body still costs one step per iteration
        iteration->vars.clear();
        bind_targets(*iteration, s.targets, items[i]);
        if (s.uses_loop) iteration->set("loop", loop_object(items, i));
        if (exec_list(s.body, iteration, out) == Flow::Break) break;
    }
    return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& s, const ScopePtr& scope) {
    Value v = eval(*s.expr, scope);
    if (!s.attr.empty()) {
        const Value* target = scope->find(s.targets[0]);
        if (!target || !target->is_namespace())
            fail("cannot assign attribute '" + s.attr + "' on '" + s.targets[0] + "': not a namespace object");
        if (v.holds_namespace()) fail("a namespace cannot be stored inside a namespace");
        target->namespace_dict().set(Value::string(s.attr), std::move(v));
        return;
    }
    bind_targets(*scope, s.targets, v);
}

Value Interpreter::make_macro(const Stmt& s, const ScopePtr& scope) {
    const Stmt* def = &s;  // the tree outlives every render of it
    std::weak_ptr<Scope> closure = scope;  // weak: a macro stored in its own scope must not keep it alive
    return Value::callable(s.text, [def, closure](Interpreter& in, CallArgs& args) {
        ScopePtr defining = closure.lock();
        if (!defining) fail("macro '" + def->text + "' called after its scope ended");
        return in.invoke_macro(*def, defining, args, Value());
    });
}

Value Interpreter::invoke_macro(const Stmt& def, const ScopePtr& closure, CallArgs& args, const Value& caller) {
    ScopePtr scope = child_scope(closure);
    std::vector<Value> varargs;
    for (size_t i = 0; i < args.positional.size(); ++i) {
        if (i < def.params.size()) scope->set(def.params[i].name, args.positional[i]);
        else varargs.push_back(args.positional[i]);
    }
    auto kwargs = std::make_shared<Dict>();
    for (const auto& kv : args.keyword) {
        const std::string& name = kv.first;
        const bool is_param = std::any_of(def.params.begin(), def.params.end(),
                                          [&](const MacroParam& p) { return p.name == name; });
        if (is_param || name == "caller") scope->set(name, kv.second);
        else kwargs->items.emplace_back(Value::string(name), kv.second);
    }
    for (const auto& p : def.params) {
        bool bound = false;
        for (const auto& [k, v] : scope->vars) bound = bound || k == p.name;
        if (!bound) scope->set(p.name, p.default_value ? eval(*p.default_value, scope) : Value::undefined("parameter '" + p.name + "' was not provided"));
    }
    scope->set("varargs", Value::list(std::move(varargs), true));
    scope->set("kwargs", Value::dict(std::move(kwargs)));
    if (!caller.is_undefined()) scope->set("caller", caller);
    std::string out;
    exec_list(def.body, scope, out);
    return Value::string(std::move(out));
}

void Interpreter::exec_call_block(const Stmt& s, const ScopePtr& scope, std::string& out) {
    const Expr& call = *s.expr;
    const Value callee = eval(*call.children[0], scope);
    CallArgs args = eval_args(call, scope);
    const Stmt* block = &s;
    std::weak_ptr<Scope> site = scope;
    Value caller = Value::callable("caller", [block, site](Interpreter& in, CallArgs& caller_args) {
        ScopePtr defining = site.lock();
        if (!defining) fail("caller() used after its call block ended");
        return in.invoke_macro(*block, defining, caller_args, Value());
    });
    args.keyword.emplace_back("caller", caller);
    emit_text(out, to_str(call_value(callee, args)));
}

// ---- expressions ---------------------------------------------------------------------------------------

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
    DepthGuard guard(m_depth);
    charge_steps();
    try {
        return eval_inner(e, scope);
    } catch (JinjaError& err) {
        if (err.offset == static_cast<size_t>(-1)) err.offset = e.offset;
        throw;
    }
}

CallArgs Interpreter::eval_args(const Expr& e, const ScopePtr& scope) {
    CallArgs args;
    for (size_t i = 1; i < e.children.size(); ++i) args.positional.push_back(eval(*e.children[i], scope));
    for (const auto& [name, expr] : e.kwargs) args.keyword.emplace_back(name, eval(*expr, scope));
    return args;
}

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
        case ExprKind::Literal: return e.literal;
        case ExprKind::Name: {
            const Value* v = scope->find(e.name);
            return v ? *v : Value::undefined("'" + e.name + "' is undefined");
        }
        case ExprKind::List:
        case ExprKind::Tuple:
        case ExprKind::Dict: return eval_container(e, scope);
        case ExprKind::Not: return Value::boolean(!eval(*e.children[0], scope).truthy());
        case ExprKind::Negate:
        case ExprKind::Plus: return unary_operator(e.kind == ExprKind::Negate, eval(*e.children[0], scope));
        case ExprKind::Binary:
            return binary_operator(*this, e.name, eval(*e.children[0], scope), eval(*e.children[1], scope));
        case ExprKind::And: {
            Value left = eval(*e.children[0], scope);
            return left.truthy() ? eval(*e.children[1], scope) : left;
        }
        case ExprKind::Or: {
            Value left = eval(*e.children[0], scope);
            return left.truthy() ? left : eval(*e.children[1], scope);
        }
        case ExprKind::Compare: return eval_compare(e, scope);
        case ExprKind::Condition:
            if (eval(*e.children[1], scope).truthy()) return eval(*e.children[0], scope);
            return e.children[2] ? eval(*e.children[2], scope) : Value::undefined("the condition was false and there is no else");
        case ExprKind::GetAttr: return get_attribute(eval(*e.children[0], scope), e.name);
        case ExprKind::GetItem: return get_item(eval(*e.children[0], scope), eval(*e.children[1], scope));
        case ExprKind::Slice: return eval_slice(e, scope);
        case ExprKind::Call: {
            const Value callee = eval(*e.children[0], scope);
            CallArgs args = eval_args(e, scope);
            return call_value(callee, args);
        }
        case ExprKind::Filter: return eval_filter_chain(e, scope, nullptr);
        case ExprKind::Test: {
            const Value subject = eval(*e.children[0], scope);
            CallArgs args = eval_args(e, scope);
            return Value::boolean(apply_test(e.name, subject, args) != e.negated);
        }
    }
    return Value();
}

Value Interpreter::eval_container(const Expr& e, const ScopePtr& scope) {
    if (e.kind == ExprKind::Dict) {
        auto d = std::make_shared<Dict>();
        for (size_t i = 0; i + 1 < e.children.size(); i += 2)
            d->set(eval(*e.children[i], scope), eval(*e.children[i + 1], scope));
        return Value::dict(std::move(d));
    }
    std::vector<Value> items;
    for (const auto& c : e.children) items.push_back(eval(*c, scope));
    return Value::list(std::move(items), e.kind == ExprKind::Tuple);
}

Value Interpreter::eval_compare(const Expr& e, const ScopePtr& scope) {
    Value left = eval(*e.children[0], scope);
    for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.children[i + 1], scope);
        const std::string& op = e.ops[i];
        bool result = false;
        uint64_t work = 0;
        if (op == "==") result = values_equal(left, right, &work);
        else if (op == "!=") result = !values_equal(left, right, &work);
        else if (op == "in") result = contains(*this, right, left);
        else if (op == "notin") result = !contains(*this, right, left);
        else {
            if (left.is_undefined()) fail_undefined(left);
            if (right.is_undefined()) fail_undefined(right);
            int order = 0;
            if (!compare_values(left, right, order, &work))
                fail("'" + op + "' not supported between instances of '" + left.type_name() + "' and '" + right.type_name() + "'");
            result = op == "<" ? order < 0 : op == "<=" ? order <= 0 : op == ">" ? order > 0 : order >= 0;
        }
        charge_steps(work);
        if (!result) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Interpreter::eval_filter_chain(const Expr& e, const ScopePtr& scope, const Value* block_input) {
    Value subject;
    if (e.children[0]) subject = eval(*e.children[0], scope);
    else if (block_input) subject = *block_input;
    CallArgs args = eval_args(e, scope);
    try {
        return apply_filter(e.name, subject, args);
    } catch (JinjaError& err) {
        if (err.offset == static_cast<size_t>(-1)) err.offset = e.offset;
        throw;
    }
}

// Python's slice.indices(): clamps one bound given the direction of the step.
static int64_t slice_bound(const Value& v, int64_t size, int64_t step, bool is_start) {
    const int64_t lower = step > 0 ? 0 : -1;
    const int64_t upper = step > 0 ? size : size - 1;
    if (v.is_none() || v.is_undefined()) return (is_start == (step > 0)) ? lower : upper;
    if (!v.is_int()) fail("slice indices must be integers or None");
    int64_t i = v.as_int();
    if (i < 0) i = i < -size ? lower : i + size;
    return std::clamp(i, lower, upper);
}

Value Interpreter::eval_slice(const Expr& e, const ScopePtr& scope) {
    const Value object = eval(*e.children[0], scope);
    Value parts[3];
    for (int k = 0; k < 3; ++k)
        if (e.children[static_cast<size_t>(k) + 1]) parts[k] = eval(*e.children[static_cast<size_t>(k) + 1], scope);
    if (object.is_undefined()) fail_undefined(object);
    charge_text(object);
    int64_t step = 1;
    if (parts[2].is_int()) step = parts[2].as_int();
    else if (!parts[2].is_undefined() && !parts[2].is_none()) fail("slice indices must be integers or None");
    if (step == 0) fail("slice step cannot be zero");
    std::vector<uint32_t> offsets;  // of the string's code points
    if (object.is_string()) offsets = code_point_offsets(object.as_string());
    else if (!object.is_list()) fail("'" + object.type_name() + "' object is not subscriptable");
    const std::vector<Value>& items = object.as_list();
    const auto size = static_cast<int64_t>(object.is_string() ? offsets.size() - 1 : items.size());
    // Python's slice.indices(): defaults depend on the direction.
    const int64_t first = slice_bound(parts[0], size, step, true);
    const int64_t stop = slice_bound(parts[1], size, step, false);
    std::vector<Value> picked;
    std::string text;
    for (int64_t i = first; step > 0 ? i < stop : i > stop;) {
        if (i < 0 || i >= size) break;
        charge_steps();
        const auto k = static_cast<size_t>(i);
        if (object.is_string()) text.append(object.as_string(), offsets[k], offsets[k + 1] - offsets[k]);
        else picked.push_back(items[k]);
        if (__builtin_add_overflow(i, step, &i)) break;  // a huge step leaves the sequence
    }
    if (object.is_string()) return Value::string(std::move(text));
    return Value::list(std::move(picked), object.is_tuple());
}

// ---- calls, attributes, items --------------------------------------------------------------------------

Value Interpreter::call_value(const Value& callee, CallArgs& args) {
    if (callee.is_undefined()) fail_undefined(callee);
    if (!callee.is_callable()) fail("'" + callee.type_name() + "' object is not callable");
    DepthGuard guard(m_depth);
    Value result = callee.as_callable().fn(*this, args);
    charge_text(result);
    return result;
}

Value Interpreter::apply_filter(const std::string& name, const Value& subject, CallArgs& args) {
    const auto& table = filter_table();
    const auto it = table.find(name);
    if (it == table.end()) fail("no filter named '" + name + "'");
    charge_text(subject);
    Value result = it->second(*this, subject, args);
    charge_text(result);
    return result;
}

bool Interpreter::apply_test(const std::string& name, const Value& subject, CallArgs& args) {
    const auto& table = test_table();
    const auto it = table.find(name);
    if (it == table.end()) fail("no test named '" + name + "'");
    charge_text(subject);
    return it->second(*this, subject, args);
}

Value Interpreter::get_attribute(const Value& object, const std::string& name) {
    if (object.is_undefined()) fail_undefined(object);
    if (object.is_namespace()) {
        const Value* v = object.namespace_dict().find(name);
        return v ? *v : Value::undefined("'Namespace' object has no attribute '" + name + "'");
    }
    Value method = method_of(*this, object, name);  // jinja2 tries getattr() before [] for `.name`
    if (!method.is_undefined() || !method.undefined_hint().empty()) return method;
    if (object.is_dict()) {
        const Value* v = object.as_dict().find(name);
        if (v) return *v;
    }
    return Value::undefined(missing_attribute_hint(object, "'" + name + "'"));
}

Value Interpreter::get_item(const Value& object, const Value& key) {
    if (object.is_undefined()) fail_undefined(object);
    if (object.is_dict()) {
        const Value* v = object.as_dict().find(key);
        if (v) return *v;
    } else if (object.is_list() && key.is_int()) {
        const auto& items = object.as_list();
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(items.size());
        if (i >= 0 && i < static_cast<int64_t>(items.size())) return items[static_cast<size_t>(i)];
        return Value::undefined("'" + object.type_name() + " object' has no element " + std::to_string(key.as_int()));
    } else if (object.is_string() && key.is_int()) {
        charge_text(object);
        const std::string& s = object.as_string();
        int64_t i = key.as_int();
        if (i < 0) i += static_cast<int64_t>(count_code_points(s));
        size_t at = 0;
        for (int64_t k = 0; k < i && at < s.size(); ++k) at += utf8_char_length(s, at);
        if (i >= 0 && at < s.size()) return Value::string(s.substr(at, utf8_char_length(s, at)));
        return Value::undefined("'str object' has no element " + std::to_string(key.as_int()));
    }
    if (key.is_string()) {  // jinja2 falls back to getattr() for `x['name']`
        if (object.is_namespace()) return get_attribute(object, key.as_string());
        Value method = method_of(*this, object, key.as_string());
        if (!method.is_undefined() || !method.undefined_hint().empty()) return method;
    }
    return Value::undefined(missing_attribute_hint(object, to_repr(key)));
}

std::vector<Value> Interpreter::iterate(const Value& v) {
    charge_steps((v.is_string() ? v.as_string().size() : v.as_list().size()) / 8);
    switch (v.kind()) {
        case Value::Kind::Undefined: return {};
        case Value::Kind::List: return v.as_list();
        case Value::Kind::Dict: {
            std::vector<Value> keys;
            for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
            return keys;
        }
        case Value::Kind::String: {
            const std::string& s = v.as_string();
            std::vector<Value> chars;
            for (size_t at = 0; at < s.size();) {
                if (chars.size() >= k_max_list_items) fail("string too long to iterate");
                const size_t n = utf8_char_length(s, at);
                chars.push_back(Value::string(s.substr(at, n)));
                at += n;
            }
            return chars;
        }
        default: fail("'" + v.type_name() + "' object is not iterable");
    }
}

}  // namespace moe::jinja
