// End-to-end tests of the moewb program: `moewb info --json` on every fixture model against the
// hyper-parameters and parameter counts of shared/fixtures/README.md, vocab-only files, bad input, tokenize.
#include "check.h"
#include "cli_run.h"
#include "hf_model_builder.h"

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <sys/wait.h>

namespace {


nlohmann::json info_json(const std::string& path) {
    std::string err;
    const RunResult r = run_moewb("info --json " + quote(path), &err);
    if (r.exit_code != 0) {
        moe_test::report_failure(__FILE__, __LINE__, "moewb info failed on " + path + ": " + err);
        throw moe_test::AbortTest{};
    }
    return nlohmann::json::parse(r.out);
}

// One row of the fixture README's hyper-parameter table.
struct Expected {
    const char* file;
    const char* arch;
    int layers, leading_dense, n_embd, heads;
    int nope, rope, v, q_lora, kv_lora;  // MLA (zeros for deepseek v1)
    int head_dim;                        // deepseek v1
    int dense_ff, experts, used, shared, expert_ff;
    const char* gating;
    bool bias, norm;
    double scale;
    int64_t ctx;
    const char* rope_scaling;
    double log_mul;  // yarn_log_multiplier = 0.1 * mscale_all_dim
    uint64_t params;
};

// shared/fixtures/README.md section 2.
const Expected k_models[] = {
    {"fx-ds2-lite-f32.gguf", "deepseek2", 27, 1, 64, 4, 16, 16, 16, 0, 32, 0, 128, 16, 4, 2, 32, "softmax", false,
     false, 1.0, 163840, "yarn", 0.0707, 3522080},
    {"fx-ds2-lite-q8_0.gguf", "deepseek2", 27, 1, 64, 4, 16, 16, 16, 0, 32, 0, 128, 16, 4, 2, 32, "softmax", false,
     false, 1.0, 163840, "yarn", 0.0707, 3522080},
    {"fx-ds2-v3-f32.gguf", "deepseek2", 4, 1, 64, 4, 16, 16, 16, 64, 32, 0, 128, 16, 4, 1, 32, "sigmoid", true, true,
     2.5, 163840, "yarn", 0.1, 502000},
    {"fx-ds2-v3-q8_0.gguf", "deepseek2", 4, 1, 64, 4, 16, 16, 16, 64, 32, 0, 128, 16, 4, 1, 32, "sigmoid", true, true,
     2.5, 163840, "yarn", 0.1, 502000},
    {"fx-ds2-v3q-q4_k_m.gguf", "deepseek2", 3, 1, 256, 4, 32, 32, 64, 64, 32, 0, 512, 8, 4, 1, 256, "sigmoid", true,
     true, 2.5, 163840, "yarn", 0.1, 4582448},
    {"fx-ds1-f32.gguf", "deepseek", 4, 1, 64, 4, 0, 0, 0, 0, 0, 16, 128, 16, 4, 2, 32, "softmax", false, false, 1.0,
     4096, "none", 0.0, 491328},
    {"fx-ds1-q8_0.gguf", "deepseek", 4, 1, 64, 4, 0, 0, 0, 0, 0, 16, 128, 16, 4, 2, 32, "softmax", false, false, 1.0,
     4096, "none", 0.0, 491328},
};

void check_model(const Expected& e, const nlohmann::json& j) {
    CHECK_EQ(j["architecture"].get<std::string>(), std::string(e.arch));
    CHECK(j["has_weights"].get<bool>());
    CHECK_EQ(j["layers"]["count"].get<int>(), e.layers);
    CHECK_EQ(j["layers"]["leading_dense"].get<int>(), e.leading_dense);
    CHECK_EQ(j["layers"]["moe"].get<int>(), e.layers - e.leading_dense);
    CHECK_EQ(j["embedding_length"].get<int>(), e.n_embd);
    CHECK_EQ(j["vocab_size"].get<int>(), 514);
    CHECK_EQ(j["feed_forward_length"].get<int>(), e.dense_ff);
    const auto& a = j["attention"];
    CHECK_EQ(a["heads"].get<int>(), e.heads);
    if (e.kv_lora > 0) {
        CHECK_EQ(a["kind"].get<std::string>(), std::string("mla"));
        CHECK_EQ(a["qk_nope_head_dim"].get<int>(), e.nope);
        CHECK_EQ(a["qk_rope_head_dim"].get<int>(), e.rope);
        CHECK_EQ(a["v_head_dim"].get<int>(), e.v);
        CHECK_EQ(a["q_lora_rank"].get<int>(), e.q_lora);
        CHECK_EQ(a["kv_lora_rank"].get<int>(), e.kv_lora);
        // kq_scale = m^2 / sqrt(nope + rope), m = 1 + log_mul * ln(40) (README section 4)
        const double m = 1.0 + e.log_mul * std::log(40.0);
        CHECK_NEAR(a["kq_scale"].get<double>(), m * m / std::sqrt(double(e.nope + e.rope)), 1e-6);
    } else {
        CHECK_EQ(a["kind"].get<std::string>(), std::string("mha"));
        CHECK_EQ(a["head_dim"].get<int>(), e.head_dim);
        CHECK_NEAR(a["kq_scale"].get<double>(), 1.0 / std::sqrt(double(e.head_dim)), 1e-6);
    }
    const auto& moe = j["moe"];
    CHECK_EQ(moe["routed_experts"].get<int>(), e.experts);
    CHECK_EQ(moe["experts_per_token"].get<int>(), e.used);
    CHECK_EQ(moe["shared_experts"].get<int>(), e.shared);
    CHECK_EQ(moe["expert_feed_forward_length"].get<int>(), e.expert_ff);
    CHECK_EQ(moe["gating"]["function"].get<std::string>(), std::string(e.gating));
    CHECK_EQ(moe["gating"]["score_bias"].get<bool>(), e.bias);
    CHECK_EQ(moe["gating"]["normalize"].get<bool>(), e.norm);
    CHECK_NEAR(moe["gating"]["scale"].get<double>(), e.scale, 1e-9);
    CHECK_EQ(moe["gating"]["groups"].get<int>(), 1);
    CHECK_EQ(j["context_length"].get<int64_t>(), e.ctx);
    CHECK_EQ(j["rope"]["freq_base"].get<double>(), 10000.0);
    CHECK_EQ(j["rope"]["scaling"]["type"].get<std::string>(), std::string(e.rope_scaling));
    if (std::string(e.rope_scaling) == "yarn") {
        CHECK_NEAR(j["rope"]["scaling"]["factor"].get<double>(), 40.0, 1e-9);
        CHECK_EQ(j["rope"]["scaling"]["original_context"].get<int>(), 4096);
        CHECK_NEAR(j["rope"]["scaling"]["mscale_all_dim"].get<double>(), e.log_mul * 10.0, 1e-5);
    }
    CHECK_EQ(j["parameters"]["total"].get<uint64_t>(), e.params);
    CHECK_EQ(j["parameters"]["in_tensors"].get<uint64_t>(), e.params);
    CHECK(j["parameters"]["active"].get<uint64_t>() < e.params);
    const auto& t = j["tokenizer"];
    CHECK_EQ(t["vocab_size"].get<int>(), 514);
    CHECK_EQ(t["pre"].get<std::string>(), std::string("deepseek-llm"));
    CHECK_EQ(t["merges"].get<int>(), 256);
    CHECK_EQ(t["bos_id"].get<int>(), 512);
    CHECK_EQ(t["eos_id"].get<int>(), 513);
    CHECK(t["add_bos"].get<bool>());
    CHECK(j["memory"]["weight_bytes"].get<uint64_t>() > 0);
    CHECK(j["memory"]["kv_bytes_per_token"].get<uint64_t>() > 0);
}

}  // namespace

