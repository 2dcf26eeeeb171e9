// Text <-> token ids for byte-level BPE vocabs (DeepSeek LLM/MoE/V2, Coder, V3/R1).
//
// encode(): special and added tokens are cut out of the raw text first (leftmost, longest at a position):
// user-defined tokens always, control/unknown tokens only with parse_special. Each remaining fragment is
// pre-tokenized (regex splits) and each piece BPE-encoded. Invalid UTF-8 bytes are read as U+FFFD.
#pragma once

#include "core/status.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/vocab.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moe {

class Tokenizer {
public:
    // Validates the vocab, compiles the pre-tokenizer and builds the merge table.
    static Result<Tokenizer> create(VocabData vocab);

    int32_t n_vocab() const { return static_cast<int32_t>(m_vocab.tokens.size()); }
    int32_t bos_id() const { return m_vocab.bos_id; }  // -1: none
    int32_t eos_id() const { return m_vocab.eos_id; }
    int32_t pad_id() const { return m_vocab.pad_id; }
    bool add_bos() const { return m_vocab.add_bos; }
    const std::string& pre_name() const { return m_vocab.pre; }
    const std::string& kind() const { return m_vocab.model; }  // "gpt2" (byte-level BPE)
    const std::string& chat_template() const { return m_vocab.chat_template; }
    const VocabData& vocab() const { return m_vocab; }
    TokenType token_type(int32_t id) const;
    bool is_special(int32_t id) const;  // control or unknown
    // End of generation: EOS, or a control token spelled like an end-of-turn token (<|EOT|>, <|im_end|>,
    // <|eot_id|>, <｜end▁of▁sentence｜>, ...), as llama.cpp's llama_vocab_is_eog.
    bool is_eog(int32_t id) const;

    // The id of the token spelled exactly `text` (special and added tokens by their text, normal tokens by
    // their byte-level spelling); -1 when there is none.
    int32_t token_to_id(std::string_view text) const;

    // Token ids of `text`. add_bos: prepend BOS when the vocab asks for it (add_bos_token) and the result does
    // not already start with BOS. parse_special: also match control tokens such as <｜end▁of▁sentence｜>.
    std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special) const;

    // The bytes of one token: byte-level tokens decoded to raw bytes, added tokens as their text, control
    // tokens as their text only when render_special (else ""). Unused and out-of-range ids give "".
    std::string token_to_piece(int32_t id, bool render_special = true) const;
    // Concatenated pieces (may end inside a UTF-8 character if the ids do).
    std::string decode(const std::vector<int32_t>& ids, bool render_special = true) const;

private:
    struct SpecialToken {  // its text is m_vocab.tokens[id] (no copy: fixture vocabularies have ~100k of them)
        int32_t id = -1;
        bool always = false;  // user-defined: matched even without parse_special
    };
    const std::string& text_of(const SpecialToken& s) const { return m_vocab.tokens[static_cast<size_t>(s.id)]; }
    Tokenizer(VocabData vocab, PreTokenizer pre);
    void index_special_tokens();
    // Length and index of the special token at `pos`, or {0, -1}.
    std::pair<size_t, int32_t> match_special(std::string_view text, size_t pos, bool parse_special) const;
    // Ids of pieces already encoded during one encode() call: piece text -> [begin, end) in `ids`. Keys view
    // the caller's text, so the cache lives no longer than the call.
    struct PieceCache {
        std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> ranges;
        std::vector<int32_t> ids;
    };
    void encode_fragment(std::string_view fragment, std::vector<int32_t>& out, PieceCache& cache) const;

    VocabData m_vocab;
    PreTokenizer m_pre;
    std::unique_ptr<BpeModel> m_bpe;
    std::vector<SpecialToken> m_special;             // longest first
    std::array<std::vector<int32_t>, 256> m_special_by_byte;  // first byte -> indexes into m_special
    // Views m_vocab.tokens: never changed once built, and a move keeps the strings where they are.
    std::unordered_map<std::string_view, int32_t> m_text_to_id;
    std::vector<int32_t> m_eog;  // sorted ids
};

// Turns a stream of token ids into text without splitting UTF-8 characters: bytes that end inside a
// character are held back until the character is complete. Output is always valid UTF-8; bytes that cannot
// become a character are given out as U+FFFD.
class StreamDecoder {
public:
    explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = true)
        : m_tokenizer(&tokenizer), m_render_special(render_special) {}

    // The text that became complete with this token (possibly "").
    std::string push(int32_t id);
    // Everything still held back (an incomplete character becomes U+FFFD); resets the decoder.
    std::string flush();

private:
    const Tokenizer* m_tokenizer;
    bool m_render_special;
    std::string m_pending;
};

}  // namespace moe
