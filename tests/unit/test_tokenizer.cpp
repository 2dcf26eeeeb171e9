// Byte-level BPE tokenizer: reference vectors (llama.cpp test-tokenizer-0 format) for the 514-token fixture
// vocab, DeepSeek LLM, DeepSeek Coder and DeepSeek-V3, plus special tokens, BOS rules, streaming decode and
// round trips.
#include "check.h"

#include "core/utf8.h"
#include "formats/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_data.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <sstream>

using moe::Tokenizer;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct Case {
    std::string text;
    std::vector<int32_t> ids;
};

// .inp: strings each followed by "\n__ggml_vocab_test__\n"; .out: one line of " id id ..." per string.
std::vector<Case> read_cases(const std::string& inp_path, const std::string& out_path) {
    const std::string inp = read_file(inp_path);
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<Case> cases;
    for (size_t pos = 0; pos < inp.size();) {
        const size_t end = inp.find(sep, pos);
        if (end == std::string::npos) break;
        cases.push_back({inp.substr(pos, end - pos), {}});
        pos = end + sep.size();
    }
    std::istringstream out(read_file(out_path));
    std::string line;
    for (Case& c : cases) {
        if (!std::getline(out, line)) break;
        std::istringstream ids(line);
        int32_t id = 0;
        while (ids >> id) c.ids.push_back(id);
    }
    return cases;
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
        s += ' ';
        s += std::to_string(id);
    }
    return s;
}

std::shared_ptr<Tokenizer> load_gguf(const std::string& path) {
    static std::map<std::string, std::shared_ptr<Tokenizer>> cache;
    if (path.empty()) return nullptr;
    auto& slot = cache[path];
    if (!slot) {
        auto file = moe::GgufFile::open(path);
        REQUIRE_OK(file);
        auto vocab = moe::vocab_from_gguf(*file);
        REQUIRE_OK(vocab);
        auto tok = Tokenizer::create(std::move(*vocab));
        REQUIRE_OK(tok);
        slot = std::make_shared<Tokenizer>(std::move(*tok));
    }
    return slot;
}

std::shared_ptr<Tokenizer> tok_514() { return load_gguf(moe_test::data_path("models/fx-ds1-q8_0.gguf")); }
std::shared_ptr<Tokenizer> tok_llm() {
    return load_gguf(moe_test::shared_fixture("vocab/ggml-vocab-deepseek-llm.gguf"));
}
std::shared_ptr<Tokenizer> tok_coder() {
    return load_gguf(moe_test::shared_fixture("vocab/ggml-vocab-deepseek-coder.gguf"));
}
std::shared_ptr<Tokenizer> tok_v3() {
    static std::shared_ptr<Tokenizer> tok;
    const std::string json = moe_test::shared_fixture("vocab/deepseek-v3/tokenizer.json");
    if (json.empty()) return nullptr;
    if (!tok) {
        auto vocab = moe::vocab_from_hf(json, moe_test::data_path("tokenizer/tokenizer_config.json"));
        REQUIRE_OK(vocab);
        auto t = Tokenizer::create(std::move(*vocab));
        REQUIRE_OK(t);
        tok = std::make_shared<Tokenizer>(std::move(*t));
    }
    return tok;
}

// Runs every case; returns the number that matched and prints the others.
void check_cases(const Tokenizer& tok, const std::string& inp, const std::string& out, size_t expected_count,
                 const char* what) {
    REQUIRE(!inp.empty() && !out.empty());
    const std::vector<Case> cases = read_cases(inp, out);
    CHECK_EQ(cases.size(), expected_count);
    size_t passed = 0;
    for (const Case& c : cases) {
        const std::vector<int32_t> got = tok.encode(c.text, false, false);
        if (got == c.ids) {
            ++passed;
        } else {
            std::fprintf(stderr, "  %s: text '%s'\n    expected%s\n    got     %s\n", what, c.text.c_str(),
                         ids_str(c.ids).c_str(), ids_str(got).c_str());
        }
        CHECK_EQ(tok.decode(got), c.text);  // byte-level BPE loses nothing on valid UTF-8
    }
    std::fprintf(stderr, "  %s: %zu/%zu cases match\n", what, passed, cases.size());
    CHECK_EQ(passed, cases.size());
}

}  // namespace

