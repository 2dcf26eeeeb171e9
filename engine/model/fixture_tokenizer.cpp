// The fixtures' tokenizer: byte-level BPE whose merges a small deterministic trainer learns from a built-in
// English text, written as GGUF tokenizer.ggml.* (fixture_writer.cpp) or as tokenizer.json.
#include "model/fixture_writer.h"

#include "template/chat_template.h"
#include "tokenizer/byte_unicode.h"
#include "tokenizer/pretokenizer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace moe {

namespace {

// Our own text (no third-party prose): plain English with digits, punctuation and a little code, so that
// the merges cover common words and the pre-tokenizer's categories.
constexpr const char* k_training_text =
    "The workbench loads a model, reads its tokenizer and runs the layers one after another. "
    "Each layer has an attention block and a feed forward block. In a mixture of experts, the feed forward "
    "block is made of many small experts, and a router chooses which of them see each token. The router "
    "gives every expert a score; the best ones are kept, their weights are normalised, and the token is "
    "sent to them. Most experts stay idle for most tokens, which is why such a model can be large and still "
    "fast. The shared experts, on the other hand, see every token.\n"
    "When the model reads a prompt, it turns the text into tokens. A token is a piece of a word, a whole "
    "word, or a single byte. The tokenizer first splits the text into words and numbers, then merges the "
    "bytes of each word, pair by pair, in the order the merges were learned. The most frequent pairs were "
    "learned first, so common words such as the, and, that, with, this and from become one token.\n"
    "Attention lets each position look at the positions before it. The keys and values of the earlier "
    "positions are kept in a cache, so that the next token costs only one more row. Latent attention "
    "compresses the keys and values into a small vector per position, which makes the cache much smaller; "
    "the heads are recovered from it by two projections.\n"
    "Numbers are read digit by digit or in groups of three: 1, 12, 123, 2024, 3.14159, 42 and 1000000. "
    "Dates such as 2025-01-01 and times such as 10:30 appear in logs. Sizes are given in bytes, kilobytes "
    "and megabytes: 512 bytes, 64 KB, 16 MB, 2 GB.\n"
    "Here is a small function: int add(int a, int b) { return a + b; } and a loop: for (int i = 0; i < n; "
    "++i) { sum += x[i]; } which the reader should recognise. Strings are written \"like this\", and paths "
    "like /home/user/models/model.gguf.\n"
    "A good test is small, fast and deterministic. It should fail when the code is wrong and pass when the "
    "code is right, whatever the machine. The same seed must give the same weights, the same file and the "
    "same answer, today and tomorrow. When two files describe the same model, they must give the same "
    "logits, and the test checks that they do.\n"
    "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. How much wood "
    "would a woodchuck chuck if a woodchuck could chuck wood? Peter Piper picked a peck of pickled peppers. "
    "Questions, answers, and more questions: what is the model, where is the file, when does it finish, "
    "why is it slow, and how can we make it faster? We measure, we change one thing, and we measure again.\n";

constexpr const char* k_bos = "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
constexpr const char* k_eos = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
// DeepSeek-V3's chat and tool tokens (user-defined: matched in text, as in its tokenizer.json).
const char* const k_v3_chat_tokens[] = {
    "<\xEF\xBD\x9CUser\xEF\xBD\x9C>", "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "calls\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81" "call\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81outputs\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81outputs\xE2\x96\x81" "end\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81output\xE2\x96\x81" "begin\xEF\xBD\x9C>",
    "<\xEF\xBD\x9Ctool\xE2\x96\x81output\xE2\x96\x81" "end\xEF\xBD\x9C>",
};

std::string placeholder(int64_t n) {
    return "<\xEF\xBD\x9Cplace\xE2\x96\x81holder\xE2\x96\x81no\xE2\x96\x81" + std::to_string(n) + "\xEF\xBD\x9C>";
}

bool v3_style(const FixtureSpec& s) { return s.arch == Arch::Deepseek2 && s.gating == Gating::Sigmoid; }

const char* pre_name(const FixtureSpec& s) {
    if (s.arch == Arch::Llama) return "default";
    return v3_style(s) ? "deepseek-v3" : "deepseek-llm";
}

struct Merges {
    std::vector<std::pair<std::string, std::string>> pairs;  // rank order
    std::vector<std::string> new_tokens;                     // distinct merge results, in order
};

// Words of the text after pre-tokenization, as byte-level symbol ids, with their counts (sorted by text).
struct Corpus {
    std::vector<std::string> symbols;  // id -> text
    std::vector<std::pair<std::vector<int32_t>, int64_t>> words;
};

Result<Corpus> read_corpus(const std::string& pre) {
    auto regexes = pretokenizer_regexes(pre);
    if (!regexes) return regexes.status();
    auto splitter = PreTokenizer::create(*regexes, RegexDialect::LlamaCpp);
    if (!splitter) return splitter.status();
    const std::string text = k_training_text;
    std::vector<Piece> pieces;
    splitter->split(text, pieces);
    std::map<std::string, int64_t> counts;
    for (const Piece& p : pieces) ++counts[text.substr(p.begin, p.end - p.begin)];
    Corpus c;
    for (int b = 0; b < 256; ++b) c.symbols.push_back(byte_to_symbol_utf8(static_cast<uint8_t>(b)));
    for (const auto& [word, n] : counts) {
        std::vector<int32_t> ids;
        for (unsigned char ch : word) ids.push_back(ch);
        c.words.emplace_back(std::move(ids), n);
    }
    return c;
}

// Greedy BPE training: repeatedly merge the most frequent adjacent pair (ties: the smaller pair of texts),
// until `max_new_tokens` new tokens exist or no pair occurs twice.
Merges train(Corpus c, int64_t max_new_tokens) {
    Merges out;
    std::unordered_map<std::string, int32_t> by_text;
    for (size_t i = 0; i < c.symbols.size(); ++i) by_text.emplace(c.symbols[i], static_cast<int32_t>(i));
    while (static_cast<int64_t>(out.new_tokens.size()) < max_new_tokens) {
        std::map<std::pair<int32_t, int32_t>, int64_t> pair_counts;
        for (const auto& [ids, n] : c.words)
            for (size_t i = 0; i + 1 < ids.size(); ++i) pair_counts[{ids[i], ids[i + 1]}] += n;
        std::pair<int32_t, int32_t> best{-1, -1};
        int64_t best_n = 1;
        for (const auto& [p, n] : pair_counts) {
            const bool better = n > best_n || (n == best_n && best.first >= 0 &&
                                               std::tie(c.symbols[p.first], c.symbols[p.second]) <
                                                   std::tie(c.symbols[best.first], c.symbols[best.second]));
            if (better) {
                best = p;
                best_n = n;
            }
        }
        if (best.first < 0) break;
        const std::string merged = c.symbols[best.first] + c.symbols[best.second];
        out.pairs.emplace_back(c.symbols[best.first], c.symbols[best.second]);
        auto [it, added] = by_text.emplace(merged, static_cast<int32_t>(c.symbols.size()));
        if (added) {
            c.symbols.push_back(merged);
            out.new_tokens.push_back(merged);
        }
        for (auto& [ids, n] : c.words) {
            std::vector<int32_t> next;
            next.reserve(ids.size());
            for (size_t i = 0; i < ids.size(); ++i) {
                if (i + 1 < ids.size() && ids[i] == best.first && ids[i + 1] == best.second) {
                    next.push_back(it->second);
                    ++i;
                } else {
                    next.push_back(ids[i]);
                }
            }
            ids = std::move(next);
        }
    }
    return out;
}

// Training takes a few milliseconds per thousand merges; fixtures of the same pre-tokenizer and budget
// share the result.
Result<Merges> cached_merges(const std::string& pre, int64_t max_new_tokens) {
    static std::mutex mutex;
    static std::map<std::pair<std::string, int64_t>, Merges> cache;
    const std::lock_guard<std::mutex> lock(mutex);
    const auto key = std::make_pair(pre, max_new_tokens);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    auto corpus = read_corpus(pre);
    if (!corpus) return corpus.status();
    Merges m = train(std::move(*corpus), max_new_tokens);
    cache.emplace(key, m);
    return m;
}

}  // namespace

