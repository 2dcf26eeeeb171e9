#include "template/jinja_parser.h"

#include <algorithm>
#include <initializer_list>

namespace moe::jinja {

namespace {

class Parser {
public:
    explicit Parser(const std::vector<Token>& tokens) : m_tokens(tokens) {}

    StmtList parse_all() {
        std::string end;
        StmtList out = parse_body({}, end);
        return out;
    }

private:
    // ---- token helpers -------------------------------------------------------------------------------
    const Token& peek(size_t ahead = 0) const {
        const size_t i = std::min(m_pos + ahead, m_tokens.size() - 1);
        return m_tokens[i];
    }
    const Token& next() {
        const Token& t = peek();
        if (m_pos < m_tokens.size() - 1) ++m_pos;
        return t;
    }
    bool is_op(const char* op, size_t ahead = 0) const { return peek(ahead).type == Tok::Op && peek(ahead).text == op; }
    bool is_name(const char* name, size_t ahead = 0) const {
        return peek(ahead).type == Tok::Name && peek(ahead).text == name;
    }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        next();
        return true;
    }
    [[noreturn]] void fail(const Token& t, const std::string& message) { throw JinjaError{t.offset, message}; }
    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::Eof: return "end of template";
            case Tok::BlockEnd: return "end of statement block '%}'";
            case Tok::VarEnd: return "end of print statement '}}'";
            case Tok::Name: return "'" + t.text + "'";
            case Tok::Op: return "'" + t.text + "'";
            case Tok::String: return "string literal";
            case Tok::Int:
            case Tok::Float: return "number";
            default: return "text";
        }
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(peek(), std::string("expected '") + op + "', got " + describe(peek()));
    }
    std::string expect_name(const char* what) {
        if (peek().type != Tok::Name) fail(peek(), std::string("expected ") + what + ", got " + describe(peek()));
        return next().text;
    }
    void expect_block_end() {
        if (peek().type != Tok::BlockEnd) fail(peek(), "expected end of statement block '%}', got " + describe(peek()));
        next();
    }

    // RAII counter: recursion in the parser follows the nesting of the input, so it is capped.
    struct DepthGuard {
        DepthGuard(Parser& p, int& counter, int limit, const char* what) : m_counter(counter) {
            if (++m_counter > limit) {
                --m_counter;
                p.fail(p.peek(), std::string(what) + " nested too deeply");
            }
        }
        ~DepthGuard() { --m_counter; }
        int& m_counter;
    };

    ExprPtr node(ExprKind kind, size_t offset, std::vector<ExprPtr> children = {}) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->offset = offset;
        for (const auto& c : children)
            if (c) e->depth = std::max(e->depth, c->depth + 1);
        e->children = std::move(children);
        if (e->depth > k_max_expression_depth) throw JinjaError{offset, "expression nested too deeply"};
        return e;
    }
    void adopt_kwargs(Expr& e, std::vector<std::pair<std::string, ExprPtr>> kwargs) {
        for (const auto& kv : kwargs) e.depth = std::max(e.depth, kv.second->depth + 1);
        if (e.depth > k_max_expression_depth) throw JinjaError{e.offset, "expression nested too deeply"};
        e.kwargs = std::move(kwargs);
    }

    // ---- statements ----------------------------------------------------------------------------------
    StmtList parse_body(std::initializer_list<const char*> ends, std::string& found_end);
    StmtPtr parse_statement(const Token& begin);
    StmtPtr parse_if(size_t offset);
    StmtPtr parse_for(size_t offset);
    StmtPtr parse_set(size_t offset);
    StmtPtr parse_macro(size_t offset);
    StmtPtr parse_call_block(size_t offset);
    StmtPtr parse_filter_block(size_t offset);
    std::vector<MacroParam> parse_params();
    ExprPtr parse_filter_chain(ExprPtr subject);

    // ---- expressions ---------------------------------------------------------------------------------
    ExprPtr parse_expression(bool with_condition = true);
    ExprPtr parse_tuple_expression();
    ExprPtr parse_or();
    ExprPtr parse_and();
    ExprPtr parse_not();
    ExprPtr parse_compare();
    ExprPtr parse_math1();
    ExprPtr parse_concat();
    ExprPtr parse_math2();
    ExprPtr parse_pow();
    ExprPtr parse_unary(bool with_filter);
    ExprPtr parse_primary();
    ExprPtr parse_postfix(ExprPtr e);
    ExprPtr parse_filter_expr(ExprPtr e);
    ExprPtr parse_subscript(ExprPtr e);
    ExprPtr parse_call(ExprPtr callee);
    ExprPtr parse_filter(ExprPtr subject);
    ExprPtr parse_test(ExprPtr subject);
    void parse_call_args(Expr& target);
    std::string parse_dotted_name();

    const std::vector<Token>& m_tokens;
    size_t m_pos = 0;
    int m_expr_depth = 0;
    int m_stmt_depth = 0;
    int m_loop_depth = 0;
    size_t m_loop_mentions = 0;  // how many times the name `loop` was read
    std::vector<std::string> m_open_blocks;  // the end tags each open block accepts, for messages
};