MOE_TEST(vectors_fx_bpe514) {
    auto tok = tok_514();
    REQUIRE(tok);
    CHECK_EQ(tok->n_vocab(), 514);
    CHECK_EQ(tok->pre_name(), std::string("deepseek-llm"));
    CHECK_EQ(tok->bos_id(), 512);
    CHECK_EQ(tok->eos_id(), 513);
    check_cases(*tok, moe_test::data_path("tokenizer/fx-bpe514.inp"), moe_test::data_path("tokenizer/fx-bpe514.out"),
                46, "fx-bpe514");
}

MOE_TEST(vectors_deepseek_llm) {
    auto tok = tok_llm();
    if (!tok) MOE_SKIP("ggml-vocab-deepseek-llm.gguf not found");
    CHECK_EQ(tok->n_vocab(), 102400);
    CHECK_EQ(tok->bos_id(), 100000);
    CHECK_EQ(tok->eos_id(), 100001);
    CHECK(tok->add_bos());
    check_cases(*tok, moe_test::data_path("tokenizer/ggml-vocab-deepseek-llm.gguf.inp"),
                moe_test::data_path("tokenizer/ggml-vocab-deepseek-llm.gguf.out"), 46, "deepseek-llm");
}

MOE_TEST(vectors_deepseek_coder) {
    auto tok = tok_coder();
    if (!tok) MOE_SKIP("ggml-vocab-deepseek-coder.gguf not found");
    CHECK_EQ(tok->n_vocab(), 32256);
    CHECK_EQ(tok->bos_id(), 32013);
    CHECK_EQ(tok->pre_name(), std::string("deepseek-coder"));
    check_cases(*tok, moe_test::data_path("tokenizer/ggml-vocab-deepseek-coder.gguf.inp"),
                moe_test::data_path("tokenizer/ggml-vocab-deepseek-coder.gguf.out"), 46, "deepseek-coder");
}

MOE_TEST(vectors_deepseek_v3) {
    auto tok = tok_v3();
    if (!tok) MOE_SKIP("deepseek-v3/tokenizer.json not found");
    CHECK_EQ(tok->pre_name(), std::string("deepseek-v3"));
    CHECK_EQ(tok->bos_id(), 0);
    CHECK_EQ(tok->eos_id(), 1);
    CHECK(tok->add_bos());
    CHECK_EQ(tok->vocab().merges.size(), size_t{127741});
    check_cases(*tok, moe_test::data_path("tokenizer/deepseek-v3.inp"), moe_test::data_path("tokenizer/deepseek-v3.out"),
                46, "deepseek-v3");
}

// 567 further strings each (every class edge of the deepseek-llm and deepseek-coder regexes, white space that
// llama.cpp rewrites to U+000B, digits of many scripts, the user-defined single-character tokens, FIM tokens,
// random mixes), ids from llama.cpp itself (node-llama-cpp 3.22.1 on the vocab-only GGUFs);
// tests/tools/gen_llm_coder_extra_vectors.mjs.
MOE_TEST(vectors_deepseek_llm_extra) {
    auto tok = tok_llm();
    if (!tok) MOE_SKIP("ggml-vocab-deepseek-llm.gguf not found");
    check_cases(*tok, moe_test::data_path("tokenizer/deepseek-llm-extra.inp"),
                moe_test::data_path("tokenizer/deepseek-llm-extra.out"), 567, "deepseek-llm extra");
}

MOE_TEST(vectors_deepseek_coder_extra) {
    auto tok = tok_coder();
    if (!tok) MOE_SKIP("ggml-vocab-deepseek-coder.gguf not found");
    check_cases(*tok, moe_test::data_path("tokenizer/deepseek-coder-extra.inp"),
                moe_test::data_path("tokenizer/deepseek-coder-extra.out"), 567, "deepseek-coder extra");
    // llama.cpp re-types the coder's user-defined FIM tokens as control: plain text without parse_special.
    const int32_t hole = tok->token_to_id("<｜fim▁hole｜>");
    CHECK_EQ(hole, 32015);
    CHECK(tok->is_special(hole));
    CHECK(tok->encode("a<｜fim▁hole｜>b", false, false).size() > 3);
    CHECK_EQ(ids_str(tok->encode("a<｜fim▁hole｜>b", false, true)), std::string(" 64 32015 65"));
    CHECK_EQ(ids_str(tok->encode("<|EOT|>", false, false)), std::string(" 32021"));  // stays user-defined
}