Result<VocabData> fixture_vocab(const FixtureSpec& s) {
    const bool v3 = v3_style(s);
    const int64_t n_chat = v3 ? static_cast<int64_t>(std::size(k_v3_chat_tokens)) : 0;
    const int64_t n_fixed = 256 + 2 + n_chat;
    if (s.n_vocab < n_fixed)
        return Status::error("--vocab " + std::to_string(s.n_vocab) + ": the tokenizer needs at least " +
                             std::to_string(n_fixed) + " tokens (256 bytes, BOS, EOS" +
                             (v3 ? ", the chat tokens)" : ")"));
    auto merges = cached_merges(pre_name(s), s.n_vocab - n_fixed);
    if (!merges) return merges.status();
    VocabData v;
    v.source = "fixture";
    v.model = "gpt2";
    v.pre = pre_name(s);
    for (int b = 0; b < 256; ++b) v.tokens.push_back(byte_to_symbol_utf8(static_cast<uint8_t>(b)));
    for (const std::string& t : merges->new_tokens) v.tokens.push_back(t);
    v.token_types.assign(v.tokens.size(), TokenType::Normal);
    v.merges = merges->pairs;
    const auto add = [&](const std::string& text, TokenType type) {
        v.tokens.push_back(text);
        v.token_types.push_back(type);
        return static_cast<int32_t>(v.tokens.size() - 1);
    };
    v.bos_id = add(k_bos, TokenType::Control);
    v.eos_id = add(k_eos, TokenType::Control);
    v.pad_id = v.eos_id;
    if (v3)
        for (const char* t : k_v3_chat_tokens) add(t, TokenType::UserDefined);
    for (int64_t n = 0; static_cast<int64_t>(v.tokens.size()) < s.n_vocab; ++n) add(placeholder(n), TokenType::Control);
    v.add_bos = true;
    v.add_eos = false;
    auto tmpl = builtin_chat_template(v3 ? "deepseek-v3" : "deepseek-llm");
    if (!tmpl) return tmpl.status();
    v.chat_template = *tmpl;
    MOE_RETURN_IF_ERROR(validate_vocab(v));
    return v;
}

