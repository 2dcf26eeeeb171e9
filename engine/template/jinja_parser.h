// Jinja parser: tokens (jinja_lexer.h) to a syntax tree (jinja_ast.h), following jinja2's grammar and
// operator precedence (or < and < not < comparisons < + - < ~ < * / // % < ** < unary - < filters, tests,
// calls, attributes). Supported statements: if/elif/else, for/else (with an `if` filter, `recursive` is
// refused), set (name, tuple, ns.attr, block form), macro, call, filter, break, continue, and HF's
// generation/endgeneration markers (rendered as their content).
#pragma once

#include <vector>

#include "template/jinja_ast.h"
#include "template/jinja_lexer.h"

namespace moe::jinja {

// Throws JinjaError (with the offset of the offending token) on a syntax error.
StmtList parse_template(const std::vector<Token>& tokens);

}  // namespace moe::jinja
