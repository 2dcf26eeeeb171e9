#include "tokenizer/unicode_data.h"

#include <algorithm>
#include <array>

namespace moe {

UnicodeClass unicode_class(uint32_t cp, UnicodeTables tables) {
    if (cp > 0x10FFFF) return UnicodeClass::Other;
    if (tables == UnicodeTables::V15_1) {
        // The last change range starting at or before cp, if it covers cp.
        const UnicodeChange* begin = k_unicode_15_1_changes;
        const UnicodeChange* end = k_unicode_15_1_changes + k_unicode_15_1_change_count;
        const UnicodeChange* it = std::upper_bound(
            begin, end, cp, [](uint32_t value, const UnicodeChange& change) { return value < change.first; });
        if (it != begin && cp <= (it - 1)->last) return static_cast<UnicodeClass>((it - 1)->cls);
    }
    // The last run starting at or before cp.
    const UnicodeRun* begin = k_unicode_runs;
    const UnicodeRun* end = k_unicode_runs + k_unicode_run_count;
    const UnicodeRun* it =
        std::upper_bound(begin, end, cp, [](uint32_t value, const UnicodeRun& run) { return value < run.first; });
    return it == begin ? UnicodeClass::Other : static_cast<UnicodeClass>((it - 1)->cls);
}

const std::vector<CodepointRange>& unicode_whitespace_ranges() {
    static const std::vector<CodepointRange> ranges = {
        {0x09, 0x0D}, {0x20, 0x20}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680}, {0x2000, 0x200A},
        {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
    };
    return ranges;
}

bool unicode_is_whitespace(uint32_t cp) {
    if (cp < 0x80) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    for (const CodepointRange& r : unicode_whitespace_ranges()) {
        if (cp >= r.first && cp <= r.last) return true;
    }
    return false;
}

const std::vector<CodepointRange>& unicode_class_ranges(UnicodeClass cls, UnicodeTables tables) {
    using ClassRanges = std::array<std::vector<CodepointRange>, 7>;
    static const ClassRanges current = [] {
        ClassRanges out;
        for (size_t i = 0; i < k_unicode_run_count; ++i) {
            const uint32_t last = i + 1 < k_unicode_run_count ? k_unicode_runs[i + 1].first - 1 : 0x10FFFF;
            out[k_unicode_runs[i].cls].push_back({k_unicode_runs[i].first, last});
        }
        return out;
    }();
    // Built once per process by walking all code points (a few milliseconds).
    static const ClassRanges v15_1 = [] {
        ClassRanges out;
        uint32_t first = 0;
        UnicodeClass run = unicode_class(0, UnicodeTables::V15_1);
        for (uint32_t cp = 1; cp <= 0x110000; ++cp) {
            const UnicodeClass c = cp <= 0x10FFFF ? unicode_class(cp, UnicodeTables::V15_1) : UnicodeClass::Other;
            if (cp <= 0x10FFFF && c == run) continue;
            out[static_cast<size_t>(run)].push_back({first, cp - 1});
            first = cp;
            run = c;
        }
        return out;
    }();
    return (tables == UnicodeTables::V15_1 ? v15_1 : current)[static_cast<size_t>(cls)];
}


}  // namespace moe
