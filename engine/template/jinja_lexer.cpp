#include "template/jinja_lexer.h"

#include "core/utf8.h"

#include <charconv>
#include <cstring>

namespace moe::jinja {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

class Lexer {
public:
    explicit Lexer(const std::string& src) : m_src(src) {}
    std::vector<Token> run();

private:
    [[noreturn]] void fail(size_t offset, const std::string& message) { throw JinjaError{offset, message}; }
    bool starts_with(size_t at, const char* s) const { return m_src.compare(at, std::strlen(s), s) == 0; }
    void emit_text(std::string text, size_t offset);
    size_t lex_comment(size_t at);
    bool try_raw(size_t at, size_t& next);
    size_t lex_tag(size_t at, bool is_block);
    size_t skip_after_tag_end(size_t at, char control, bool is_block);
    size_t lex_string(size_t at);
    size_t lex_escape(size_t p, std::string& value);
    size_t lex_number(size_t at);
    size_t lex_operator(size_t at, std::vector<char>& balance);

    const std::string& m_src;
    std::vector<Token> m_out;
    bool m_line_starting = true;  // the last consumed token ended with a newline (lstrip_blocks rule)
};

void Lexer::emit_text(std::string text, size_t offset) {
    if (text.empty()) return;
    Token t;
    t.type = Tok::Text;
    t.text = std::move(text);
    t.offset = offset;
    m_out.push_back(std::move(t));
}

std::vector<Token> Lexer::run() {
    size_t pos = 0;
    while (pos < m_src.size()) {
        size_t start = m_src.find('{', pos);
        while (start != std::string::npos && start + 1 < m_src.size() && m_src[start + 1] != '{' &&
               m_src[start + 1] != '%' && m_src[start + 1] != '#')
            start = m_src.find('{', start + 1);
        if (start == std::string::npos || start + 1 >= m_src.size()) {
            emit_text(m_src.substr(pos), pos);
            break;
        }
        const char kind = m_src[start + 1];
        const char control = start + 2 < m_src.size() ? m_src[start + 2] : '\0';
        std::string text = m_src.substr(pos, start - pos);
        if (control == '-') {
            while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if (control != '+' && kind != '{') {
            // lstrip_blocks: drop the whitespace between the line start and a block or comment tag.
            const size_t line_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
            if (line_pos > 0 || m_line_starting) {
                bool all_space = line_pos < text.size();
                for (size_t i = line_pos; i < text.size(); ++i) all_space = all_space && is_space(text[i]);
                if (all_space) text.resize(line_pos);
            }
        }
        emit_text(std::move(text), pos);
        m_line_starting = false;
        if (kind == '#') {
            pos = lex_comment(start);
        } else if (kind == '%' && try_raw(start, pos)) {
            // raw block consumed
        } else {
            pos = lex_tag(start, kind == '%');
        }
    }
    Token eof;
    eof.offset = m_src.size();
    m_out.push_back(eof);
    return std::move(m_out);
}

size_t Lexer::skip_after_tag_end(size_t at, char control, bool is_block) {
    // `at` is just past the closing delimiter; `control` is '-', '+' or '\0'.
    if (control == '-') {
        while (at < m_src.size() && is_space(m_src[at])) ++at;
    } else if (control != '+' && is_block && at < m_src.size() && m_src[at] == '\n') {
        ++at;  // trim_blocks
    }
    m_line_starting = at > 0 && m_src[at - 1] == '\n';
    return at;
}

size_t Lexer::lex_comment(size_t at) {
    const size_t end = m_src.find("#}", at + 2);
    if (end == std::string::npos) fail(at, "missing end of comment tag '#}'");
    const char control = (end > at + 2 && (m_src[end - 1] == '-' || m_src[end - 1] == '+')) ? m_src[end - 1] : '\0';
    return skip_after_tag_end(end + 2, control, true);
}

// `{% raw %}...{% endraw %}`: everything between is text. Returns false when the tag is not `raw`.
bool Lexer::try_raw(size_t at, size_t& next) {
    size_t p = at + 2;
    if (p < m_src.size() && (m_src[p] == '-' || m_src[p] == '+')) ++p;
    while (p < m_src.size() && is_space(m_src[p])) ++p;
    if (!starts_with(p, "raw") || (p + 3 < m_src.size() && is_name_char(m_src[p + 3]))) return false;
    p += 3;
    while (p < m_src.size() && is_space(m_src[p])) ++p;
    char open_control = '\0';
    if (p < m_src.size() && m_src[p] == '-') open_control = m_src[p++];
    if (!starts_with(p, "%}")) fail(p, "expected '%}' after 'raw'");
    p = open_control == '-' ? skip_after_tag_end(p + 2, '-', true) : p + 2;
    for (size_t search = p;;) {
        const size_t tag = m_src.find("{%", search);
        if (tag == std::string::npos) fail(at, "missing '{% endraw %}' for this raw block");
        size_t q = tag + 2;
        const char control = (q < m_src.size() && (m_src[q] == '-' || m_src[q] == '+')) ? m_src[q] : '\0';
        if (control) ++q;
        while (q < m_src.size() && is_space(m_src[q])) ++q;
        if (!starts_with(q, "endraw")) {
            search = tag + 2;
            continue;
        }
        q += 6;
        while (q < m_src.size() && is_space(m_src[q])) ++q;
        char close_control = '\0';
        if (q < m_src.size() && (m_src[q] == '-' || m_src[q] == '+')) close_control = m_src[q++];
        if (!starts_with(q, "%}")) fail(q, "expected '%}' after 'endraw'");
        std::string text = m_src.substr(p, tag - p);
        if (control == '-') {
            while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if (control != '+') {
            const size_t line_pos = text.rfind('\n') == std::string::npos ? 0 : text.rfind('\n') + 1;
            bool all_space = line_pos < text.size() && line_pos > 0;
            for (size_t i = line_pos; all_space && i < text.size(); ++i) all_space = is_space(text[i]);
            if (all_space) text.resize(line_pos);
        }
        emit_text(std::move(text), p);
        next = skip_after_tag_end(q + 2, close_control, true);
        return true;
    }
}

size_t Lexer::lex_tag(size_t at, bool is_block) {
    Token begin;
    begin.type = is_block ? Tok::BlockBegin : Tok::VarBegin;
    begin.offset = at;
    m_out.push_back(begin);
    size_t p = at + 2;
    if (p < m_src.size() && (m_src[p] == '-' || m_src[p] == '+')) ++p;
    const char* end_delim = is_block ? "%}" : "}}";
    std::vector<char> balance;  // open brackets: a `}}` inside `{'a': {'b': 1}}` does not end the tag
    while (true) {
        while (p < m_src.size() && is_space(m_src[p])) ++p;
        if (p >= m_src.size()) fail(at, is_block ? "missing end of block tag '%}'" : "missing end of tag '}}'");
        if (balance.empty()) {
            char control = '\0';
            size_t q = p;
            if ((m_src[q] == '-' || m_src[q] == '+') && starts_with(q + 1, end_delim)) control = m_src[q++];
            if (starts_with(q, end_delim) && (control != '+' || is_block)) {
                Token end;
                end.type = is_block ? Tok::BlockEnd : Tok::VarEnd;
                end.offset = p;
                m_out.push_back(end);
                return skip_after_tag_end(q + 2, control, is_block);
            }
        }
        const char c = m_src[p];
        if (c == '\'' || c == '"') p = lex_string(p);
        else if (is_digit(c)) p = lex_number(p);
        else if (is_name_start(c)) {
            const size_t s = p;
            while (p < m_src.size() && is_name_char(m_src[p])) ++p;
            Token t;
            t.type = Tok::Name;
            t.text = m_src.substr(s, p - s);
            t.offset = s;
            m_out.push_back(std::move(t));
        } else {
            p = lex_operator(p, balance);
        }
    }
}

// Decodes the escape sequence after the backslash at p - 1 (Python's unicode-escape rules: unknown
// escapes stay as written). Returns the position after it.
size_t Lexer::lex_escape(size_t p, std::string& value) {
    const char e = m_src[p++];
    auto hex = [&](size_t n) {
        if (p + n > m_src.size()) fail(p - 2, "truncated \\" + std::string(1, e) + " escape in string literal");
        uint32_t cp = 0;
        for (size_t k = 0; k < n; ++k) {
            const char h = m_src[p + k];
            const int d = is_digit(h) ? h - '0' : (h >= 'a' && h <= 'f') ? h - 'a' + 10 : (h >= 'A' && h <= 'F') ? h - 'A' + 10 : -1;
            if (d < 0) fail(p - 2, "truncated \\" + std::string(1, e) + " escape in string literal");
            cp = cp * 16 + static_cast<uint32_t>(d);
        }
        utf8_append(value, cp);
        p += n;
    };
    switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // line continuation
        case 'x': hex(2); break;
        case 'u': hex(4); break;
        case 'U': hex(8); break;
        default:
            if (e >= '0' && e <= '7') {
                uint32_t cp = static_cast<uint32_t>(e - '0');
                for (int k = 0; k < 2 && p < m_src.size() && m_src[p] >= '0' && m_src[p] <= '7'; ++k)
                    cp = cp * 8 + static_cast<uint32_t>(m_src[p++] - '0');
                utf8_append(value, cp);
            } else {
                value += '\\';
                value += e;
            }
    }
    return p;
}

size_t Lexer::lex_string(size_t at) {
    const char quote = m_src[at];
    std::string value;
    size_t p = at + 1;
    while (true) {
        if (p >= m_src.size()) fail(at, "unterminated string literal");
        const char c = m_src[p];
        if (c == quote) break;
        if (c != '\\') {
            value += c;
            ++p;
            continue;
        }
        if (p + 1 >= m_src.size()) fail(at, "unterminated string literal");
        p = lex_escape(p + 1, value);
    }
    Token t;
    t.type = Tok::String;
    t.text = std::move(value);
    t.offset = at;
    m_out.push_back(std::move(t));
    return p + 1;
}

size_t Lexer::lex_number(size_t at) {
    size_t p = at;
    auto digits = [&] {
        while (p < m_src.size() && (is_digit(m_src[p]) || (m_src[p] == '_' && p + 1 < m_src.size() && is_digit(m_src[p + 1])))) ++p;
    };
    digits();
    bool is_float = false;
    if (p + 1 < m_src.size() && m_src[p] == '.' && is_digit(m_src[p + 1])) {
        is_float = true;
        ++p;
        digits();
    }
    if (p < m_src.size() && (m_src[p] == 'e' || m_src[p] == 'E')) {
        size_t q = p + 1;
        if (q < m_src.size() && (m_src[q] == '+' || m_src[q] == '-')) ++q;
        if (q < m_src.size() && is_digit(m_src[q])) {
            is_float = true;
            p = q;
            digits();
        }
    }
    std::string text;
    for (size_t i = at; i < p; ++i)
        if (m_src[i] != '_') text += m_src[i];
    Token t;
    t.offset = at;
    t.text = text;
    if (is_float) {
        t.type = Tok::Float;
        t.float_value = std::strtod(text.c_str(), nullptr);
    } else {
        t.type = Tok::Int;
        const auto res = std::from_chars(text.data(), text.data() + text.size(), t.int_value);
        if (res.ec != std::errc()) fail(at, "integer literal '" + text + "' is too large");
    }
    m_out.push_back(std::move(t));
    return p;
}

size_t Lexer::lex_operator(size_t at, std::vector<char>& balance) {
    static const char* const two_char[] = {"//", "**", "==", "!=", ">=", "<="};
    Token t;
    t.type = Tok::Op;
    t.offset = at;
    for (const char* op : two_char) {
        if (starts_with(at, op)) {
            t.text = op;
            m_out.push_back(std::move(t));
            return at + 2;
        }
    }
    const char c = m_src[at];
    if (std::strchr("+-/*%~[](){}<>=.:|,;", c) == nullptr || c == '\0') {
        fail(at, std::string("unexpected character '") + (static_cast<unsigned char>(c) < 0x20 ? '?' : c) +
                     "' in tag");
    }
    if (c == '(' || c == '[' || c == '{') {
        if (balance.size() >= 256) fail(at, "brackets nested too deeply");
        balance.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
    } else if (c == ')' || c == ']' || c == '}') {
        if (balance.empty() || balance.back() != c) fail(at, std::string("unexpected '") + c + "'");
        balance.pop_back();
    }
    t.text = std::string(1, c);
    m_out.push_back(std::move(t));
    return at + 1;
}

}  // namespace

std::string normalize_template_source(const std::string& source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();  // keep_trailing_newline=False
    return out;
}

std::vector<Token> tokenize(const std::string& normalized_source) { return Lexer(normalized_source).run(); }

void offset_to_line_col(const std::string& src, size_t offset, size_t& line, size_t& col) {
    line = 1;
    col = 1;
    if (offset > src.size()) offset = src.size();
    for (size_t i = 0; i < offset; ++i) {
        if (src[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
}

}  // namespace moe::jinja