StmtList Parser::parse_body(std::initializer_list<const char*> ends, std::string& found_end) {
    DepthGuard guard(*this, m_stmt_depth, k_max_statement_depth, "statements");
    std::string expected;
    for (const char* e : ends) expected += (expected.empty() ? "'" : " or '") + std::string(e) + "'";
    m_open_blocks.push_back(expected);
    struct Pop {
        std::vector<std::string>& v;
        ~Pop() { v.pop_back(); }
    } pop{m_open_blocks};
    StmtList out;
    while (true) {
        const Token& t = peek();
        if (t.type == Tok::Eof) {
            if (ends.size() == 0) return out;
            fail(t, "unexpected end of template, expected " + expected);
        }
        if (t.type == Tok::Text) {
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::Text;
            s->offset = t.offset;
            s->text = next().text;
            out.push_back(std::move(s));
        } else if (t.type == Tok::VarBegin) {
            next();
            auto s = std::make_unique<Stmt>();
            s->kind = StmtKind::Print;
            s->offset = peek().offset;
            s->expr = parse_tuple_expression();
            if (peek().type != Tok::VarEnd) fail(peek(), "expected end of print statement '}}', got " + describe(peek()));
            next();
            out.push_back(std::move(s));
        } else if (t.type == Tok::BlockBegin) {
            const Token& name = peek(1);
            if (name.type == Tok::Name) {
                for (const char* e : ends) {
                    if (name.text == e) {
                        found_end = e;
                        next();
                        next();  // `{%` and the name; the caller reads the rest of the tag
                        return out;
                    }
                }
            }
            next();
            out.push_back(parse_statement(t));
        } else {
            fail(t, "unexpected " + describe(t));
        }
    }
}

StmtPtr Parser::parse_statement(const Token& begin) {
    const Token& name_tok = peek();
    if (name_tok.type != Tok::Name) fail(name_tok, "expected a statement name after '{%', got " + describe(name_tok));
    const std::string name = next().text;
    const size_t offset = name_tok.offset;
    if (name == "if") return parse_if(offset);
    if (name == "for") return parse_for(offset);
    if (name == "set") return parse_set(offset);
    if (name == "macro") return parse_macro(offset);
    if (name == "call") return parse_call_block(offset);
    if (name == "filter") return parse_filter_block(offset);
    if (name == "break" || name == "continue") {
        if (m_loop_depth == 0) fail(name_tok, "'" + name + "' outside of a for loop");
        expect_block_end();
        auto s = std::make_unique<Stmt>();
        s->kind = name == "break" ? StmtKind::Break : StmtKind::Continue;
        s->offset = offset;
        return s;
    }
    if (name == "generation") {  // HF's AssistantTracker extension: renders its body unchanged
        expect_block_end();
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::If;
        s->offset = offset;
        std::string end;
        StmtList body = parse_body({"endgeneration"}, end);
        expect_block_end();
        s->branches.emplace_back(nullptr, std::move(body));
        return s;
    }
    (void)begin;
    const bool closer = name.rfind("end", 0) == 0 || name == "elif" || name == "else";
    if (closer && !m_open_blocks.back().empty())
        fail(name_tok, "unexpected '" + name + "': the innermost open block needs " + m_open_blocks.back());
    if (closer) fail(name_tok, "unexpected '" + name + "': no block is open");
    fail(name_tok, "unknown tag '" + name + "'");
}

