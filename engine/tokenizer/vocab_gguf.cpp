// tokenizer.ggml.* keys of a GGUF file -> VocabData (spec section 6.2).
#include "formats/gguf.h"
#include "tokenizer/vocab.h"

#include <string>
#include <string_view>
#include <unordered_map>

namespace moe {
namespace {

// An optional u32 special id: -1 when the key is absent.
Result<int32_t> read_special_id(const GgufFile& file, const char* key, size_t n_tokens) {
    if (!file.has(key)) return int32_t{-1};
    auto value = file.get_uint(key);
    if (!value.ok()) return value.status();
    if (*value >= n_tokens) {
        return Status::error(file.path() + ": key '" + key + "': token id " + std::to_string(*value) +
                             " is out of range [0, " + std::to_string(n_tokens) + ")");
    }
    return static_cast<int32_t>(*value);
}

Status read_token_types(const GgufFile& file, VocabData& vocab) {
    const char* key = "tokenizer.ggml.token_type";
    vocab.token_types.assign(vocab.tokens.size(), TokenType::Normal);
    if (!file.has(key)) return Status();
    auto types = file.get_int_array(key);
    if (!types.ok()) return types.status();
    if (types->size() != vocab.tokens.size()) {
        return Status::error(file.path() + ": key '" + key + "': " + std::to_string(types->size()) +
                             " entries, expected one per token (" + std::to_string(vocab.tokens.size()) + ")");
    }
    for (size_t i = 0; i < types->size(); ++i) {
        const int64_t t = (*types)[i];
        if (t < 0 || t > 6) {
            return Status::error(file.path() + ": key '" + key + "': entry " + std::to_string(i) + " is " +
                                 std::to_string(t) + ", expected 0..6");
        }
        vocab.token_types[i] = static_cast<TokenType>(t);
    }
    return Status();
}

// Merges are "left right". Like llama.cpp, the separator is the first space after the first byte (a left
// part cannot be empty); an entry without one keeps its rank but can never apply.
Status read_merges(const GgufFile& file, VocabData& vocab) {
    const char* key = "tokenizer.ggml.merges";
    if (!file.has(key)) return Status::error(file.path() + ": key '" + key + "': missing (a BPE vocab needs merges)");
    auto merges = file.get_string_array(key);
    if (!merges.ok()) return merges.status();
    vocab.merges.reserve(merges->size());
    for (const std::string& merge : *merges) {
        const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
        if (space == std::string::npos) {
            vocab.merges.emplace_back();
        } else {
            vocab.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
        }
    }
    return Status();
}

// llama.cpp's vocab loader re-types some tokens by their text (llama-vocab.cpp, "auto-detect special tokens
// by text"): end-of-generation and fill-in-the-middle tokens that the file lists as normal or user-defined
// become control tokens, so they are no longer cut out of text unless special tokens are parsed. DeepSeek
// Coder's GGUF has <｜fim▁begin｜> <｜fim▁hole｜> <｜fim▁end｜> as user-defined (type 4) tokens: llama.cpp
// tokenizes "a<｜fim▁hole｜>b" as plain text, and so do we.
struct ControlByText {
    const char* keys[2];    // a category is only detected when none of its keys is in the file
    const char* texts[12];  // nullptr-terminated
};

// The per-category lists (EOT, EOM, FIM pre/suf/mid/pad/rep/sep) and then the end-of-generation list, which
// is applied whatever keys the file has. llama.cpp promotes only the first text it meets per category (in
// hash order); vocabs with two candidates in one category are not DeepSeek's, and we promote all of them.
const ControlByText k_control_by_text[] = {
    {{"tokenizer.ggml.eot_token_id", nullptr},
     {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>",
      "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>", nullptr}},
    {{"tokenizer.ggml.eom_token_id", nullptr}, {"<|eom_id|>", nullptr}},
    {{"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id"},
     {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
      "<|prefix|>", nullptr}},
    {{"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id"},
     {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
      "<|suffix|>", nullptr}},
    {{"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id"},
     {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
      "<|middle|>", nullptr}},
    {{"tokenizer.ggml.fim_pad_token_id", nullptr},
     {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", nullptr}},
    {{"tokenizer.ggml.fim_rep_token_id", nullptr},
     {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", nullptr}},
    {{"tokenizer.ggml.fim_sep_token_id", nullptr}, {"<|file_sep|>", nullptr}},
};
const char* const k_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["};

// A key that names an in-range token id (llama.cpp ignores an out-of-range one and still detects by text).
bool has_valid_id_key(const GgufFile& file, const char* key, size_t n_tokens) {
    if (key == nullptr || !file.has(key)) return false;
    auto value = file.get_uint(key);
    return value.ok() && *value < n_tokens;
}

void promote_control_tokens(const GgufFile& file, VocabData& vocab) {
    std::unordered_map<std::string_view, size_t> index;
    // Equal texts: the last id, as in llama.cpp's token_to_id.
    for (size_t i = 0; i < vocab.tokens.size(); ++i) index[vocab.tokens[i]] = i;
    auto promote = [&](const char* text) {
        auto it = index.find(text);
        if (it == index.end()) return;
        vocab.token_types[it->second] = TokenType::Control;
    };
    for (const ControlByText& category : k_control_by_text) {
        if (has_valid_id_key(file, category.keys[0], vocab.tokens.size()) ||
            has_valid_id_key(file, category.keys[1], vocab.tokens.size())) {
            continue;
        }
        for (const char* const* text = category.texts; *text != nullptr; ++text) promote(*text);
    }
    for (const char* text : k_eog_texts) promote(text);
}

Result<bool> read_optional_bool(const GgufFile& file, const char* key, bool fallback) {
    if (!file.has(key)) return fallback;
    return file.get_bool(key);
}

}  // namespace

Result<VocabData> vocab_from_gguf(const GgufFile& file) {
    VocabData vocab;
    vocab.source = file.path();
    vocab.dialect = RegexDialect::LlamaCpp;
    auto model = file.get_string("tokenizer.ggml.model");
    if (!model.ok()) return model.status();
    vocab.model = *model;
    if (vocab.model != "gpt2") {
        return Status::error(file.path() + ": key 'tokenizer.ggml.model': '" + vocab.model +
                             "' is not supported (expected 'gpt2', byte-level BPE)");
    }
    // llama.cpp uses its 'default' list when the key is missing and refuses names it does not know.
    if (file.has("tokenizer.ggml.pre")) {
        auto pre = file.get_string("tokenizer.ggml.pre");
        if (!pre.ok()) return pre.status();
        vocab.pre = *pre;
        if (!pretokenizer_regexes(vocab.pre).ok()) {
            return Status::error(file.path() + ": key 'tokenizer.ggml.pre': unknown pre-tokenizer '" + vocab.pre +
                                 "' (known: deepseek-llm, deepseek-coder, deepseek-v3, gpt2, default)");
        }
    }
    auto tokens = file.get_string_array("tokenizer.ggml.tokens");
    if (!tokens.ok()) return tokens.status();
    vocab.tokens = std::move(*tokens);
    if (vocab.tokens.empty()) return Status::error(file.path() + ": key 'tokenizer.ggml.tokens': empty");
    MOE_RETURN_IF_ERROR(read_token_types(file, vocab));
    MOE_RETURN_IF_ERROR(read_merges(file, vocab));
    promote_control_tokens(file, vocab);

    const size_t n = vocab.tokens.size();
    const std::pair<const char*, int32_t*> ids[] = {{"tokenizer.ggml.bos_token_id", &vocab.bos_id},
                                                    {"tokenizer.ggml.eos_token_id", &vocab.eos_id},
                                                    {"tokenizer.ggml.padding_token_id", &vocab.pad_id},
                                                    {"tokenizer.ggml.unknown_token_id", &vocab.unk_id}};
    for (const auto& [key, target] : ids) {
        auto id = read_special_id(file, key, n);
        if (!id.ok()) return id.status();
        *target = *id;
    }
    auto add_bos = read_optional_bool(file, "tokenizer.ggml.add_bos_token", false);
    if (!add_bos.ok()) return add_bos.status();
    auto add_eos = read_optional_bool(file, "tokenizer.ggml.add_eos_token", false);
    if (!add_eos.ok()) return add_eos.status();
    vocab.add_bos = *add_bos && vocab.bos_id >= 0;
    vocab.add_eos = *add_eos && vocab.eos_id >= 0;
    if (file.has("tokenizer.chat_template")) {
        auto tmpl = file.get_string("tokenizer.chat_template");
        if (!tmpl.ok()) return tmpl.status();
        vocab.chat_template = std::move(*tmpl);
    }
    MOE_RETURN_IF_ERROR(validate_vocab(vocab));
    return vocab;
}

}  // namespace moe
