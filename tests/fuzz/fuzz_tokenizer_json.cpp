// Fuzz target for the tokenizer: the first input byte picks the mode.
//  - 'E' + text: encode the text (arbitrary bytes) with a small built-in byte-level vocab under each of the
//    deepseek-llm / deepseek-coder / deepseek-v3 pre-tokenizers, decode it and stream-decode it.
//  - anything else: the input is a tokenizer.json (then a config after a 0 byte) for vocab_from_hf_text; when it
//    loads, a short text is encoded with it.
#include "tokenizer/tokenizer.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/unicode_data.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

// 256 byte tokens, merges for a few common pairs, two control tokens and one user-defined token.
moe::VocabData builtin_vocab(const std::string& pre) {
    moe::VocabData v;
    v.source = "builtin";
    v.pre = pre;
    for (int b = 0; b < 256; ++b) v.tokens.push_back(moe::byte_to_symbol_utf8(static_cast<uint8_t>(b)));
    const char* pairs[][2] = {{"t", "h"}, {"th", "e"}, {"Ġ", "t"}, {"Ġt", "he"}, {"i", "n"}, {"Ġ", "a"},
                              {"e", "r"}, {"o", "n"}, {"Ã", "©"}, {"ä", "¸"}, {"Ċ", "Ċ"}, {"Ġ", "Ġ"}};
    for (const auto& p : pairs) {
        v.merges.emplace_back(p[0], p[1]);
        v.tokens.push_back(std::string(p[0]) + p[1]);
    }
    v.token_types.assign(v.tokens.size(), moe::TokenType::Normal);
    for (const char* special : {"<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"}) {
        v.tokens.push_back(special);
        v.token_types.push_back(moe::TokenType::Control);
    }
    v.tokens.push_back("<｜User｜>");
    v.token_types.push_back(moe::TokenType::UserDefined);
    v.bos_id = static_cast<int32_t>(v.tokens.size()) - 3;
    v.eos_id = v.bos_id + 1;
    v.add_bos = true;
    return v;
}

const std::vector<std::unique_ptr<moe::Tokenizer>>& builtin_tokenizers() {
    static const std::vector<std::unique_ptr<moe::Tokenizer>> toks = [] {
        std::vector<std::unique_ptr<moe::Tokenizer>> out;
        for (const char* pre : {"deepseek-llm", "deepseek-coder", "deepseek-v3"}) {
            auto t = moe::Tokenizer::create(builtin_vocab(pre));
            if (!t.ok()) __builtin_trap();  // the built-in vocab must load
            out.push_back(std::make_unique<moe::Tokenizer>(std::move(*t)));
        }
        return out;
    }();
    return toks;
}

void fuzz_encode(const std::string& text) {
    for (const auto& tok : builtin_tokenizers()) {
        const std::vector<int32_t> ids = tok->encode(text, true, (text.size() & 1) != 0);
        const std::string decoded = tok->decode(ids, false);  // BOS renders as ""
        // Valid UTF-8 without special-token text must come back unchanged.
        if (moe::utf8_is_valid(text) && text.find("<｜") == std::string::npos && decoded != text) __builtin_trap();
        moe::StreamDecoder stream(*tok);
        std::string streamed;
        for (int32_t id : ids) streamed += stream.push(id);
        streamed += stream.flush();
        if (!moe::utf8_is_valid(streamed)) __builtin_trap();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const std::string input(reinterpret_cast<const char*>(data), size);
    if (input[0] == 'E') {
        fuzz_encode(input.substr(1));
        return 0;
    }
    const size_t split = input.find('\0');
    const std::string json = input.substr(0, split);
    const std::string config = split == std::string::npos ? std::string() : input.substr(split + 1);
    auto vocab = moe::vocab_from_hf_text(json, config, "fuzz.json");
    if (!vocab.ok()) return 0;
    auto tok = moe::Tokenizer::create(std::move(*vocab));
    if (!tok.ok()) return 0;
    const std::vector<int32_t> ids = tok->encode("Hello, wörld! 123 <｜User｜> 日本語\n\t x", true, true);
    (void)tok->decode(ids);
    return 0;
}
