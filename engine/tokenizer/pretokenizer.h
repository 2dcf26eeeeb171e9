// Pre-tokenizer: a list of regexes applied as HF Split(behavior=Isolated) steps. Each regex splits every
// current piece into its matches and the gaps between them, in order; a regex only ever sees one piece (its
// lookaheads and $ stop at the piece's end). Spec section 5.2.
//
// Regexes run on PCRE2 (UTF). \p{L} \p{M} \p{N} \p{P} \p{S} \p{Z} and \s are replaced by explicit classes
// from our own Unicode tables (unicode_data.h), so the categories are those of Unicode 17 (HF dialect) or of
// Unicode 15.1 (llama.cpp's tables, LlamaCpp dialect) whatever PCRE2's version is, and \s is the White_Space
// property (as in HF tokenizers and llama.cpp).
#pragma once

#include "core/status.h"
#include "tokenizer/unicode_data.h"
#include "tokenizer/vocab.h"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

struct Piece {
    size_t begin = 0;  // byte offsets into the text
    size_t end = 0;
};

class PreTokenizer {
public:
    // Compiles the regexes (JIT when available). Fails naming the regex and PCRE2's message.
    static Result<PreTokenizer> create(const std::vector<std::string>& regexes, RegexDialect dialect);

    PreTokenizer(PreTokenizer&&) noexcept;
    PreTokenizer& operator=(PreTokenizer&&) noexcept;
    ~PreTokenizer();

    // Splits valid UTF-8 `text` into pieces covering it in order (none empty). Thread-safe.
    void split(std::string_view text, std::vector<Piece>& pieces) const;

    // The pattern handed to PCRE2 for regex `index` (after class expansion), for tests and diagnostics.
    const std::string& compiled_pattern(size_t index) const;
    size_t n_regexes() const;

private:
    struct Impl;
    PreTokenizer() = default;
    std::unique_ptr<Impl> m_impl;
};

// Rewrites \p{X} (X one of L M N P S Z) and \s \S into explicit classes (exposed for tests). `tables`: whose
// Unicode version gives the categories (Unicode 15.1 for the LlamaCpp dialect).
std::string expand_unicode_classes(const std::string& pattern, UnicodeTables tables = UnicodeTables::Current);

}  // namespace moe
