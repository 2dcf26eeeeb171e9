#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode_data.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdio>

namespace moe {
namespace {

// Bounds the work of one match attempt of a pathological (fuzzed, custom) regex; real pre-tokenizer regexes
// stay far below it.
constexpr uint32_t k_match_limit = 10'000'000;

std::string class_body(const std::vector<CodepointRange>& ranges) {
    std::string out;
    char buf[40];
    for (const CodepointRange& r : ranges) {
        if (r.first == r.last) {
            std::snprintf(buf, sizeof(buf), "\\x{%X}", r.first);
        } else {
            std::snprintf(buf, sizeof(buf), "\\x{%X}-\\x{%X}", r.first, r.last);
        }
        out += buf;
    }
    return out;
}

using CategoryBodies = std::array<std::string, 6>;  // L M N P S Z

CategoryBodies make_category_bodies(UnicodeTables tables) {
    const UnicodeClass classes[] = {UnicodeClass::Letter,      UnicodeClass::Mark,   UnicodeClass::Number,
                                    UnicodeClass::Punctuation, UnicodeClass::Symbol, UnicodeClass::Separator};
    CategoryBodies bodies;
    for (size_t i = 0; i < bodies.size(); ++i) bodies[i] = class_body(unicode_class_ranges(classes[i], tables));
    return bodies;
}

const std::string* category_body(std::string_view name, UnicodeTables tables) {
    static const CategoryBodies current = make_category_bodies(UnicodeTables::Current);
    static const CategoryBodies v15_1 = make_category_bodies(UnicodeTables::V15_1);
    static const char names[] = "LMNPSZ";
    if (name.size() != 1) return nullptr;
    for (size_t i = 0; i < 6; ++i) {
        if (name[0] == names[i]) return tables == UnicodeTables::V15_1 ? &v15_1[i] : &current[i];
    }
    return nullptr;
}

const std::string& whitespace_body() {
    static const std::string body = class_body(unicode_whitespace_ranges());
    return body;
}

// Per-thread PCRE2 state: match data for one ovector pair, a match context with a limit and a JIT stack.
struct ThreadMatchState {
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    pcre2_match_context* context = pcre2_match_context_create(nullptr);
    pcre2_jit_stack* jit_stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);

    ThreadMatchState() {
        pcre2_set_match_limit(context, k_match_limit);
        if (jit_stack != nullptr) pcre2_jit_stack_assign(context, nullptr, jit_stack);
    }
    ~ThreadMatchState() {
        pcre2_jit_stack_free(jit_stack);
        pcre2_match_context_free(context);
        pcre2_match_data_free(data);
    }
    ThreadMatchState(const ThreadMatchState&) = delete;
    ThreadMatchState& operator=(const ThreadMatchState&) = delete;
};

ThreadMatchState& thread_state() {
    thread_local ThreadMatchState state;
    return state;
}

struct CodeDeleter {
    void operator()(pcre2_code* code) const { pcre2_code_free(code); }
};

}  // namespace

std::string expand_unicode_classes(const std::string& p, UnicodeTables tables) {
    std::string out;
    out.reserve(p.size());
    bool in_class = false;
    size_t i = 0;
    while (i < p.size()) {
        const char c = p[i];
        if (c == '\\' && i + 1 < p.size()) {
            const char d = p[i + 1];
            if (d == 'p' || d == 'P') {
                size_t after = i + 3;
                std::string_view name;
                if (i + 2 < p.size() && p[i + 2] == '{') {
                    const size_t close = p.find('}', i + 3);
                    if (close == std::string::npos) break;  // malformed: PCRE2 reports it below
                    name = std::string_view(p).substr(i + 3, close - i - 3);
                    after = close + 1;
                } else if (i + 2 < p.size()) {
                    name = std::string_view(p).substr(i + 2, 1);
                }
                const std::string* body = category_body(name, tables);
                if (body != nullptr && !(in_class && d == 'P')) {
                    if (in_class) out += *body;
                    else out += (d == 'P' ? "[^" : "[") + *body + "]";
                } else {  // a category we leave to PCRE2's own tables
                    out.append(p, i, std::min(after, p.size()) - i);
                }
                i = after;
                continue;
            }
            if (d == 's' || (d == 'S' && !in_class)) {
                if (in_class) out += whitespace_body();
                else out += (d == 'S' ? "[^" : "[") + whitespace_body() + "]";
                i += 2;
                continue;
            }
            if (d == 'Q') {  // literal text up to \E
                const size_t end = p.find("\\E", i + 2);
                const size_t stop = end == std::string::npos ? p.size() : end + 2;
                out.append(p, i, stop - i);
                i = stop;
                continue;
            }
            out += c;
            out += d;
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = true;
            out += c;
            ++i;
            if (i < p.size() && p[i] == '^') out += p[i++];
            if (i < p.size() && p[i] == ']') out += p[i++];  // a literal ']' first in the class
            continue;
        }
        if (in_class && c == '[' && i + 1 < p.size() && p[i + 1] == ':') {  // [:alpha:]
            const size_t end = p.find(":]", i + 2);
            const size_t stop = end == std::string::npos ? p.size() : end + 2;
            out.append(p, i, stop - i);
            i = stop;
            continue;
        }
        if (in_class && c == ']') in_class = false;
        out += c;
        ++i;
    }
    return out;
}