// The same vocabs as HF tokenizer.json files (tokens and merges of the GGUF, the pre_tokenizer of DeepSeek's
// HF repos: the Split list, Digits(individual_digits), ByteLevel) in the HF dialect give the same ids as
// llama.cpp, except where non-ASCII white space is involved (RegexDialect); those strings are skipped.
namespace {

std::shared_ptr<Tokenizer> hf_twin(const Tokenizer& gguf) {
    const moe::VocabData& v = gguf.vocab();
    nlohmann::json vocab = nlohmann::json::object();
    nlohmann::json added = nlohmann::json::array();
    for (size_t i = 0; i < v.tokens.size(); ++i) {
        if (v.token_types[i] == moe::TokenType::Normal) {
            vocab[v.tokens[i]] = i;
        } else {
            added.push_back(
                {{"id", i}, {"content", v.tokens[i]}, {"special", v.token_types[i] == moe::TokenType::Control}});
        }
    }
    nlohmann::json merges = nlohmann::json::array();
    for (const auto& [left, right] : v.merges) merges.push_back(left + " " + right);
    auto regexes = moe::pretokenizer_regexes(v.pre);
    REQUIRE_OK(regexes);
    nlohmann::json steps = nlohmann::json::array();
    for (size_t i = 0; i + 1 < regexes->size(); ++i) {  // the last regex is HF's Digits step
        steps.push_back(
            {{"type", "Split"}, {"pattern", {{"Regex", (*regexes)[i]}}}, {"behavior", "Isolated"}, {"invert", false}});
    }
    steps.push_back({{"type", "Digits"}, {"individual_digits", true}});
    steps.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
    const nlohmann::json root = {{"added_tokens", added},
                                 {"normalizer", nullptr},
                                 {"pre_tokenizer", {{"type", "Sequence"}, {"pretokenizers", steps}}},
                                 {"decoder", {{"type", "ByteLevel"}}},
                                 {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", merges}}}};
    auto hf = moe::vocab_from_hf_text(root.dump(), "", "twin.json");
    REQUIRE_OK(hf);
    CHECK(hf->dialect == moe::RegexDialect::HuggingFace);
    auto tok = Tokenizer::create(std::move(*hf));
    REQUIRE_OK(tok);
    return std::make_shared<Tokenizer>(std::move(*tok));
}

bool has_non_ascii_whitespace(const std::string& text) {
    uint32_t cp = 0;
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = moe::utf8_decode(text, pos, cp);
        if (n == 0) return false;
        if (cp >= 0x80 && moe::unicode_is_whitespace(cp)) return true;
        pos += n;
    }
    return false;
}

}  // namespace

MOE_TEST(hf_twins_of_llm_and_coder_match_llamacpp) {
    for (const char* name : {"llm", "coder"}) {
        auto gguf = std::string(name) == "llm" ? tok_llm() : tok_coder();
        if (!gguf) MOE_SKIP("ggml-vocab-deepseek-*.gguf not found");
        auto twin = hf_twin(*gguf);
        const std::string base = std::string("tokenizer/deepseek-") + name + "-extra";
        const std::vector<Case> cases =
            read_cases(moe_test::data_path(base + ".inp"), moe_test::data_path(base + ".out"));
        size_t compared = 0;
        for (const Case& c : cases) {
            if (has_non_ascii_whitespace(c.text)) continue;
            ++compared;
            const std::vector<int32_t> got = twin->encode(c.text, false, false);
            if (got != c.ids) {
                std::fprintf(stderr, "  %s HF twin: text '%s'\n    got%s\n", name, c.text.c_str(),
                             ids_str(got).c_str());
            }
            CHECK(got == c.ids);
        }
        CHECK(compared > 500);
    }
}

// 250 further strings (unicode categories, marks, CJK/kana/hangul, digit runs, contractions, odd white space,
// emoji sequences, code), ids from @lenml/tokenizers 3.7.2 (transformers.js) on node 20.
MOE_TEST(vectors_deepseek_v3_extra) {
    auto tok = tok_v3();
    if (!tok) MOE_SKIP("deepseek-v3/tokenizer.json not found");
    check_cases(*tok, moe_test::data_path("tokenizer/v3-extra.inp"), moe_test::data_path("tokenizer/v3-extra.out"),
                250, "deepseek-v3 extra");
}

MOE_TEST(chat_template_cases_parse_special) {
    auto tok = tok_v3();
    if (!tok) MOE_SKIP("deepseek-v3/tokenizer.json not found");
    const auto cases = nlohmann::json::parse(read_file(moe_test::data_path("tokenizer/chat_template_cases.json")));
    REQUIRE(cases["cases"].size() == 4);
    for (const auto& c : cases["cases"]) {
        const std::string text = c["expected"].get<std::string>();
        const std::vector<int32_t> expected = c["expected_ids"].get<std::vector<int32_t>>();
        CHECK_EQ(ids_str(tok->encode(text, false, true)), ids_str(expected));
        // The text starts with the BOS text: asking for BOS must not add a second one.
        CHECK_EQ(ids_str(tok->encode(text, true, true)), ids_str(expected));
        CHECK_EQ(tok->decode(expected), text);
    }
}

MOE_TEST(special_tokens_and_bos_rules) {
    auto tok = tok_514();
    REQUIRE(tok);
    const std::string bos = "<｜begin▁of▁sentence｜>";
    const std::string eos = "<｜end▁of▁sentence｜>";
    CHECK_EQ(tok->token_to_id(bos), 512);
    CHECK_EQ(tok->token_to_id(eos), 513);
    CHECK(tok->is_special(513));
    // Control tokens are text unless parse_special.
    const std::vector<int32_t> as_text = tok->encode("a" + eos, false, false);
    CHECK(as_text.size() > 2);
    CHECK(std::find(as_text.begin(), as_text.end(), 513) == as_text.end());
    const std::vector<int32_t> parsed = tok->encode("a" + eos + "b", false, true);
    REQUIRE(parsed.size() == 3);
    CHECK_EQ(parsed[1], 513);
    // A special token splits the text: pieces on either side are encoded separately.
    CHECK_EQ(ids_str(parsed), ids_str({tok->encode("a", false, false)[0], 513, tok->encode("b", false, false)[0]}));
    // BOS: added once when asked, never when not, never twice.
    const std::vector<int32_t> with_bos = tok->encode("hi", true, false);
    const std::vector<int32_t> without_bos = tok->encode("hi", false, false);
    CHECK_EQ(with_bos.front(), 512);
    CHECK_EQ(with_bos.size(), without_bos.size() + 1);
    CHECK(without_bos.front() != 512);
    const std::vector<int32_t> with_bos_text = tok->encode(bos + "hi", true, true);
    CHECK_EQ(with_bos_text.front(), 512);
    CHECK(with_bos_text[1] != 512);
    CHECK_EQ(ids_str(tok->encode("", true, false)), std::string(" 512"));
    CHECK(tok->encode("", false, false).empty());
    // Rendering of control tokens.
    CHECK_EQ(tok->token_to_piece(513, true), eos);
    CHECK_EQ(tok->token_to_piece(513, false), std::string());
    CHECK_EQ(tok->token_to_piece(-1), std::string());
    CHECK_EQ(tok->token_to_piece(514), std::string());
}

MOE_TEST(user_defined_tokens_always_match) {
    auto tok = tok_v3();
    if (!tok) MOE_SKIP("deepseek-v3/tokenizer.json not found");
    // <｜User｜> is an added, non-special token: HF matches it even without parse_special.
    const std::vector<int32_t> ids = tok->encode("x<｜User｜>y", false, false);
    CHECK(std::find(ids.begin(), ids.end(), 128803) != ids.end());
    // BOS is special: only with parse_special.
    CHECK_EQ(tok->encode("<｜begin▁of▁sentence｜>", false, true).size(), size_t{1});
    CHECK(tok->encode("<｜begin▁of▁sentence｜>", false, false).size() > 1);
    // Adjacent added tokens, and the longest token at a position (tool_calls_begin vs tool_call_begin).
    CHECK_EQ(ids_str(tok->encode("<｜User｜><｜Assistant｜>", false, false)), std::string(" 128803 128804"));
    const int32_t calls = tok->token_to_id("<｜tool▁calls▁begin｜>");
    const int32_t call = tok->token_to_id("<｜tool▁call▁begin｜>");
    REQUIRE(calls >= 0 && call >= 0);
    CHECK_EQ(ids_str(tok->encode("<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>", false, false)),
             ids_str({calls, call}));
}

MOE_TEST(stream_decoder_holds_partial_characters) {
    auto tok = tok_514();
    REQUIRE(tok);
    const std::string text = "héllo 世界 🤖!";
    const std::vector<int32_t> ids = tok->encode(text, false, false);
    moe::StreamDecoder stream(*tok);
    std::string out;
    bool saw_partial = false;
    for (int32_t id : ids) {
        const std::string piece = stream.push(id);
        CHECK(moe::utf8_is_valid(piece));  // never half a character
        if (piece.empty()) saw_partial = true;
        out += piece;
    }
    out += stream.flush();
    CHECK_EQ(out, text);
    CHECK(saw_partial);  // the 514 vocab spells these characters with several byte tokens
    // An incomplete character at the end becomes U+FFFD; an invalid byte too.
    moe::StreamDecoder broken(*tok);
    std::string got = broken.push(tok->encode("\xE4\xB8\x96", false, false)[0]);  // first byte of 世
    CHECK_EQ(got, std::string());
    CHECK_EQ(broken.flush(), std::string("\xEF\xBF\xBD"));
    moe::StreamDecoder invalid(*tok);
    const int32_t byte_ff = tok->token_to_id("ÿ");  // GPT-2 symbol of byte 0xFF
    REQUIRE(byte_ff >= 0);
    CHECK_EQ(invalid.push(byte_ff) + invalid.flush(), std::string("\xEF\xBF\xBD"));
}

MOE_TEST(round_trip_random_utf8_all_vocabs) {
    std::vector<std::shared_ptr<Tokenizer>> toks = {tok_514(), tok_llm(), tok_coder(), tok_v3()};
    std::mt19937 rng(1234);
    const uint32_t pools[][2] = {{0x20, 0x7E}, {0x09, 0x0D}, {0xA0, 0x24F}, {0x300, 0x36F}, {0x370, 0x4FF},
                                 {0x2000, 0x206F}, {0x3000, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
                                 {0x1F300, 0x1FAFF}, {0x10000, 0x10FFFF}};
    int n_checked = 0;
    for (int round = 0; round < 300; ++round) {
        std::string text;
        const int n = 1 + static_cast<int>(rng() % 24);
        for (int i = 0; i < n; ++i) {
            const auto& pool = pools[rng() % std::size(pools)];
            uint32_t cp = pool[0] + rng() % (pool[1] - pool[0] + 1);
            if (cp >= 0xD800 && cp <= 0xDFFF) cp = 'x';
            moe::utf8_append(text, cp);
        }
        for (const auto& tok : toks) {
            if (!tok) continue;
            const std::vector<int32_t> ids = tok->encode(text, false, false);
            if (tok->decode(ids) != text) std::fprintf(stderr, "  round trip failed for '%s'\n", text.c_str());
            CHECK_EQ(tok->decode(ids), text);
            ++n_checked;
        }
    }
    CHECK(n_checked >= 300);
    // Invalid UTF-8 is read as U+FFFD per bad byte.
    auto tok = tok_514();
    CHECK_EQ(tok->decode(tok->encode("a\xFF" "b\xC3", false, false)), std::string("a\xEF\xBF\xBD" "b\xEF\xBF\xBD"));
}

// A piece that ends inside a character is shown with its stray bytes as <0xNN> (the routing views and `moewb
// routing`), not as U+FFFD: "中" (E4 B8 AD) split after two bytes.
MOE_TEST(stray_bytes_of_a_piece_are_escaped_for_display) {
    CHECK_EQ(moe::utf8_escape_invalid("a\xE4\xB8"), std::string("a<0xE4><0xB8>"));
    CHECK_EQ(moe::utf8_escape_invalid("\xAD b"), std::string("<0xAD> b"));
    CHECK_EQ(moe::utf8_escape_invalid("\xC3\xA9\xE4\xB8\xAD"), std::string("\xC3\xA9\xE4\xB8\xAD"));  // valid: kept
    CHECK_EQ(moe::utf8_escape_invalid("\xFF\xC0\x80"), std::string("<0xFF><0xC0><0x80>"));  // never valid, overlong
    CHECK_EQ(moe::utf8_sanitize("a\xE4\xB8"), std::string("a\xEF\xBF\xBD\xEF\xBF\xBD"));
}

MOE_TEST(unicode_tables_and_class_expansion) {
    CHECK(moe::unicode_class('a') == moe::UnicodeClass::Letter);
    CHECK(moe::unicode_class(0x0301) == moe::UnicodeClass::Mark);
    CHECK(moe::unicode_class(0x0663) == moe::UnicodeClass::Number);
    CHECK(moe::unicode_class(0x3001) == moe::UnicodeClass::Punctuation);
    CHECK(moe::unicode_class(0x1FAE8) == moe::UnicodeClass::Symbol);  // U+1FAE8 (Unicode 15), newer than PCRE2 10.42
    CHECK(moe::unicode_class(0x3000) == moe::UnicodeClass::Separator);
    CHECK(moe::unicode_is_whitespace(0x85) && moe::unicode_is_whitespace(0x3000) && !moe::unicode_is_whitespace(0xFEFF));
    CHECK(moe::expand_unicode_classes("\\p{L}+").front() == '[');
    CHECK_EQ(moe::expand_unicode_classes("[a\\]b]\\p{Lu}"), std::string("[a\\]b]\\p{Lu}"));  // left to PCRE2
    // The deepseek-llm letter class keeps the characters NFC would rewrite (U+212A KELVIN SIGN, U+1FBE).
    auto regexes = moe::pretokenizer_regexes("deepseek-llm");
    REQUIRE_OK(regexes);
    CHECK((*regexes)[1].find("\xE2\x84\xAA") != std::string::npos);
    CHECK((*regexes)[1].find("\xE1\xBE\xBE") != std::string::npos);
    CHECK(!moe::pretokenizer_regexes("no-such-pre").ok());
}

// llama.cpp sees non-ASCII white space as U+000B; HF sees it as it is. With the deepseek-llm list, U+2003
// lies inside [ࠀ-一], so "中\u2003文" is one piece for HF and three for llama.cpp.
MOE_TEST(pretokenizer_dialects) {
    auto regexes = moe::pretokenizer_regexes("deepseek-llm");
    REQUIRE_OK(regexes);
    auto llama = moe::PreTokenizer::create(*regexes, moe::RegexDialect::LlamaCpp);
    auto hf = moe::PreTokenizer::create(*regexes, moe::RegexDialect::HuggingFace);
    REQUIRE_OK(llama);
    REQUIRE_OK(hf);
    const std::string text = "中\xE2\x80\x83文";  // U+2003 EM SPACE
    std::vector<moe::Piece> pieces;
    llama->split(text, pieces);
    CHECK_EQ(pieces.size(), size_t{3});
    hf->split(text, pieces);
    CHECK_EQ(pieces.size(), size_t{1});
    // Pieces cover the text in order.
    llama->split("Hello  world\n\n 123 ", pieces);
    size_t pos = 0;
    for (const moe::Piece& p : pieces) {
        CHECK_EQ(p.begin, pos);
        CHECK(p.end > p.begin);
        pos = p.end;
    }
    CHECK_EQ(pos, std::string("Hello  world\n\n 123 ").size());
}

// Vocab-only GGUF files (tokenizer keys, no tensors) written by the engine's GgufWriter.
struct GgufBuilder {
    moe::GgufWriter writer;  // set() replaces a key in place
    void set_string(const std::string& key, const std::string& v) { writer.set(key, moe::GgufValue::make_string(v)); }
    void set_u32(const std::string& key, uint32_t v) { writer.set(key, moe::GgufValue::make_u32(v)); }
    void set_strings(const std::string& key, const std::vector<std::string>& v) {
        writer.set(key, moe::GgufValue::make_string_array(v));
    }
    void set_i32s(const std::string& key, const std::vector<int32_t>& v) {
        writer.set(key, moe::GgufValue::make_i32_array(v));
    }
    std::string bytes() const {
        const std::string path = moe_test::temp_dir() + "/vocab_test.gguf";
        REQUIRE_OK(writer.write(path));
        std::ifstream in(path, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
};

MOE_TEST(gguf_vocab_errors_name_the_key) {
    std::vector<std::string> buffers;  // GgufFile::parse needs the bytes alive
    buffers.reserve(16);
    const auto load = [&](auto&& edit) {
        GgufBuilder b;
        b.set_string("general.architecture", "llama");
        b.set_string("tokenizer.ggml.model", "gpt2");
        b.set_string("tokenizer.ggml.pre", "deepseek-llm");
        b.set_strings("tokenizer.ggml.tokens", {"a", "b", "ab"});
        b.set_i32s("tokenizer.ggml.token_type", {1, 1, 1});
        b.set_strings("tokenizer.ggml.merges", {"a b"});
        b.set_u32("tokenizer.ggml.bos_token_id", 0);
        edit(b);
        buffers.push_back(b.bytes());
        auto file = moe::GgufFile::parse(reinterpret_cast<const uint8_t*>(buffers.back().data()),
                                         buffers.back().size(), "v.gguf");
        REQUIRE_OK(file);
        return moe::vocab_from_gguf(*file);
    };
    auto ok = load([](GgufBuilder&) {});
    REQUIRE_OK(ok);
    CHECK_EQ(ok->merges.size(), size_t{1});
    CHECK_EQ(ok->pre, std::string("deepseek-llm"));
    auto tok = Tokenizer::create(std::move(*ok));
    REQUIRE_OK(tok);
    CHECK_EQ(ids_str(tok->encode("ab", false, false)), std::string(" 2"));
    auto bad_pre = load([](GgufBuilder& b) { b.set_string("tokenizer.ggml.pre", "qwen9"); });
    CHECK(!bad_pre.ok() && bad_pre.error().find("'qwen9'") != std::string::npos);
    auto bad_types = load([](GgufBuilder& b) { b.set_i32s("tokenizer.ggml.token_type", {1}); });
    CHECK(!bad_types.ok() && bad_types.error().find("token_type") != std::string::npos);
    auto bad_bos = load([](GgufBuilder& b) { b.set_u32("tokenizer.ggml.bos_token_id", 7); });
    CHECK(!bad_bos.ok() && bad_bos.error().find("bos_token_id") != std::string::npos);
    auto spm = load([](GgufBuilder& b) { b.set_string("tokenizer.ggml.model", "llama"); });
    CHECK(!spm.ok() && spm.error().find("'llama'") != std::string::npos);
    auto odd_merge = load([](GgufBuilder& b) { b.set_strings("tokenizer.ggml.merges", {"ab"}); });
    CHECK(odd_merge.ok());  // tolerated like llama.cpp: the entry never applies
    for (const auto& e : {bad_pre, bad_types, bad_bos, spm}) CHECK(e.error().find("v.gguf") != std::string::npos);
}

// llama.cpp's loader makes EOG/FIM tokens control tokens by their text, unless the file names that FIM/EOT
// token by id (tokenizer.ggml.fim_suf_token_id, ...). The end-of-generation list applies whatever the keys.
MOE_TEST(gguf_control_tokens_by_text) {
    std::vector<std::string> buffers;
    buffers.reserve(4);
    const auto load = [&](auto&& edit) {
        GgufBuilder b;
        b.set_string("general.architecture", "llama");
        b.set_string("tokenizer.ggml.model", "gpt2");
        b.set_string("tokenizer.ggml.pre", "deepseek-coder");
        b.set_strings("tokenizer.ggml.tokens", {"a", "b", "<｜fim▁hole｜>", "<|EOT|>", "</s>"});
        b.set_i32s("tokenizer.ggml.token_type", {1, 1, 4, 4, 1});
        b.set_strings("tokenizer.ggml.merges", {"a b"});
        edit(b);
        buffers.push_back(b.bytes());
        auto file = moe::GgufFile::parse(reinterpret_cast<const uint8_t*>(buffers.back().data()), buffers.back().size(),
                                         "v.gguf");
        REQUIRE_OK(file);
        auto vocab = moe::vocab_from_gguf(*file);
        REQUIRE_OK(vocab);
        return *vocab;
    };
    const moe::VocabData plain = load([](GgufBuilder&) {});
    CHECK(plain.token_types[2] == moe::TokenType::Control);      // FIM suffix, detected by text
    CHECK(plain.token_types[3] == moe::TokenType::UserDefined);  // not on llama.cpp's lists
    CHECK(plain.token_types[4] == moe::TokenType::Control);      // end-of-generation list
    const moe::VocabData keyed = load([](GgufBuilder& b) { b.set_u32("tokenizer.ggml.fim_suf_token_id", 0); });
    CHECK(keyed.token_types[2] == moe::TokenType::UserDefined);
    CHECK(keyed.token_types[4] == moe::TokenType::Control);
    auto tok = Tokenizer::create(plain);
    REQUIRE_OK(tok);
    CHECK_EQ(ids_str(tok->encode("a<|EOT|>", false, false)), std::string(" 0 3"));
    CHECK_EQ(ids_str(tok->encode("<｜fim▁hole｜>", false, true)), std::string(" 2"));
}

// llama.cpp's categories are Unicode 15.1: code points assigned since (Unicode 16/17) match no \p{X} in the
// LlamaCpp dialect and keep their current class in the HF dialect.
MOE_TEST(unicode_15_1_tables_for_llamacpp) {
    using moe::UnicodeClass;
    using moe::UnicodeTables;
    CHECK(moe::unicode_class(0x13460) == UnicodeClass::Letter);  // Egyptian Hieroglyphs Ext-A (Unicode 16)
    CHECK(moe::unicode_class(0x13460, UnicodeTables::V15_1) == UnicodeClass::Other);
    CHECK(moe::unicode_class(0x1CCF0, UnicodeTables::V15_1) == UnicodeClass::Other);   // outlined digit (16)
    CHECK(moe::unicode_class(0x2EBF0, UnicodeTables::V15_1) == UnicodeClass::Letter);  // CJK Ext-I (15.1)
    CHECK(moe::unicode_class(0x31EF, UnicodeTables::V15_1) == UnicodeClass::Symbol);   // 15.1
    CHECK(moe::unicode_class('7', UnicodeTables::V15_1) == UnicodeClass::Number);
    // The range lists agree with unicode_class for both tables.
    for (auto tables : {UnicodeTables::Current, UnicodeTables::V15_1}) {
        const auto& letters = moe::unicode_class_ranges(UnicodeClass::Letter, tables);
        size_t checked = 0;
        for (uint32_t cp = 0; cp <= 0x10FFFF; cp += 97) {
            const bool in_ranges = std::any_of(letters.begin(), letters.end(), [&](const moe::CodepointRange& r) {
                return cp >= r.first && cp <= r.last;
            });
            CHECK_EQ(in_ranges, moe::unicode_class(cp, tables) == UnicodeClass::Letter);
            ++checked;
        }
        CHECK(checked > 10000);
    }
    auto regexes = moe::pretokenizer_regexes("deepseek-coder");
    REQUIRE_OK(regexes);
    auto llama = moe::PreTokenizer::create(*regexes, moe::RegexDialect::LlamaCpp);
    auto hf = moe::PreTokenizer::create(*regexes, moe::RegexDialect::HuggingFace);
    REQUIRE_OK(llama);
    REQUIRE_OK(hf);
    const std::string text = "  \xF0\x93\x91\xA0";  // two spaces, U+13460
    std::vector<moe::Piece> pieces;
    llama->split(text, pieces);
    CHECK_EQ(pieces.size(), size_t{1});  // \s?\p{L}+ does not match: one gap piece
    hf->split(text, pieces);
    CHECK_EQ(pieces.size(), size_t{2});  // " " and " U+13460"
}

MOE_TEST(hf_vocab_forms_and_errors) {
    const std::string base = R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3},
        "merges": MERGES}, "added_tokens": [{"id": 4, "content": "<s>", "special": true}],
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}})";
    const auto with = [&](const std::string& merges) {
        std::string s = base;
        s.replace(s.find("MERGES"), 6, merges);
        return s;
    };
    for (const char* merges : {R"(["a b"])", R"([["a", "b"]])"}) {
        auto vocab = moe::vocab_from_hf_text(with(merges), R"({"bos_token": "<s>", "add_bos_token": true})", "t.json");
        REQUIRE_OK(vocab);
        CHECK_EQ(vocab->bos_id, 4);
        CHECK(vocab->add_bos);
        CHECK(vocab->token_types[4] == moe::TokenType::Control);
        auto tok = Tokenizer::create(std::move(*vocab));
        REQUIRE_OK(tok);
        CHECK_EQ(ids_str(tok->encode("ab", true, false)), std::string(" 4 2"));
    }
    auto bad_merge = moe::vocab_from_hf_text(with(R"(["ab"])"), "", "t.json");
    CHECK(!bad_merge.ok() && bad_merge.error().find("model.merges[0]") != std::string::npos);
    auto bad_json = moe::vocab_from_hf_text("{\"model\": ", "", "t.json");
    CHECK(!bad_json.ok() && bad_json.error().find("t.json") != std::string::npos);
    auto deep = moe::vocab_from_hf_text(std::string(100000, '['), "", "t.json");
    CHECK(!deep.ok());
    auto huge_id = moe::vocab_from_hf_text(R"({"model": {"vocab": {"a": 4000000000}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}})", "", "t.json");
    CHECK(!huge_id.ok() && huge_id.error().find("out of range") != std::string::npos);
    auto removed = moe::vocab_from_hf_text(R"({"model": {"vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Removed"}})", "", "t.json");
    CHECK(!removed.ok() && removed.error().find("Removed") != std::string::npos);
}
