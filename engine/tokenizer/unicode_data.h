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

struct UnicodeChange {
    uint32_t first;  // inclusive range whose class in Unicode 15.1 was `cls`
    uint32_t last;
    uint8_t cls;
};
extern const UnicodeChange k_unicode_15_1_changes[];
extern const size_t k_unicode_15_1_change_count;

// Which tables answer: the current Unicode version (k_unicode_version; HF dialect), or Unicode 15.1, the
// version of llama.cpp's unicode-data.cpp, where code points assigned later are "other" (matched by no \p{X}).
enum class UnicodeTables { Current, V15_1 };

struct CodepointRange {
    uint32_t first = 0;
    uint32_t last = 0;  // inclusive
};

UnicodeClass unicode_class(uint32_t cp, UnicodeTables tables = UnicodeTables::Current);
// The Unicode White_Space property (what HF tokenizers' regex engine and llama.cpp take for \s).
bool unicode_is_whitespace(uint32_t cp);
// All code points of one class as sorted, disjoint ranges.
const std::vector<CodepointRange>& unicode_class_ranges(UnicodeClass cls,
                                                        UnicodeTables tables = UnicodeTables::Current);
const std::vector<CodepointRange>& unicode_whitespace_ranges();


}  // namespace moe