MOE_TEST(info_json_matches_fixture_readme) {
    int seen = 0;
    for (const Expected& e : k_models) {
        const std::string path = moe_test::data_path(std::string("models/") + e.file);
        if (path.empty()) continue;
        ++seen;
        std::fprintf(stderr, "  %s\n", e.file);
        check_model(e, info_json(path));
    }
    if (seen == 0) MOE_SKIP("no fixture models");
}

MOE_TEST(info_mla_kv_cache_is_latent_plus_rope) {
    const std::string path = moe_test::data_path("models/fx-ds2-v3-q8_0.gguf");
    if (path.empty()) MOE_SKIP("fx-ds2-v3-q8_0.gguf absent");
    const RunResult r = run_moewb("info --json --kv f32 --ctx 1000 " + quote(path));
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    // 4 layers x (kv_lora 32 + rope 16) x 4 bytes
    CHECK_EQ(j["memory"]["kv_bytes_per_token"].get<uint64_t>(), uint64_t{4 * 48 * 4});
    CHECK_EQ(j["memory"]["kv_bytes"].get<uint64_t>(), uint64_t{4 * 48 * 4 * 1000});
    CHECK_EQ(j["memory"]["context"].get<int>(), 1000);
}

MOE_TEST(info_vocab_only_reports_tokenizer_without_weights) {
    struct Vocab {
        const char* file;
        int n_vocab, bos, eos;
        const char* pre;
    };
    const Vocab vocabs[] = {{"vocab/ggml-vocab-deepseek-llm.gguf", 102400, 100000, 100001, "deepseek-llm"},
                            {"vocab/ggml-vocab-deepseek-coder.gguf", 32256, 32013, 32014, "deepseek-coder"}};
    int seen = 0;
    for (const Vocab& v : vocabs) {
        const std::string path = moe_test::shared_fixture(v.file);
        if (path.empty()) continue;
        ++seen;
        const auto j = info_json(path);
        CHECK(!j["has_weights"].get<bool>());
        CHECK_EQ(j["format"].get<std::string>(), std::string("tokenizer"));
        CHECK_EQ(j["tokenizer"]["vocab_size"].get<int>(), v.n_vocab);
        CHECK_EQ(j["tokenizer"]["bos_id"].get<int>(), v.bos);
        CHECK_EQ(j["tokenizer"]["eos_id"].get<int>(), v.eos);
        CHECK_EQ(j["tokenizer"]["pre"].get<std::string>(), std::string(v.pre));
        CHECK(j["tensor_types"].empty());
    }
    const std::string v3 = moe_test::shared_fixture("vocab/deepseek-v3/tokenizer.json");
    if (!v3.empty()) {
        ++seen;
        const auto j = info_json(v3);
        CHECK(!j["has_weights"].get<bool>());
        CHECK_EQ(j["tokenizer"]["bos_id"].get<int>(), 0);
        CHECK_EQ(j["tokenizer"]["eos_id"].get<int>(), 1);
        CHECK(j["chat_template"]["present"].get<bool>());
    }
    if (seen == 0) MOE_SKIP("no vocab fixtures");
}

