// End-to-end tests of the model-running commands: `moewb run --ids` reproduces the llama.cpp greedy tokens,
// `moewb logits --all-positions` the reference logits, `moewb routing --json` the reference expert sets and the
// documented JSON shape; `moewb bench` prints its figures and stores them in SQLite; `moewb chat` holds a
// conversation on stdin; bad input exits with a message.
#include "check.h"
#include "ref_files.h"
#include "cli_run.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Json = nlohmann::json;

using moe_test::read_f32;
using moe_test::read_json;

std::string ids_arg(const std::vector<int32_t>& ids) {
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

struct Fixture {
    std::string model;
    std::string refs;  // path prefix of the refs
    std::vector<int32_t> tokens;
};

Fixture fixture(const std::string& name) {
    Fixture f;
    f.model = moe_test::data_path("models/" + name + ".gguf");
    const std::string tokens = moe_test::data_path("refs/" + name + ".ids.tokens.json");
    if (f.model.empty() || tokens.empty()) MOE_SKIP(name + " fixture absent");
    f.refs = tokens.substr(0, tokens.size() - std::strlen(".tokens.json"));
    f.tokens = read_json(tokens)["tokens"].get<std::vector<int32_t>>();
    return f;
}

}  // namespace

MOE_TEST(run_ids_reproduces_reference_greedy_tokens) {
    for (const char* name : {"fx-ds2-v3-f32", "fx-ds1-f32"}) {
        const Fixture f = fixture(name);
        std::string err;
        const RunResult r = run_moewb("run " + quote(f.model) + " --tokens " + ids_arg(f.tokens) +
                                          " -n 32 --temp 0 --ids",
                                      &err);
        CHECK_EQ(r.exit_code, 0);
        const std::vector<int32_t> want = read_json(f.refs + ".greedy.json")["tokens"].get<std::vector<int32_t>>();
        std::string expected;
        for (size_t i = 0; i < want.size(); ++i) expected += (i ? " " : "") + std::to_string(want[i]);
        CHECK_EQ(r.out, expected + "\n");
        CHECK(err.find("tokens/s") != std::string::npos);  // the timing line
    }
}

MOE_TEST(logits_all_positions_match_reference) {
    const Fixture f = fixture("fx-ds2-v3-f32");
    const std::string out = moe_test::temp_dir() + "/logits.f32";
    const RunResult r = run_moewb("logits " + quote(f.model) + " --tokens " + ids_arg(f.tokens) +
                                  " --all-positions --out " + quote(out));
    CHECK_EQ(r.exit_code, 0);
    const std::vector<float> got = read_f32(out);
    const std::vector<float> want = read_f32(f.refs + ".logits.f32");
    REQUIRE(got.size() == want.size());
    double d = 0;
    for (size_t i = 0; i < got.size(); ++i) d = std::max(d, double(std::fabs(got[i] - want[i])));
    CHECK(d <= 1e-4);
    // Without --all-positions: the last row only.
    CHECK_EQ(run_moewb("logits " + quote(f.model) + " --tokens 5,17 --kv f16 --out " + quote(out)).exit_code, 0);
    CHECK_EQ(std::filesystem::file_size(out), uint64_t(514 * 4));
}

MOE_TEST(routing_json_matches_reference_expert_sets) {
    const Fixture f = fixture("fx-ds2-v3-f32");
    const RunResult r = run_moewb("routing " + quote(f.model) + " --tokens " + ids_arg(f.tokens) + " --json");
    CHECK_EQ(r.exit_code, 0);
    const Json got = Json::parse(r.out);
    const Json want = read_json(f.refs + ".routing.json");
    CHECK(got["tokens"].get<std::vector<int32_t>>() == f.tokens);
    REQUIRE(got["layers"].size() == want["prompt"].size());
    for (size_t l = 0; l < want["prompt"].size(); ++l) {
        const Json& gl = got["layers"][l];
        const Json& wl = want["prompt"][l];
        CHECK_EQ(gl["layer"].get<int>(), wl["layer"].get<int>());
        CHECK(gl["stats"].contains("entropy_bits"));
        for (size_t p = 0; p < f.tokens.size(); ++p) {
            // Descending selection score: the reference's order.
            CHECK(gl["experts"][p].get<std::vector<int>>() == wl["experts"][p].get<std::vector<int>>());
            for (size_t j = 0; j < wl["weights"][p].size(); ++j)
                CHECK_NEAR(gl["weights"][p][j].get<double>(), wl["weights"][p][j].get<double>(), 1e-5);
        }
    }
    const RunResult text = run_moewb("routing " + quote(f.model) + " --tokens 5,17");
    CHECK(text.out.find("entropy") != std::string::npos);
}

