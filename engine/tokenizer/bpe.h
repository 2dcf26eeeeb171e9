// Byte-level BPE: a piece's bytes become GPT-2 byte symbols, then the adjacent pair with the lowest merge rank
// is merged until no ranked pair is left (ties: leftmost first), as HF tokenizers and llama.cpp do.
// Merges work on strings, like llama.cpp: a merge whose parts or result are not tokens still applies, and a
// final symbol that is not a token falls back to one token per byte.
#pragma once

#include "tokenizer/vocab.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe {

class BpeModel {
public:
    explicit BpeModel(const VocabData& vocab);

    // Appends the token ids of one pre-tokenized piece (raw bytes). Thread-safe.
    void encode_piece(std::string_view bytes, std::vector<int32_t>& out) const;

    size_t n_merges() const { return m_merges.size(); }

private:
    struct Merge {
        uint32_t rank = 0;
        int32_t result = -1;  // symbol id
    };
    struct Symbol {
        int32_t id = -1;  // symbol id
        int32_t prev = -1;
        int32_t next = -1;
        uint32_t begin = 0;  // byte range of the piece it covers
        uint32_t end = 0;
    };

    int32_t symbol_id(const std::string& text);  // adds a symbol that is not a token
    const Merge* find_merge(int32_t left, int32_t right) const;
    void emit_symbol(const Symbol& symbol, std::string_view bytes, std::vector<int32_t>& out) const;
    void merge_all(std::vector<Symbol>& symbols) const;

    std::unordered_map<std::string, int32_t> m_symbol_ids;  // text -> symbol id (token ids, then extras)
    std::vector<int32_t> m_symbol_token;                    // symbol id -> token id, or -1
    std::array<int32_t, 256> m_byte_symbol{};               // byte -> symbol id of its GPT-2 symbol
    std::unordered_map<uint64_t, Merge> m_merges;           // (left << 32 | right) -> merge
    int32_t m_unk_id = -1;
    bool m_ignore_merges = false;
};

}  // namespace moe
