// Whole models on the GPU (--device cuda: the plugin, weights placed on the device, OffloadBackend) against the
// CPU engine and the llama.cpp references of shared/fixtures, for every fixture model and both prompts (text, ids),
// with the fixture README's tolerances (section 5): F32 files max |dlogit| <= 1e-4 at every prompt position and every
// greedy step, equal expert sets, weights within 1e-5; quantized files max <= 1e-2, rms <= 2e-3, >= 97% sets.
// And a whole generation at temperature 0 equal to the CPU's token for token on the F32 fixtures, also with the
// routed experts kept on the CPU (hybrid layout). No CUDA device or plugin: skipped (exit 77) with the reason.
#include "check.h"
#include "ref_files.h"

#include "backend/backend_plugin.h"
#include "model/model.h"
#include "runtime/generator.h"
#include "runtime/kv_cache.h"
#include "runtime/session.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

namespace {

using moe_test::read_f32;
using moe_test::read_json;

const char* kModels[] = {"fx-ds1-f32",    "fx-ds1-q8_0",    "fx-ds2-lite-f32",  "fx-ds2-lite-q8_0",
                         "fx-ds2-v3-f32", "fx-ds2-v3-q8_0", "fx-ds2-v3q-q4_k_m"};

void require_gpu() {
    static std::string why = [] {
        auto b = moe::load_cuda_backend(0);
        return b.ok() ? std::string() : b.error();
    }();
    if (!why.empty()) MOE_SKIP(why);
}

std::unique_ptr<moe::Model> load(const std::string& path, moe::DeviceChoice device, bool experts_on_cpu = false) {
    moe::ModelLoadOptions o;
    o.n_threads = 2;
    o.device = device;
    o.experts_on_cpu = experts_on_cpu;
    auto m = moe::Model::load(path, o);
    REQUIRE_OK(m);
    if (device == moe::DeviceChoice::Cuda) REQUIRE(std::string((*m)->device_kind()) == "cuda");
    return std::move(m).value();
}

struct Run {
    std::vector<float> prompt_logits;             // [n_tokens][n_vocab]
    std::vector<std::vector<float>> step_logits;  // per greedy step
    std::vector<std::vector<int32_t>> ids;        // per (layer slot, token) in call order
    std::vector<std::vector<float>> weights;
};

// The prompt with all logits, then the reference's greedy tokens fed one at a time (teacher forcing).
Run run(moe::Model& m, const std::vector<int32_t>& tokens, const std::vector<int32_t>& greedy) {
    Run r;
    auto cache = moe::KvCache::create(m.backend(), m.hparams(), 256, moe::KvType::F32);
    REQUIRE_OK(cache);
    const int64_t k = m.hparams().n_expert_used;
    moe::RoutingCallback cb = [&](int32_t, int64_t, int64_t n, const int32_t* ids, const float* w) {
        for (int64_t t = 0; t < n; ++t) {
            r.ids.emplace_back(ids + t * k, ids + (t + 1) * k);
            r.weights.emplace_back(w + t * k, w + (t + 1) * k);
        }
    };
    REQUIRE_OK(m.forward(**cache, tokens, 0, true, r.prompt_logits, &cb));
    for (size_t s = 0; s + 1 < greedy.size(); ++s) {
        std::vector<float> logits;
        const int32_t one[] = {greedy[s]};
        REQUIRE_OK(m.forward(**cache, one, static_cast<int32_t>(tokens.size() + s), false, logits, &cb));
        r.step_logits.push_back(std::move(logits));
    }
    return r;
}

struct Diff {
    double max = 0, sum_sq = 0;
    int64_t n = 0;
    void add(const std::vector<float>& a, const std::vector<float>& b) {
        REQUIRE(a.size() == b.size());
        for (size_t i = 0; i < a.size(); ++i) {
            const double d = std::fabs(double(a[i]) - double(b[i]));
            max = std::max(max, d);
            sum_sq += d * d;
        }
        n += int64_t(a.size());
    }
    double rms() const { return n ? std::sqrt(sum_sq / double(n)) : 0.0; }
};

void check_case(const std::string& name, const std::string& which) {
    require_gpu();
    const std::string path = moe_test::shared_fixture("models/" + name + ".gguf");
    const std::string tok = moe_test::shared_fixture("refs/" + name + "." + which + ".tokens.json");
    if (path.empty() || tok.empty()) MOE_SKIP("fixture " + name + " not found");
    const std::string base = tok.substr(0, tok.size() - std::string(".tokens.json").size());
    const bool f32 = name.find("f32") != std::string::npos;
    const std::vector<int32_t> tokens = read_json(base + ".tokens.json")["tokens"].get<std::vector<int32_t>>();
    const std::vector<int32_t> greedy = read_json(base + ".greedy.json")["tokens"].get<std::vector<int32_t>>();

    auto gpu_model = load(path, moe::DeviceChoice::Cuda);
    auto cpu_model = load(path, moe::DeviceChoice::Cpu);
    const Run g = run(*gpu_model, tokens, greedy);
    const Run c = run(*cpu_model, tokens, greedy);

    // Against the reference logits and against the CPU engine.
    Diff vs_ref, vs_cpu;
    vs_ref.add(g.prompt_logits, read_f32(base + ".logits.f32"));
    vs_cpu.add(g.prompt_logits, c.prompt_logits);
    const int64_t n_vocab = gpu_model->n_vocab();
    int64_t greedy_equal = 0;
    for (size_t s = 0; s < g.step_logits.size(); ++s) {
        vs_cpu.add(g.step_logits[s], c.step_logits[s]);
        const auto& l = g.step_logits[s];
        greedy_equal += int32_t(std::max_element(l.begin(), l.end()) - l.begin()) == greedy[s + 1] ? 1 : 0;
    }
    // Routing: the same expert sets as the CPU (the CPU engine is checked against the references' routing).
    REQUIRE(g.ids.size() == c.ids.size());
    int64_t sets_equal = 0;
    double max_dw = 0;
    for (size_t i = 0; i < g.ids.size(); ++i) {
        std::vector<int32_t> a = g.ids[i], b = c.ids[i];
        std::sort(a.begin(), a.end());
        std::sort(b.begin(), b.end());
        if (a != b) continue;
        ++sets_equal;
        for (size_t j = 0; j < g.ids[i].size(); ++j) {
            const size_t at = std::find(c.ids[i].begin(), c.ids[i].end(), g.ids[i][j]) - c.ids[i].begin();
            max_dw = std::max(max_dw, double(std::fabs(g.weights[i][j] - c.weights[i][at])));
        }
    }
    const double set_fraction = g.ids.empty() ? 1.0 : double(sets_equal) / double(g.ids.size());
    std::fprintf(stderr,
                 "%s %s: max|dlogit| vs ref %.2e, vs cpu %.2e (rms %.2e); greedy %lld/%zu; sets %.4f, max dw %.2e\n",
                 name.c_str(), which.c_str(), vs_ref.max, vs_cpu.max, vs_cpu.rms(), (long long)greedy_equal,
                 g.step_logits.size(), set_fraction, max_dw);
    (void)n_vocab;
    if (f32) {
        CHECK(vs_ref.max <= 1e-4);
        CHECK(vs_cpu.max <= 1e-4);
        CHECK(greedy_equal == int64_t(g.step_logits.size()));
        // Equal sets except at a near tie (the README: the lite model has selection margins near 1e-6, below the
        // float32 difference of two summation orders).
        CHECK(set_fraction >= 0.995);
        CHECK(max_dw <= 1e-5);
    } else {
        CHECK(vs_ref.max <= 1e-2);
        CHECK(vs_cpu.max <= 1e-2);
        CHECK(vs_cpu.rms() <= 2e-3);
        CHECK(set_fraction >= 0.97);
        CHECK(greedy_equal + 2 >= int64_t(g.step_logits.size()));
    }
}

#define MOE_GPU_MODEL_CASE(fn, model) \
    MOE_TEST(fn##_text) {             \
        check_case(model, "text");    \
    }                                 \
    MOE_TEST(fn##_ids) {              \
        check_case(model, "ids");     \
    }

MOE_GPU_MODEL_CASE(ds1_f32, "fx-ds1-f32")
MOE_GPU_MODEL_CASE(ds1_q8_0, "fx-ds1-q8_0")
MOE_GPU_MODEL_CASE(ds2_lite_f32, "fx-ds2-lite-f32")
MOE_GPU_MODEL_CASE(ds2_lite_q8_0, "fx-ds2-lite-q8_0")
MOE_GPU_MODEL_CASE(ds2_v3_f32, "fx-ds2-v3-f32")
MOE_GPU_MODEL_CASE(ds2_v3_q8_0, "fx-ds2-v3-q8_0")
MOE_GPU_MODEL_CASE(ds2_v3q_q4_k_m, "fx-ds2-v3q-q4_k_m")

// generate() at temperature 0 for 48 tokens: the GPU's tokens equal the CPU's, with all weights on the GPU and
// with the routed experts kept in host memory.
MOE_TEST(greedy_generation_equals_cpu_on_f32_fixtures) {
    require_gpu();
    int found = 0;
    for (const char* name : kModels) {
        if (std::string(name).find("f32") == std::string::npos) continue;
        const std::string path = moe_test::shared_fixture(std::string("models/") + name + ".gguf");
        if (path.empty()) continue;
        ++found;
        std::vector<int32_t> want;
        for (int mode = 0; mode < 3; ++mode) {
            auto m = load(path, mode == 0 ? moe::DeviceChoice::Cpu : moe::DeviceChoice::Cuda, mode == 2);
            auto session = moe::Session::create(*m, {512, moe::KvType::F32, false});
            REQUIRE_OK(session);
            moe::GenerateOptions opt;
            opt.sampler.temperature = 0.0f;
            opt.max_tokens = 48;
            opt.stop_at_eog = false;
            const std::vector<int32_t> prompt = {1, 100, 200, 300, 400, 500, 600};
            auto r = moe::generate(**session, prompt, opt);
            REQUIRE_OK(r);
            if (mode == 0) {
                want = r->tokens;
                CHECK(want.size() == 48u);
            } else {
                if (r->tokens != want) std::fprintf(stderr, "%s: generation differs (mode %d)\n", name, mode);
                CHECK(r->tokens == want);
            }
        }
    }
    if (found == 0) MOE_SKIP("no F32 fixture models found");
}

// A GPU that is asked for but absent, or a plugin that cannot be loaded, leaves a working CPU model and a note.
MOE_TEST(no_gpu_falls_back_to_cpu_with_a_note) {
    const std::string path = moe_test::shared_fixture("models/fx-ds2-lite-f32.gguf");
    if (path.empty()) MOE_SKIP("fixture fx-ds2-lite-f32 not found");
    auto plugin = moe::load_cuda_backend(0);
    if (plugin.ok()) MOE_SKIP("a CUDA device is present: the fallback is not exercised here");
    moe::ModelLoadOptions o;
    o.n_threads = 2;
    o.device = moe::DeviceChoice::Auto;
    auto m = moe::Model::load(path, o);
    REQUIRE_OK(m);
    CHECK(std::string((*m)->device_kind()) == "cpu");
    CHECK(!(*m)->device_note().empty());
    CHECK((*m)->device_note().find("using the CPU") != std::string::npos);
    auto cache = moe::KvCache::create((*m)->backend(), (*m)->hparams(), 64, moe::KvType::F32);
    REQUIRE_OK(cache);
    std::vector<float> logits;
    const int32_t toks[] = {1, 2, 3};
    REQUIRE_OK((*m)->forward(**cache, toks, 0, false, logits));
    CHECK(int64_t(logits.size()) == (*m)->n_vocab());
}

}  // namespace
