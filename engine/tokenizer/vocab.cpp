#include "tokenizer/vocab.h"

#include <string>

namespace moe {

const char* token_type_name(TokenType type) {
    switch (type) {
        case TokenType::Undefined: return "undefined";
        case TokenType::Normal: return "normal";
        case TokenType::Unknown: return "unknown";
        case TokenType::Control: return "control";
        case TokenType::UserDefined: return "user-defined";
        case TokenType::Unused: return "unused";
        case TokenType::Byte: return "byte";
    }
    return "?";
}

// The Split lists of llama.cpp's llm_tokenizer_bpe (spec section 5.2). Each regex splits every current piece
// into its matches and the gaps between them.
Result<std::vector<std::string>> pretokenizer_regexes(const std::string& pre) {
    if (pre == "deepseek-llm") {
        // Item 2 holds characters that Unicode NFC would rewrite (U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126,
        // U+212A): keep this file un-normalized. test_tokenizer checks them.
        return std::vector<std::string>{
            "[\r\n]",
            R"re(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)re",
            R"re(\s?[!-/:-~！-／：-～‘-‟　-。]+)re",
            R"re(\s+$)re",
            R"re([一-龥ࠀ-一가-퟿]+)re",
            R"re(\p{N}+)re",
        };
    }
    if (pre == "deepseek-coder") {
        return std::vector<std::string>{"[\r\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", R"re([一-龥ࠀ-一가-퟿]+)re",
                                        R"re(\p{N})re"};
    }
    if (pre == "deepseek-v3" || pre == "deepseek3-llm") {
        return std::vector<std::string>{
            R"re(\p{N}{1,3})re",
            R"re([一-龥぀-ゟ゠-ヿ]+)re",
            R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|)re"
            R"re( ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re",
        };
    }
    if (pre == "gpt2" || pre == "gpt-2") {
        return std::vector<std::string>{
            R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re"};
    }
    if (pre == "default") {  // llama.cpp's fallback list for BPE vocabs without a known pre-tokenizer
        return std::vector<std::string>{
            R"re([\p{P}\$\+<=>\^~\|]+)re",
            R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re",
            R"re(\p{N}+)re",
            R"re([0-9][0-9][0-9])re",
        };
    }
    return Status::error("unknown pre-tokenizer '" + pre +
                         "' (known: deepseek-llm, deepseek-coder, deepseek-v3, gpt2, default)");
}

Status validate_vocab(const VocabData& vocab) {
    const std::string& src = vocab.source;
    if (vocab.model != "gpt2") {
        return Status::error(src + ": tokenizer model '" + vocab.model + "' is not supported (expected 'gpt2', byte-level BPE)");
    }
    if (vocab.tokens.empty()) return Status::error(src + ": the vocabulary has no tokens");
    if (vocab.tokens.size() > (size_t{1} << 24)) {
        return Status::error(src + ": " + std::to_string(vocab.tokens.size()) + " tokens (at most 16777216 supported)");
    }
    if (vocab.token_types.size() != vocab.tokens.size()) {
        return Status::error(src + ": " + std::to_string(vocab.token_types.size()) + " token types for " +
                             std::to_string(vocab.tokens.size()) + " tokens");
    }
    const std::pair<const char*, int32_t> ids[] = {
        {"bos", vocab.bos_id}, {"eos", vocab.eos_id}, {"pad", vocab.pad_id}, {"unk", vocab.unk_id}};
    for (const auto& [name, id] : ids) {
        if (id < -1 || id >= static_cast<int64_t>(vocab.tokens.size())) {
            return Status::error(src + ": " + name + " token id " + std::to_string(id) + " is out of range [0, " +
                                 std::to_string(vocab.tokens.size()) + ")");
        }
    }
    if (vocab.pre == "custom") {
        if (vocab.pre_regexes.empty()) return Status::error(src + ": custom pre-tokenizer without regexes");
    } else {
        auto regexes = pretokenizer_regexes(vocab.pre);
        if (!regexes.ok()) return regexes.status().with_context(src);
    }
    return Status();
}

}  // namespace moe
