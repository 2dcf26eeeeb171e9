#include "tokenizer/unicode_data.h"

#include <algorithm>
#include <array>

namespace moe {

UnicodeClass unicode_class(uint32_t cp) {
    if (cp > 0x10FFFF) return UnicodeClass::Other;
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

const std::vector<CodepointRange>& unicode_class_ranges(UnicodeClass cls) {
    static const std::array<std::vector<CodepointRange>, 7> all = [] {
        std::array<std::vector<CodepointRange>, 7> out;
        for (size_t i = 0; i < k_unicode_run_count; ++i) {
            const uint32_t last = i + 1 < k_unicode_run_count ? k_unicode_runs[i + 1].first - 1 : 0x10FFFF;
            out[k_unicode_runs[i].cls].push_back({k_unicode_runs[i].first, last});
        }
        return out;
    }();
    return all[static_cast<size_t>(cls)];
}

size_t utf8_lead_length(uint8_t lead) {
    if (lead < 0xC2) return 1;  // ASCII, continuation bytes and the overlong leads C0/C1
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    if (lead < 0xF5) return 4;
    return 1;
}

size_t utf8_decode(std::string_view text, size_t pos, uint32_t& cp) {
    const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
    const uint8_t lead = byte(0);
    cp = lead;
    if (lead < 0x80) return 1;
    const size_t n = utf8_lead_length(lead);
    if (n == 1 || pos + n > text.size()) return 0;
    uint32_t value = lead & (0x7F >> n);
    for (size_t i = 1; i < n; ++i) {
        if ((byte(i) & 0xC0) != 0x80) return 0;
        value = (value << 6) | (byte(i) & 0x3F);
    }
    static const uint32_t min_value[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (value < min_value[n] || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF)) return 0;
    cp = value;
    return n;
}

void utf8_append(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

bool utf8_is_valid(std::string_view text) {
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < text.size()) {
        const size_t n = utf8_decode(text, pos, cp);
        if (n == 0) return false;
        pos += n;
    }
    return true;
}

std::string utf8_sanitize(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < text.size()) {
        const size_t n = utf8_decode(text, pos, cp);
        if (n == 0) {
            utf8_append(out, k_replacement_char);
            pos += 1;
        } else {
            out.append(text.substr(pos, n));
            pos += n;
        }
    }
    return out;
}

}  // namespace moe
