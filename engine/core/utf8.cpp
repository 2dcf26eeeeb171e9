#include "core/utf8.h"

namespace moe {

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
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = k_replacement_char;  // no UTF-8 form
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

namespace {
// `text` with each byte that is not part of a valid sequence replaced by what bad(out, byte) appends.
template <typename Bad>
std::string rewrite_invalid(std::string_view text, const Bad& bad) {
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < text.size()) {
        const size_t n = utf8_decode(text, pos, cp);
        if (n == 0) {
            bad(out, static_cast<uint8_t>(text[pos]));
            pos += 1;
        } else {
            out.append(text.substr(pos, n));
            pos += n;
        }
    }
    return out;
}
}  // namespace

std::string utf8_sanitize(std::string_view text) {
    return rewrite_invalid(text, [](std::string& out, uint8_t) { utf8_append(out, k_replacement_char); });
}

std::string utf8_escape_invalid(std::string_view text) {
    return rewrite_invalid(text, [](std::string& out, uint8_t b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        out += "<0x";
        out += kHex[b >> 4];
        out += kHex[b & 15];
        out += '>';
    });
}

std::optional<size_t> utf8_error_offset(std::string_view text) {
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < text.size()) {
        const size_t n = utf8_decode(text, pos, cp);
        if (n == 0) return pos;
        pos += n;
    }
    return std::nullopt;
}

}  // namespace moe
