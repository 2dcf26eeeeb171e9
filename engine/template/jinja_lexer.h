// Jinja lexer: splits a template into text and tag tokens with jinja2's whitespace rules as HF's
// apply_chat_template configures them (trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False):
//  - "\r\n" and "\r" become "\n", and one trailing newline of the template is dropped;
//  - `{%-` / `{{-` / `{#-` strip all whitespace before the tag, `-%}` / `-}}` / `-#}` all whitespace after;
//  - trim_blocks: the first newline after a block or comment tag is removed (`+%}` keeps it);
//  - lstrip_blocks: spaces and tabs from the start of a line up to a block or comment tag are removed
//    (`{%+` keeps them);
//  - `{% raw %}...{% endraw %}` is passed through as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moe::jinja {

// An error raised while lexing, parsing or rendering; the public API turns it into a Status.
// `offset` is a byte offset into the normalized source (npos: position unknown yet).
struct JinjaError {
    size_t offset = static_cast<size_t>(-1);
    std::string message;
};

enum class Tok : uint8_t { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok type = Tok::Eof;
    std::string text;  // text data, name, decoded string literal or operator
    int64_t int_value = 0;
    double float_value = 0.0;
    size_t offset = 0;  // where the token starts in the normalized source
};

// Applies the newline normalization above (the lexer and error positions work on this form).
std::string normalize_template_source(const std::string& source);

// Tokenizes a normalized source. Throws JinjaError on an unterminated tag, comment or string, or an
// unexpected character.
std::vector<Token> tokenize(const std::string& normalized_source);

// 1-based line and column (in bytes) of an offset.
void offset_to_line_col(const std::string& normalized_source, size_t offset, size_t& line, size_t& col);

}  // namespace moe::jinja