StmtPtr Parser::parse_if(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::If;
    s->offset = offset;
    ExprPtr cond = parse_tuple_expression();
    while (true) {
        expect_block_end();
        std::string end;
        StmtList body = parse_body({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(cond), std::move(body));
        if (end == "elif") {
            cond = parse_tuple_expression();
            continue;
        }
        if (end == "else") {
            expect_block_end();
            StmtList else_body = parse_body({"endif"}, end);
            s->branches.emplace_back(nullptr, std::move(else_body));
        }
        expect_block_end();
        return s;
    }
}

StmtPtr Parser::parse_for(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::For;
    s->offset = offset;
    const bool parenthesized = skip_op("(");
    do {
        s->targets.push_back(expect_name("a loop variable name"));
    } while (skip_op(","));
    if (parenthesized) expect_op(")");
    if (!skip_name("in")) fail(peek(), "expected 'in' in for loop, got " + describe(peek()));
    s->expr = parse_expression(false);
    if (is_op(",")) {  // `for x in a, b`: a tuple
        std::vector<ExprPtr> items;
        items.push_back(std::move(s->expr));
        while (skip_op(",")) items.push_back(parse_expression(false));
        s->expr = node(ExprKind::Tuple, offset, std::move(items));
    }
    if (skip_name("if")) s->condition = parse_expression();
    if (is_name("recursive")) fail(peek(), "recursive for loops are not supported");
    expect_block_end();
    std::string end;
    ++m_loop_depth;
    const size_t mentions_before = m_loop_mentions;
    s->body = parse_body({"else", "endfor"}, end);
    s->uses_loop = m_loop_mentions != mentions_before;
    --m_loop_depth;
    if (end == "else") {
        expect_block_end();
        s->else_body = parse_body({"endfor"}, end);
    }
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_set(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Set;
    s->offset = offset;
    s->targets.push_back(expect_name("a variable name"));
    if (skip_op(".")) {
        s->attr = expect_name("an attribute name");
    } else {
        while (skip_op(",")) s->targets.push_back(expect_name("a variable name"));
    }
    if (skip_op("=")) {
        s->expr = parse_tuple_expression();
        expect_block_end();
        return s;
    }
    if (!s->attr.empty() || s->targets.size() != 1) fail(peek(), "expected '=' in set statement");
    // Block form: {% set name %}...{% endset %} captures the rendered body.
    s->kind = StmtKind::SetBlock;
    if (is_op("|")) s->filter = parse_filter_chain(nullptr);
    expect_block_end();
    std::string end;
    s->body = parse_body({"endset"}, end);
    expect_block_end();
    return s;
}

std::vector<MacroParam> Parser::parse_params() {
    std::vector<MacroParam> params;
    expect_op("(");
    while (!is_op(")")) {
        if (!params.empty()) expect_op(",");
        if (is_op(")")) break;
        MacroParam p;
        p.name = expect_name("a parameter name");
        if (skip_op("=")) p.default_value = parse_expression();
        params.push_back(std::move(p));
    }
    expect_op(")");
    return params;
}

StmtPtr Parser::parse_macro(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::Macro;
    s->offset = offset;
    s->text = expect_name("a macro name");
    s->params = parse_params();
    expect_block_end();
    std::string end;
    const int saved_loops = m_loop_depth;
    m_loop_depth = 0;  // break/continue cannot cross a macro boundary
    s->body = parse_body({"endmacro"}, end);
    m_loop_depth = saved_loops;
    if (peek().type == Tok::Name) next();  // `{% endmacro name %}`
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_call_block(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::CallBlock;
    s->offset = offset;
    if (is_op("(")) s->params = parse_params();
    s->expr = parse_expression();
    if (s->expr->kind != ExprKind::Call) fail(peek(), "expected a call in 'call' block");
    expect_block_end();
    std::string end;
    const int saved_loops = m_loop_depth;
    m_loop_depth = 0;
    s->body = parse_body({"endcall"}, end);
    m_loop_depth = saved_loops;
    expect_block_end();
    return s;
}

StmtPtr Parser::parse_filter_block(size_t offset) {
    auto s = std::make_unique<Stmt>();
    s->kind = StmtKind::FilterBlock;
    s->offset = offset;
    s->filter = parse_filter(nullptr);
    if (is_op("|")) s->filter = parse_filter_chain(std::move(s->filter));
    expect_block_end();
    std::string end;
    s->body = parse_body({"endfilter"}, end);
    expect_block_end();
    return s;
}

ExprPtr Parser::parse_filter_chain(ExprPtr subject) {
    while (skip_op("|")) subject = parse_filter(std::move(subject));
    return subject;
}

// ---- expressions ---------------------------------------------------------------------------------------

ExprPtr Parser::parse_tuple_expression() {
    const size_t offset = peek().offset;
    ExprPtr first = parse_expression();
    if (!is_op(",")) return first;
    std::vector<ExprPtr> items;
    items.push_back(std::move(first));
    while (skip_op(",")) {
        if (peek().type == Tok::BlockEnd || peek().type == Tok::VarEnd) break;
        items.push_back(parse_expression());
    }
    return node(ExprKind::Tuple, offset, std::move(items));
}

ExprPtr Parser::parse_expression(bool with_condition) {
    DepthGuard guard(*this, m_expr_depth, k_max_expression_depth, "expression");
    ExprPtr e = parse_or();
    if (!with_condition) return e;
    while (is_name("if")) {
        const size_t offset = next().offset;
        ExprPtr cond = parse_or();
        ExprPtr otherwise = skip_name("else") ? parse_expression() : nullptr;
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(std::move(cond));
        parts.push_back(std::move(otherwise));
        e = node(ExprKind::Condition, offset, std::move(parts));
    }
    return e;
}

ExprPtr Parser::parse_or() {
    ExprPtr e = parse_and();
    while (is_name("or")) {
        const size_t offset = next().offset;
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_and());
        e = node(ExprKind::Or, offset, std::move(parts));
    }
    return e;
}

ExprPtr Parser::parse_and() {
    ExprPtr e = parse_not();
    while (is_name("and")) {
        const size_t offset = next().offset;
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_not());
        e = node(ExprKind::And, offset, std::move(parts));
    }
    return e;
}

ExprPtr Parser::parse_not() {
    if (is_name("not")) {
        DepthGuard guard(*this, m_expr_depth, k_max_expression_depth, "expression");
        const size_t offset = next().offset;
        std::vector<ExprPtr> parts;
        parts.push_back(parse_not());
        return node(ExprKind::Not, offset, std::move(parts));
    }
    return parse_compare();
}

ExprPtr Parser::parse_compare() {
    const size_t offset = peek().offset;
    ExprPtr first = parse_math1();
    std::vector<ExprPtr> operands;
    std::vector<std::string> ops;
    while (true) {
        const Token& t = peek();
        if (t.type == Tok::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == "<=" ||
                                  t.text == ">" || t.text == ">=")) {
            ops.push_back(next().text);
        } else if (is_name("in")) {
            next();
            ops.emplace_back("in");
        } else if (is_name("not") && is_name("in", 1)) {
            next();
            next();
            ops.emplace_back("notin");
        } else {
            break;
        }
        if (operands.empty()) operands.push_back(std::move(first));
        operands.push_back(parse_math1());
    }
    if (ops.empty()) return first;
    ExprPtr e = node(ExprKind::Compare, offset, std::move(operands));
    e->ops = std::move(ops);
    return e;
}

