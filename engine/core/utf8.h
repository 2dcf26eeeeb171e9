// UTF-8 decoding and encoding shared by every text reader (tokenizer, JSON, templates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace moe {

constexpr uint32_t k_replacement_char = 0xFFFD;

// Decodes one UTF-8 sequence at text[pos]. Returns its length (1..4) and sets `cp`; returns 0 when the bytes
// there are not a valid, shortest-form, non-surrogate sequence (cp is then left as the lone byte value).
size_t utf8_decode(std::string_view text, size_t pos, uint32_t& cp);
void utf8_append(std::string& out, uint32_t cp);
// Length a UTF-8 sequence announces from its lead byte (1 for continuation and invalid lead bytes).
size_t utf8_lead_length(uint8_t lead);
// `text` with every byte that is not part of a valid sequence replaced by U+FFFD (as llama.cpp does).
std::string utf8_sanitize(std::string_view text);
// `text` with every such byte written as "<0xE2>" (llama.cpp's notation for byte tokens): how a token piece that
// ends inside a character (byte-level BPE splits CJK text and emoji) is shown on its own.
std::string utf8_escape_invalid(std::string_view text);
bool utf8_is_valid(std::string_view text);
// Byte offset of the first byte that breaks UTF-8 (overlong forms, surrogates, code points past U+10FFFF
// and truncated sequences included), or nullopt when `text` is valid UTF-8.
std::optional<size_t> utf8_error_offset(std::string_view text);

}  // namespace moe
