// Unicode character data the pre-tokenizers need: the general-category class of a code point (L, M, N, P, S,
// Z or other) and the White_Space property, plus UTF-8 helpers. The class table is generated
// (tests/tools/gen_unicode_data.mjs) so the categories do not depend on the Unicode version of the installed PCRE2.
#pragma once

#include "core/utf8.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moe {

enum class UnicodeClass : uint8_t { Other = 0, Letter, Mark, Number, Punctuation, Symbol, Separator };

struct UnicodeRun {
    uint32_t first;  // first code point of the run
    uint8_t cls;     // a UnicodeClass value
};
extern const UnicodeRun k_unicode_runs[];
extern const size_t k_unicode_run_count;
extern const char* const k_unicode_version;

struct CodepointRange {
    uint32_t first = 0;
    uint32_t last = 0;  // inclusive
};

UnicodeClass unicode_class(uint32_t cp);
// The Unicode White_Space property (what HF tokenizers' regex engine and llama.cpp take for \s).
bool unicode_is_whitespace(uint32_t cp);
// All code points of one class as sorted, disjoint ranges.
const std::vector<CodepointRange>& unicode_class_ranges(UnicodeClass cls);
const std::vector<CodepointRange>& unicode_whitespace_ranges();


}  // namespace moe