ExprPtr Parser::parse_math1() {
    ExprPtr e = parse_concat();
    while (is_op("+") || is_op("-")) {
        const Token& op = next();
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_concat());
        e = node(ExprKind::Binary, op.offset, std::move(parts));
        e->name = op.text;
    }
    return e;
}

ExprPtr Parser::parse_concat() {
    ExprPtr e = parse_math2();
    while (is_op("~")) {
        const Token& op = next();
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_math2());
        e = node(ExprKind::Binary, op.offset, std::move(parts));
        e->name = "~";
    }
    return e;
}

ExprPtr Parser::parse_math2() {
    ExprPtr e = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
        const Token& op = next();
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_pow());
        e = node(ExprKind::Binary, op.offset, std::move(parts));
        e->name = op.text;
    }
    return e;
}

ExprPtr Parser::parse_pow() {
    ExprPtr e = parse_unary(true);
    while (is_op("**")) {
        const Token& op = next();
        std::vector<ExprPtr> parts;
        parts.push_back(std::move(e));
        parts.push_back(parse_unary(true));
        e = node(ExprKind::Binary, op.offset, std::move(parts));
        e->name = "**";
    }
    return e;
}

ExprPtr Parser::parse_unary(bool with_filter) {
    DepthGuard guard(*this, m_expr_depth, k_max_expression_depth, "expression");
    ExprPtr e;
    if (is_op("-") || is_op("+")) {
        const Token& op = next();
        std::vector<ExprPtr> parts;
        parts.push_back(parse_unary(false));
        e = node(op.text == "-" ? ExprKind::Negate : ExprKind::Plus, op.offset, std::move(parts));
    } else {
        e = parse_primary();
    }
    e = parse_postfix(std::move(e));
    return with_filter ? parse_filter_expr(std::move(e)) : std::move(e);
}