std::string fixture_tokenizer_json(const VocabData& v) {
    using Json = nlohmann::ordered_json;
    Json vocab = Json::object();
    Json added = Json::array();
    for (size_t id = 0; id < v.tokens.size(); ++id) {
        const TokenType type = v.token_types[id];
        if (type == TokenType::Normal) {
            vocab[v.tokens[id]] = id;
            continue;
        }
        const bool special = type == TokenType::Control;
        added.push_back({{"id", id}, {"content", v.tokens[id]}, {"single_word", false}, {"lstrip", false},
                         {"rstrip", false}, {"normalized", !special}, {"special", special}});
    }
    Json merges = Json::array();
    for (const auto& [a, b] : v.merges) merges.push_back(a + " " + b);
    Json steps = Json::array();
    for (const std::string& re : pretokenizer_regexes(v.pre).value())
        steps.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}, {"invert", false}});
    steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}});
    Json root;
    root["version"] = "1.0";
    root["truncation"] = nullptr;
    root["padding"] = nullptr;
    root["added_tokens"] = std::move(added);
    root["normalizer"] = nullptr;
    root["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", std::move(steps)}};
    root["post_processor"] = {
        {"type", "TemplateProcessing"},
        {"single", Json::array({{{"SpecialToken", {{"id", v.tokens[v.bos_id]}, {"type_id", 0}}}},
                                {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
        {"pair", Json::array({{{"SpecialToken", {{"id", v.tokens[v.bos_id]}, {"type_id", 0}}}},
                              {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                              {{"SpecialToken", {{"id", v.tokens[v.bos_id]}, {"type_id", 1}}}},
                              {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
        {"special_tokens", {{v.tokens[v.bos_id], {{"id", v.tokens[v.bos_id]}, {"ids", {v.bos_id}},
                                                  {"tokens", {v.tokens[v.bos_id]}}}}}}};
    root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
    root["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
                     {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
                     {"ignore_merges", false}, {"vocab", std::move(vocab)}, {"merges", std::move(merges)}};
    return root.dump() + "\n";
}

std::string fixture_tokenizer_config_json(const VocabData& v) {
    using Json = nlohmann::ordered_json;
    const auto token = [](const std::string& text) {
        return Json{{"__type", "AddedToken"}, {"content", text}, {"lstrip", false}, {"normalized", true},
                    {"rstrip", false}, {"single_word", false}};
    };
    Json c;
    c["add_bos_token"] = v.add_bos;
    c["add_eos_token"] = v.add_eos;
    c["bos_token"] = token(v.tokens[v.bos_id]);
    c["eos_token"] = token(v.tokens[v.eos_id]);
    c["pad_token"] = token(v.tokens[v.pad_id]);
    c["clean_up_tokenization_spaces"] = false;
    c["legacy"] = true;
    c["model_max_length"] = 16384;
    c["sp_model_kwargs"] = Json::object();
    c["unk_token"] = nullptr;
    c["tokenizer_class"] = "LlamaTokenizerFast";
    c["chat_template"] = v.chat_template;
    return c.dump(2) + "\n";
}

}  // namespace moe
