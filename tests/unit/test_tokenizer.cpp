// Byte-level BPE tokenizer: reference vectors (llama.cpp test-tokenizer-0 format) for the 514-token fixture
// vocab, DeepSeek LLM, DeepSeek Coder and DeepSeek-V3, plus special tokens, BOS rules, streaming decode and
// round trips.
#include "check.h"

#include "formats/gguf.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_data.h"

#include <nlohmann/json.hpp>

#include <fstream>
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
    for (int32_t id : ids) s += " " + std::to_string(id);
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

// 250 further strings (unicode categories, marks, CJK/kana/hangul, digit runs, contractions, odd white space,
// emoji sequences, code), ids from @lenml/tokenizers 3.7.2 (transformers.js) on node 20.
MOE_TEST(vectors_deepseek_v3_extra) {
    auto tok = tok_v3();
    if (!tok) MOE_SKIP("deepseek-v3/tokenizer.json not found");
    check_cases(*tok, moe_test::data_path("tokenizer/v3-extra.inp"), moe_test::data_path("tokenizer/v3-extra.out"),
                250, "deepseek-v3 extra");
}