ExprPtr Parser::parse_primary() {
    const Token& t = peek();
    if (t.type == Tok::Name) {
        next();
        ExprPtr e = node(ExprKind::Literal, t.offset);
        if (t.text == "true" || t.text == "True") e->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False") e->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None") e->literal = Value::none();
        else {
            e->kind = ExprKind::Name;
            e->name = t.text;
            if (t.text == "loop") ++m_loop_mentions;
        }
        return e;
    }
    if (t.type == Tok::String) {
        std::string s;
        while (peek().type == Tok::String) s += next().text;  // adjacent literals concatenate
        ExprPtr e = node(ExprKind::Literal, t.offset);
        e->literal = Value::string(std::move(s));
        return e;
    }
    if (t.type == Tok::Int || t.type == Tok::Float) {
        next();
        ExprPtr e = node(ExprKind::Literal, t.offset);
        e->literal = t.type == Tok::Int ? Value::integer(t.int_value) : Value::number(t.float_value);
        return e;
    }
    if (t.type == Tok::Op && (t.text == "(" || t.text == "[" || t.text == "{")) {
        next();
        const std::string close = t.text == "(" ? ")" : t.text == "[" ? "]" : "}";
        std::vector<ExprPtr> items;
        bool saw_comma = false;
        while (!is_op(close.c_str())) {
            if (!items.empty()) {
                expect_op(",");
                saw_comma = true;
                if (is_op(close.c_str())) break;
            }
            items.push_back(parse_expression());
            if (t.text == "{") {
                expect_op(":");
                items.push_back(parse_expression());
            }
        }
        expect_op(close.c_str());
        if (t.text == "(" && items.size() == 1 && !saw_comma) return std::move(items[0]);
        const ExprKind kind = t.text == "(" ? ExprKind::Tuple : t.text == "[" ? ExprKind::List : ExprKind::Dict;
        return node(kind, t.offset, std::move(items));
    }
    fail(t, "unexpected " + describe(t));
}

ExprPtr Parser::parse_postfix(ExprPtr e) {
    while (true) {
        if (is_op(".")) {
            const size_t offset = next().offset;
            const Token& t = peek();
            std::vector<ExprPtr> parts;
            parts.push_back(std::move(e));
            if (t.type == Tok::Name) {
                e = node(ExprKind::GetAttr, offset, std::move(parts));
                e->name = next().text;
            } else if (t.type == Tok::Int) {
                ExprPtr key = node(ExprKind::Literal, t.offset);
                key->literal = Value::integer(next().int_value);
                parts.push_back(std::move(key));
                e = node(ExprKind::GetItem, offset, std::move(parts));
            } else {
                fail(t, "expected an attribute name after '.', got " + describe(t));
            }
        } else if (is_op("[")) {
            e = parse_subscript(std::move(e));
        } else if (is_op("(")) {
            e = parse_call(std::move(e));
        } else {
            return e;
        }
    }
}

