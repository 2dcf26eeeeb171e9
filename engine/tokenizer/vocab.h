// Tokenizer vocabulary as loaded from a GGUF file (tokenizer.ggml.*) or a HF tokenizer.json: the tokens,
// their types, the BPE merges, the special ids and which pre-tokenizer splits the text.
// Layout: shared/spec/deepseek.md sections 5.1-5.2 and 6.2.
#pragma once

#include "core/status.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moe {

class GgufFile;

// GGUF numbering (tokenizer.ggml.token_type).
enum class TokenType : int32_t {
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
};

// Whose regex engine the pre-tokenizer imitates where the two differ:
//  - LlamaCpp: non-ASCII white space is seen as U+000B by every regex (llama.cpp rewrites the text so that
//    std::regex's \s matches it), so it never matches a literal class such as [ࠀ-一]. GGUF vocabs use this.
//  - HuggingFace: the text is matched as it is. tokenizer.json vocabs use this.
enum class RegexDialect { LlamaCpp, HuggingFace };

struct VocabData {
    std::string source;          // the file, for messages
    std::string model = "gpt2";  // tokenizer.ggml.model; only "gpt2" (byte-level BPE) is supported
    // Pre-tokenizer name: "deepseek-llm", "deepseek-coder", "deepseek-v3", "gpt2", "default", or "custom"
    // (then `pre_regexes` holds the Split regexes, applied in order).
    std::string pre = "default";
    std::vector<std::string> pre_regexes;  // only for pre == "custom"
    bool add_prefix_space = false;         // HF ByteLevel(add_prefix_space) before the regexes
    RegexDialect dialect = RegexDialect::LlamaCpp;

    std::vector<std::string> tokens;      // id -> text (byte-level spelling for normal tokens)
    std::vector<TokenType> token_types;   // same length as tokens
    std::vector<std::pair<std::string, std::string>> merges;  // rank = index
    bool ignore_merges = false;           // HF BPE: a piece that is a whole token is taken as it is

    int32_t bos_id = -1;  // -1: none
    int32_t eos_id = -1;
    int32_t pad_id = -1;
    int32_t unk_id = -1;
    bool add_bos = false;
    bool add_eos = false;
    std::string chat_template;  // empty when the file has none

    size_t n_tokens() const { return tokens.size(); }
};

// Checks the invariants the tokenizer relies on: tokens present, token_types as long as tokens, special ids
// in range, a known model and pre-tokenizer. Messages name `source`.
Status validate_vocab(const VocabData& vocab);

// The Split regexes of a named pre-tokenizer (as llama.cpp lists them). Fails for an unknown name.
Result<std::vector<std::string>> pretokenizer_regexes(const std::string& pre);

// tokenizer.ggml.* of a GGUF file.
Result<VocabData> vocab_from_gguf(const GgufFile& file);

// A HF tokenizer.json (BPE model with a byte-level pre-tokenizer). `tokenizer_config_path` may be empty;
// when given, bos/eos tokens, add_bos_token/add_eos_token and chat_template are read from it.
Result<VocabData> vocab_from_hf(const std::string& tokenizer_json_path, const std::string& tokenizer_config_path);
// The same from texts in memory (tests, fuzzing); `name` is used in messages. `config_json` may be empty.
Result<VocabData> vocab_from_hf_text(const std::string& tokenizer_json, const std::string& config_json,
                                     const std::string& name);

const char* token_type_name(TokenType type);

}  // namespace moe
