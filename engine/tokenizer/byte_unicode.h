// GPT-2 byte-level BPE alphabet: every byte value is shown as one printable code point so that BPE merges
// can be written as text. Bytes ! .. ~, ¡ .. ¬ and ® .. ÿ stand for themselves; the other 68 bytes map to
// U+0100 upwards in byte order (space 0x20 -> U+0120 'Ġ', newline 0x0A -> U+010A 'Ċ').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace moe {

// The code point standing for `byte`.
uint32_t byte_to_symbol(uint8_t byte);
// The UTF-8 text of that code point (1 or 2 bytes).
const std::string& byte_to_symbol_utf8(uint8_t byte);
// The byte a code point stands for, or -1 when it is not one of the 256 symbols.
int symbol_to_byte(uint32_t cp);
// Appends the byte-level spelling of raw `bytes` to `out`.
void bytes_to_symbols(std::string_view bytes, std::string& out);
// Decodes a byte-level token text back to raw bytes. Code points that are not symbols are copied as their
// own UTF-8 (HF's ByteLevel decoder does the same). Returns false when that happened.
bool symbols_to_bytes(std::string_view symbols, std::string& out);

}  // namespace moe