ExprPtr Parser::parse_subscript(ExprPtr e) {
    const size_t offset = next().offset;  // '['
    std::vector<ExprPtr> parts;
    parts.push_back(std::move(e));
    ExprPtr slots[3];
    int n_colons = 0;
    for (int slot = 0; slot < 3; ++slot) {
        if (!is_op(":") && !is_op("]")) slots[slot] = parse_expression();
        if (slot < 2 && skip_op(":")) {
            ++n_colons;
            continue;
        }
        break;
    }
    expect_op("]");
    if (n_colons == 0) {
        if (!slots[0]) fail(peek(), "expected a subscript inside '[]'");
        parts.push_back(std::move(slots[0]));
        return node(ExprKind::GetItem, offset, std::move(parts));
    }
    for (auto& s : slots) parts.push_back(std::move(s));
    return node(ExprKind::Slice, offset, std::move(parts));
}

void Parser::parse_call_args(Expr& target) {
    expect_op("(");
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<ExprPtr> positional;
    while (!is_op(")")) {
        if (!positional.empty() || !kwargs.empty()) {
            expect_op(",");
            if (is_op(")")) break;
        }
        if (is_op("*") || is_op("**")) fail(peek(), "*args and **kwargs in calls are not supported");
        if (peek().type == Tok::Name && is_op("=", 1)) {
            std::string name = next().text;
            next();
            kwargs.emplace_back(std::move(name), parse_expression());
        } else {
            if (!kwargs.empty()) fail(peek(), "positional argument after keyword argument");
            positional.push_back(parse_expression());
        }
    }
    expect_op(")");
    for (auto& p : positional) {
        target.depth = std::max(target.depth, p->depth + 1);
        target.children.push_back(std::move(p));
    }
    adopt_kwargs(target, std::move(kwargs));
}

ExprPtr Parser::parse_call(ExprPtr callee) {
    const size_t offset = peek().offset;
    std::vector<ExprPtr> parts;
    parts.push_back(std::move(callee));
    ExprPtr e = node(ExprKind::Call, offset, std::move(parts));
    parse_call_args(*e);
    return e;
}

std::string Parser::parse_dotted_name() {
    std::string name = expect_name("a name");
    while (is_op(".") && peek(1).type == Tok::Name) {
        next();
        name += "." + next().text;
    }
    return name;
}

ExprPtr Parser::parse_filter(ExprPtr subject) {
    const size_t offset = peek().offset;
    std::vector<ExprPtr> parts;
    parts.push_back(std::move(subject));
    ExprPtr e = node(ExprKind::Filter, offset, std::move(parts));
    e->name = parse_dotted_name();
    if (is_op("(")) parse_call_args(*e);
    return e;
}

ExprPtr Parser::parse_test(ExprPtr subject) {
    const size_t offset = next().offset;  // 'is'
    const bool negated = skip_name("not");
    std::vector<ExprPtr> parts;
    parts.push_back(std::move(subject));
    ExprPtr e = node(ExprKind::Test, offset, std::move(parts));
    e->negated = negated;
    e->name = parse_dotted_name();
    const Token& t = peek();
    if (is_op("(")) {
        parse_call_args(*e);
    } else if ((t.type == Tok::Name || t.type == Tok::String || t.type == Tok::Int || t.type == Tok::Float ||
                is_op("[") || is_op("{")) &&
               !is_name("else") && !is_name("or") && !is_name("and") && !is_name("is")) {
        // `x is divisibleby 3`: one argument without parentheses.
        ExprPtr arg = parse_postfix(parse_primary());
        e->depth = std::max(e->depth, arg->depth + 1);
        if (e->depth > k_max_expression_depth) throw JinjaError{offset, "expression nested too deeply"};
        e->children.push_back(std::move(arg));
    }
    return e;
}

ExprPtr Parser::parse_filter_expr(ExprPtr e) {
    while (true) {
        if (is_op("|")) {
            next();
            e = parse_filter(std::move(e));
        } else if (is_name("is")) {
            e = parse_test(std::move(e));
        } else if (is_op("(")) {
            e = parse_call(std::move(e));
        } else {
            return e;
        }
    }
}

}  // namespace

StmtList parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse_all(); }

}  // namespace moe::jinja