MOE_TEST(bench_prints_figures_and_stores_them) {
    const Fixture f = fixture("fx-ds2-v3-f32");
    const std::string db = moe_test::temp_dir() + "/bench.sqlite";
    std::string err;
    const RunResult r = run_moewb("bench " + quote(f.model) + " -p 32 -n 8 -r 2 -t 2 --json --db " + quote(db), &err);
    REQUIRE(r.exit_code == 0);
    const Json j = Json::parse(r.out);
    for (const char* key : {"pp_tokens_per_s", "tg_tokens_per_s", "bytes_per_token", "membw_gb_per_s",
                            "tg_membw_fraction", "weights_read_gb_per_s", "membw_probe_bytes"})
        CHECK(j.contains(key) && j[key].get<double>() > 0.0);
    CHECK(j["bytes_per_token"].get<double>() > 1e5);  // the v3 fixture reads ~0.6 MB of f32 weights per token
    CHECK(std::filesystem::exists(db) && std::filesystem::file_size(db) > 0);
    CHECK_EQ(j["db"].get<std::string>(), db);
    const RunResult m = run_moewb("bench --membw --json -t 1");
    CHECK_EQ(m.exit_code, 0);
    CHECK(Json::parse(m.out)["membw_gb_per_s"].get<double>() > 0.1);
}

MOE_TEST(chat_holds_a_conversation_on_stdin) {
    const Fixture f = fixture("fx-ds2-v3-f32");
    const std::string input = moe_test::temp_dir() + "/chat-input.txt";
    std::ofstream(input) << "Hello\nAgain\n/exit\n";
    std::string err;
    const RunResult r = run_moewb("chat " + quote(f.model) + " -n 5 --seed 1 < " + quote(input), &err);
    CHECK_EQ(r.exit_code, 0);
    // Two replies, each followed by its statistics line.
    size_t count = 0;
    for (size_t at = err.find("tokens/s"); at != std::string::npos; at = err.find("tokens/s", at + 1)) ++count;
    CHECK(count >= 2);
    CHECK(err.find("reused") != std::string::npos);
}

MOE_TEST(run_refuses_bad_input_with_a_message) {
    const Fixture f = fixture("fx-ds2-v3-f32");
    std::string err;
    CHECK_EQ(run_moewb("run " + quote(f.model) + " --tokens 1,99999 -n 2", &err).exit_code, 1);
    CHECK(err.find("99999") != std::string::npos);
    CHECK_EQ(run_moewb("run " + quote(f.model), &err).exit_code, 1);
    CHECK(err.find("-p TEXT") != std::string::npos);
    CHECK_EQ(run_moewb("run " + quote(f.model) + " -p hi --top-p 2", &err).exit_code, 2);
    CHECK_EQ(run_moewb("run /nonexistent.gguf -p hi", &err).exit_code, 1);
    CHECK(err.find("/nonexistent.gguf") != std::string::npos);
}

// Issue 3: peak resident memory while generating stays under the model file's size plus the KV cache plus 10%
// (the weights are mapped, not copied). A 490 MiB f16 model with DeepSeek's 102400-token vocabulary (the
// tokenizer's tables and the file's metadata are the heap that stays: 572 MiB before the GGUF metadata was freed
// after loading and the tokenizer's copies of the token texts dropped, 526 now, limit 539), every weight read during
// the run.
MOE_TEST(generation_maps_weights_instead_of_copying_them) {
    const std::string model = moe_test::temp_dir() + "/rss.gguf";
    REQUIRE(
        run_moewb("make-fixture --arch deepseek2 --preset tiny --embd 512 --layers 12 --experts 32 --experts-used 32 "
                  "--ff-exp 256 --ff 1024 --heads 8 --kv-lora 128 --q-lora 256 --vocab 102400 --type f16 --quiet " +
                  quote(model))
            .exit_code == 0);
    const double file_mb = double(std::filesystem::file_size(model)) / (1024.0 * 1024.0);
    std::string err;
    const RunResult r = run_moewb("run " + quote(model) + " -p 'Hello there' -n 16 --ctx 64 -t 2", &err);
    REQUIRE(r.exit_code == 0);
    const size_t at = err.find("peak RSS ");
    REQUIRE(at != std::string::npos);
    const double rss_mb = std::stod(err.substr(at + 9));
    // KV cache: 12 layers x 64 positions x (128 + rope) floats: well under 1 MB.
    std::printf("  model file %.1f MB, peak RSS %.1f MB\n", file_mb, rss_mb);
    CHECK(rss_mb < file_mb * 1.10 + 1.0);
    CHECK(rss_mb > file_mb * 0.5);  // the weights were really read
}