struct PreTokenizer::Impl {
    std::vector<std::unique_ptr<pcre2_code, CodeDeleter>> codes;
    std::vector<std::string> patterns;
    RegexDialect dialect = RegexDialect::LlamaCpp;
};

PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;
PreTokenizer::~PreTokenizer() = default;

size_t PreTokenizer::n_regexes() const { return m_impl->codes.size(); }
const std::string& PreTokenizer::compiled_pattern(size_t index) const { return m_impl->patterns.at(index); }

Result<PreTokenizer> PreTokenizer::create(const std::vector<std::string>& regexes, RegexDialect dialect) {
    PreTokenizer pre;
    pre.m_impl = std::make_unique<Impl>();
    pre.m_impl->dialect = dialect;
    for (size_t i = 0; i < regexes.size(); ++i) {
        // llama.cpp's categories are those of Unicode 15.1 (unicode_data.h).
        const UnicodeTables tables = dialect == RegexDialect::LlamaCpp ? UnicodeTables::V15_1 : UnicodeTables::Current;
        std::string pattern = expand_unicode_classes(regexes[i], tables);
        int error_code = 0;
        PCRE2_SIZE error_offset = 0;
        // DOLLAR_ENDONLY: '$' is the end of the piece only, as in std::regex (llama.cpp).
        pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                         PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code, &error_offset,
                                         nullptr);
        if (code == nullptr) {
            PCRE2_UCHAR message[256] = {};
            pcre2_get_error_message(error_code, message, sizeof(message));
            return Status::error("pre-tokenizer regex " + std::to_string(i) + " '" + regexes[i].substr(0, 200) +
                                 "': " + reinterpret_cast<const char*>(message));
        }
        pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // optional: without JIT pcre2_match interprets
        pre.m_impl->codes.emplace_back(code);
        pre.m_impl->patterns.push_back(std::move(pattern));
    }
    return pre;
}

namespace {

// Splits the piece [piece.begin, piece.end) of `text` by one regex: matches and the gaps between them.
void split_piece(const pcre2_code* code, std::string_view text, Piece piece, std::vector<Piece>& out,
                 ThreadMatchState& state) {
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
    const size_t length = piece.end - piece.begin;
    size_t last_end = 0;  // relative to the piece
    size_t search = 0;
    while (search < length) {
        int rc = pcre2_match(code, subject, length, search, PCRE2_NO_UTF_CHECK, state.data, state.context);
        if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {  // JIT stack or match limit: retry interpreted, else give up
            rc = pcre2_match(code, subject, length, search, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, state.data,
                             state.context);
        }
        if (rc < 0) break;
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
        const size_t match_begin = ov[0];
        const size_t match_end = ov[1];
        if (match_end <= match_begin) {  // empty match: no piece; move on by one character
            search = match_begin + utf8_lead_length(static_cast<uint8_t>(text[piece.begin + match_begin]));
            continue;
        }
        if (match_begin > last_end) out.push_back({piece.begin + last_end, piece.begin + match_begin});
        out.push_back({piece.begin + match_begin, piece.begin + match_end});
        last_end = match_end;
        search = match_end;
    }
    if (last_end < length) out.push_back({piece.begin + last_end, piece.end});
}

bool has_non_ascii_whitespace(std::string_view text) {
    uint32_t cp = 0;
    for (size_t pos = 0; pos < text.size();) {
        if (static_cast<uint8_t>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        const size_t n = utf8_decode(text, pos, cp);
        if (n > 0 && unicode_is_whitespace(cp)) return true;
        pos += n > 0 ? n : 1;
    }
    return false;
}

// llama.cpp matches a copy of the text in which every non-ASCII white-space character is U+000B. Builds
// that copy and, for each of its byte offsets, the offset in `text`.
void substitute_whitespace(std::string_view text, std::string& copy, std::vector<size_t>& original_offset) {
    copy.clear();
    original_offset.clear();
    uint32_t cp = 0;
    for (size_t pos = 0; pos < text.size();) {
        size_t n = utf8_decode(text, pos, cp);
        if (n == 0) n = 1;
        if (cp >= 0x80 && unicode_is_whitespace(cp)) {
            copy += '\v';
            original_offset.push_back(pos);
        } else {
            for (size_t k = 0; k < n; ++k) {
                copy += text[pos + k];
                original_offset.push_back(pos + k);
            }
        }
        pos += n;
    }
    original_offset.push_back(text.size());
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<Piece>& pieces) const {
    pieces.clear();
    if (text.empty()) return;
    std::string copy;
    std::vector<size_t> original_offset;
    std::string_view subject = text;
    const bool substituted = m_impl->dialect == RegexDialect::LlamaCpp && has_non_ascii_whitespace(text);
    if (substituted) {
        substitute_whitespace(text, copy, original_offset);
        subject = copy;
    }
    ThreadMatchState& state = thread_state();
    std::vector<Piece> current{{0, subject.size()}};
    std::vector<Piece> next;
    for (const auto& code : m_impl->codes) {
        next.clear();
        next.reserve(current.size() * 2);
        for (const Piece& piece : current) split_piece(code.get(), subject, piece, next, state);
        current.swap(next);
    }
    if (substituted) {
        for (Piece& piece : current) piece = {original_offset[piece.begin], original_offset[piece.end]};
    }
    pieces = std::move(current);
}

}  // namespace moe
