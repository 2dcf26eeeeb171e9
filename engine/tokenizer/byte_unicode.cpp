#include "tokenizer/byte_unicode.h"

#include "tokenizer/unicode_data.h"

#include <array>

namespace moe {
namespace {

struct ByteTables {
    std::array<uint32_t, 256> to_symbol{};
    std::array<std::string, 256> to_symbol_utf8;
    std::array<int16_t, 324> from_symbol{};  // all symbols are below U+0144

    ByteTables() {
        from_symbol.fill(-1);
        uint32_t next_extra = 256;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            to_symbol[b] = printable ? static_cast<uint32_t>(b) : next_extra++;
            utf8_append(to_symbol_utf8[b], to_symbol[b]);
            from_symbol[to_symbol[b]] = static_cast<int16_t>(b);
        }
    }
};

const ByteTables& tables() {
    static const ByteTables t;
    return t;
}

}  // namespace

uint32_t byte_to_symbol(uint8_t byte) { return tables().to_symbol[byte]; }

const std::string& byte_to_symbol_utf8(uint8_t byte) { return tables().to_symbol_utf8[byte]; }

int symbol_to_byte(uint32_t cp) { return cp < tables().from_symbol.size() ? tables().from_symbol[cp] : -1; }

void bytes_to_symbols(std::string_view bytes, std::string& out) {
    const ByteTables& t = tables();
    for (char c : bytes) out += t.to_symbol_utf8[static_cast<uint8_t>(c)];
}

bool symbols_to_bytes(std::string_view symbols, std::string& out) {
    bool all_symbols = true;
    size_t pos = 0;
    uint32_t cp = 0;
    while (pos < symbols.size()) {
        const size_t n = utf8_decode(symbols, pos, cp);
        if (n == 0) {  // not UTF-8: keep the byte as it is
            out += symbols[pos++];
            all_symbols = false;
            continue;
        }
        const int byte = symbol_to_byte(cp);
        if (byte >= 0) {
            out += static_cast<char>(byte);
        } else {
            out.append(symbols.substr(pos, n));
            all_symbols = false;
        }
        pos += n;
    }
    return all_symbols;
}

}  // namespace moe