MOE_TEST(info_text_output_and_bad_input) {
    const std::string path = moe_test::data_path("models/fx-ds1-q8_0.gguf");
    if (path.empty()) MOE_SKIP("fx-ds1-q8_0.gguf absent");
    const RunResult r = run_moewb("info " + quote(path));
    CHECK_EQ(r.exit_code, 0);
    CHECK(r.out.find("architecture    deepseek") != std::string::npos);
    CHECK(r.out.find("memory plan") != std::string::npos);

    // A truncated copy is refused with a message naming the file; nothing crashes.
    const std::string bad = moe_test::temp_dir() + "/truncated.gguf";
    {
        std::ifstream in(path, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ofstream(bad, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    }
    std::string err;
    const RunResult rb = run_moewb("info " + quote(bad), &err);
    CHECK_EQ(rb.exit_code, 1);
    CHECK(err.find("truncated.gguf") != std::string::npos);
    CHECK(err.find("beyond the end of the file") != std::string::npos);

    CHECK_EQ(run_moewb("info").exit_code, 2);
    CHECK_EQ(run_moewb("info --kv f99 " + quote(path)).exit_code, 2);
    CHECK_EQ(run_moewb("nosuchcommand").exit_code, 2);
    std::string err2;
    CHECK_EQ(run_moewb("info /nonexistent/model.gguf", &err2).exit_code, 1);
    CHECK(err2.find("/nonexistent/model.gguf") != std::string::npos);
}

MOE_TEST(tokenize_prints_ids_and_pieces) {
    const std::string path = moe_test::data_path("models/fx-ds1-q8_0.gguf");
    if (path.empty()) MOE_SKIP("fx-ds1-q8_0.gguf absent");
    // shared/fixtures/README.md section 3: the `text` prompt with BOS.
    const RunResult r = run_moewb("tokenize " + quote(path) + " 'Hello world, this is a test of the routing.'");
    CHECK_EQ(r.exit_code, 0);
    CHECK_EQ(r.out, std::string("512 72 101 340 111 272 261 464 44 332 337 258 256 352 278 267 32 114 273 116 284 46\n"));
    const RunResult nb = run_moewb("tokenize --no-bos " + quote(path) + " 'Hello'");
    CHECK_EQ(nb.out.rfind("512", 0), std::string::npos);
    // Special-token text becomes the special token unless --no-special.
    const std::string eos = "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>";
    CHECK_EQ(run_moewb("tokenize --no-bos " + quote(path) + " 'H" + eos + "'").out, std::string("72 513\n"));
    const RunResult plain = run_moewb("tokenize --no-bos --no-special " + quote(path) + " 'H" + eos + "'");
    CHECK(plain.out.find("513") == std::string::npos);
    CHECK(plain.out.size() > 20);
    // A token that ends inside a UTF-8 character shows its bytes escaped (the 514 vocab has no CJK tokens).
    const RunResult cjk = run_moewb("tokenize --pieces --no-bos " + quote(path) + " '\xe4\xbd\xa0'");
    CHECK(cjk.out.find("'\\xe4'") != std::string::npos);
    CHECK(cjk.out.find("3 tokens") != std::string::npos);
    const RunResult p = run_moewb("tokenize --pieces " + quote(path) + " 'Hi'");
    CHECK(p.out.find("'Hi'") != std::string::npos || p.out.find("'H'") != std::string::npos);
    CHECK(p.out.find("tokens") != std::string::npos);
}

MOE_TEST(info_json_on_hf_folder_with_fp8_and_mtp) {
    namespace hf = moe_test::hf;
    const std::string folder = moe_test::temp_dir() + "/ds3-fp8";
    auto written = hf::build_folder(folder, hf::config_deepseek_v3());
    REQUIRE_OK(written);
    // What the folder holds, MTP layer left out: weights' elements, and bytes per type row.
    uint64_t params = 0, bytes = 0;
    std::map<std::string, std::pair<uint64_t, uint64_t>> rows;  // type -> (tensors, bytes)
    for (const hf::Tensor& t : *written) {
        if (t.mtp) continue;
        const bool scale = hf::is_scale_name(t.name);
        const std::string type = scale ? "f32 (fp8 block scales)"
                                 : t.dtype == moe::SafetensorsDtype::F8_E4M3 ? "f8_e4m3"
                                 : t.dtype == moe::SafetensorsDtype::BF16    ? "bf16"
                                                                             : "f32";
        rows[type].first += 1;
        rows[type].second += t.data.size();
        bytes += t.data.size();
        if (scale) continue;
        uint64_t n = 1;
        for (uint64_t d : t.shape) n *= d;
        params += n;
    }
    const auto j = info_json(folder);
    CHECK_EQ(j["format"].get<std::string>(), std::string("safetensors"));
    CHECK_EQ(j["architecture"].get<std::string>(), std::string("deepseek2"));
    CHECK_EQ(j["source_architecture"].get<std::string>(), std::string("deepseek_v3"));
    CHECK(j["has_weights"].get<bool>());
    CHECK_EQ(j["parameters"]["total"].get<uint64_t>(), params);
    CHECK_EQ(j["parameters"]["in_tensors"].get<uint64_t>(), params);
    CHECK(j["parameters"]["active"].get<uint64_t>() < params);
    CHECK_EQ(j["layers"]["count"].get<int>(), 3);
    CHECK_EQ(j["moe"]["routed_experts"].get<int>(), 8);
    CHECK_EQ(j["attention"]["q_lora_rank"].get<int>(), 48);
    CHECK_EQ(j["quantization"].get<std::string>(), std::string("fp8"));
    CHECK_EQ(j["mtp_layers_ignored"].get<int>(), 1);
    CHECK_EQ(j["tensor_types"].size(), rows.size());
    for (const auto& row : j["tensor_types"]) {
        const std::string type = row["type"].get<std::string>();
        CHECK_EQ(row["tensors"].get<uint64_t>(), rows[type].first);
        CHECK_EQ(row["bytes"].get<uint64_t>(), rows[type].second);
    }
    CHECK_EQ(j["tensor_types"][0]["type"].get<std::string>(), std::string("f8_e4m3"));
    CHECK_EQ(j["memory"]["weight_bytes"].get<uint64_t>(), bytes);
    const auto& t = j["tokenizer"];
    CHECK_EQ(t["vocab_size"].get<int>(), hf::k_tokenizer_vocab);
    CHECK_EQ(t["merges"].get<int>(), hf::k_tokenizer_merges);
    CHECK_EQ(t["special_tokens"].get<int>(), 2);
    CHECK_EQ(t["bos_id"].get<int>(), hf::k_bos_id);
    CHECK_EQ(t["eos_id"].get<int>(), hf::k_eos_id);
    CHECK(t["add_bos"].get<bool>());
    CHECK_EQ(t["pre"].get<std::string>(), std::string("deepseek-v3"));
    CHECK(j["chat_template"]["present"].get<bool>());
    CHECK(j["warnings"].empty());

    const RunResult text = run_moewb("info " + quote(folder));
    CHECK_EQ(text.exit_code, 0);
    CHECK(text.out.find("format          safetensors") != std::string::npos);
    CHECK(text.out.find("f8_e4m3") != std::string::npos);
}

MOE_TEST(info_json_survives_paths_that_are_not_utf8) {
    // A folder named with a 0xFF byte: the JSON output replaces it instead of aborting.
    const std::string folder = moe_test::temp_dir() + "/tok-\xff";
    std::filesystem::create_directories(folder);
    REQUIRE_OK(moe_test::hf::write_text(folder + "/tokenizer.json", moe_test::hf::tokenizer_json()));
    const RunResult r = run_moewb("info --json " + quote(folder));
    CHECK_EQ(r.exit_code, 0);
    const auto j = nlohmann::json::parse(r.out, nullptr, false);
    REQUIRE(!j.is_discarded());
    CHECK_EQ(j["format"].get<std::string>(), std::string("tokenizer"));
    CHECK(j["path"].get<std::string>().find("tok-\xEF\xBF\xBD") != std::string::npos);
}

MOE_TEST(make_fixture_then_info_and_tokenize) {
    const std::string dir = moe_test::temp_dir();
    std::string err;
    const RunResult g = run_moewb("make-fixture --arch deepseek2 --preset tiny --layers 3 --experts 8 --type q8_0 "
                                  "--mla-layout split --seed 3 --quiet " + quote(dir + "/mf.gguf"), &err);
    REQUIRE(g.exit_code == 0);
    CHECK(g.out.find("mf.gguf: deepseek2 q8_0 gguf") != std::string::npos);
    CHECK(g.out.find(" params, ") != std::string::npos && g.out.find(" s (") != std::string::npos);
    const auto j = info_json(dir + "/mf.gguf");
    CHECK_EQ(j["architecture"].get<std::string>(), std::string("deepseek2"));
    CHECK_EQ(j["layers"]["count"].get<int>(), 3);
    CHECK_EQ(j["moe"]["routed_experts"].get<int>(), 8);
    CHECK_EQ(j["attention"]["q_lora_rank"].get<int>(), 64);
    CHECK_EQ(j["vocab_size"].get<int>(), 512);
    CHECK_EQ(j["tokenizer"]["pre"].get<std::string>(), std::string("deepseek-v3"));
    CHECK(j["chat_template"]["present"].get<bool>());
    CHECK(j["warnings"].empty());
    CHECK_EQ(j["parameters"]["total"].get<uint64_t>(), j["parameters"]["in_tensors"].get<uint64_t>());

    const RunResult h = run_moewb("make-fixture --arch llama --format safetensors --type bf16 --quiet " +
                                  quote(dir + "/mf-llama"));
    REQUIRE(h.exit_code == 0);
    const auto jh = info_json(dir + "/mf-llama");
    CHECK_EQ(jh["format"].get<std::string>(), std::string("safetensors"));
    CHECK_EQ(jh["architecture"].get<std::string>(), std::string("llama"));
    CHECK_EQ(jh["attention"]["kv_heads"].get<int>(), 2);
    const RunResult t = run_moewb("tokenize --no-bos " + quote(dir + "/mf-llama") + " 'Hello'");
    CHECK_EQ(t.exit_code, 0);
    CHECK(!t.out.empty());

    CHECK_EQ(run_moewb("make-fixture --help").exit_code, 0);
    CHECK_EQ(run_moewb("make-fixture --arch deepseek2").exit_code, 2);  // no OUT
    CHECK_EQ(run_moewb("make-fixture " + quote(dir + "/x.gguf")).exit_code, 2);  // no --arch
    std::string bad;
    CHECK_EQ(run_moewb("make-fixture --arch deepseek2 --format safetensors --type q8_0 " + quote(dir + "/x"), &bad)
                 .exit_code, 2);
    CHECK(bad.find("safetensors") != std::string::npos);
    CHECK_EQ(run_moewb("make-fixture --arch llama --preset v3 " + quote(dir + "/x.gguf")).exit_code, 2);
    CHECK_EQ(run_moewb("make-fixture --arch deepseek2 --layers 2x " + quote(dir + "/x.gguf")).exit_code, 2);
}
