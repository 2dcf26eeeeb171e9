// The syntax tree of a parsed Jinja template. One generic node type per category keeps the parser and
// the interpreter short; `kind` says which fields are used.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "template/jinja_value.h"

namespace moe::jinja {

// Nesting limits: they keep recursion (parsing, rendering, destruction of the tree) far from the stack
// size on any input.
inline constexpr int k_max_expression_depth = 256;
inline constexpr int k_max_statement_depth = 128;

enum class ExprKind : uint8_t {
    Literal,    // literal
    Name,       // name
    List,       // children
    Tuple,      // children
    Dict,       // children: key0, value0, key1, value1, ...
    Not,        // children[0]
    Negate,     // children[0]
    Plus,       // children[0] (unary +)
    Binary,     // name = op (+ - * / // % ** ~), children[0..1]
    And,        // children[0..1], Python short-circuit returning an operand
    Or,
    Compare,    // children = operands, ops = operators (== != < <= > >= in notin), chained like Python
    Condition,  // children: then, condition, else (else may be null: undefined)
    GetAttr,    // children[0], name = attribute
    GetItem,    // children[0] = object, children[1] = key
    Slice,      // children[0] = object, children[1..3] = start, stop, step (each may be null)
    Call,       // children[0] = callee, children[1..] = positional; kwargs
    Filter,     // children[0] = subject (null in a filter block), name = filter, children[1..]; kwargs
    Test,       // children[0] = subject, name = test, children[1..]; negated for `is not`
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind = ExprKind::Literal;
    size_t offset = 0;  // byte offset in the normalized source, for error messages
    int depth = 1;      // height of this subtree
    bool negated = false;
    Value literal;
    std::string name;
    std::vector<std::string> ops;
    std::vector<ExprPtr> children;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

enum class StmtKind : uint8_t {
    Text,         // text
    Print,        // expr
    If,           // branches (the else branch has a null condition)
    For,          // targets, expr = iterable, condition (optional), body, else_body
    Set,          // targets (several: tuple unpacking) or targets[0] + attr (namespace), expr
    SetBlock,     // targets[0], body (captured output), filter (optional)
    Macro,        // name, params, body
    CallBlock,    // expr = the call, params = caller's parameters, body = caller's body
    FilterBlock,  // filter, body
    Break,
    Continue,
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct MacroParam {
    std::string name;
    ExprPtr default_value;  // null: required
};

struct Stmt {
    StmtKind kind = StmtKind::Text;
    size_t offset = 0;
    std::string text;  // Text content; Macro name
    ExprPtr expr;
    ExprPtr condition;
    ExprPtr filter;  // a Filter expression with a null subject (chains nest through children[0])
    std::vector<std::string> targets;
    bool uses_loop = true;  // For: the body mentions `loop` (building the loop object costs time)
    std::string attr;
    std::vector<std::pair<ExprPtr, StmtList>> branches;
    std::vector<MacroParam> params;
    StmtList body;
    StmtList else_body;
};

}  // namespace moe::jinja
