// Models written by make-fixture in different layouts describe the same network, so the engine must give the same
// logits for each: HF safetensors folder vs GGUF (tests the HF tensor names, [out, in] shapes and RoPE conventions:
// rotate-half for HF deepseek v1 / llama against llama.cpp's permuted rows), split attn_k_b/attn_v_b vs legacy
// attn_kv_b MLA, multi-threaded vs one thread, micro-batched vs one batch, token-by-token decode vs one batch; an
// F16 KV cache within the F16 tolerance. Also architectures at other shapes and seeds (GQA, q_lora on/off, groups).
#include "check.h"

#include "model/fixture_writer.h"
#include "model/model.h"
#include "runtime/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using moe::FixtureSpec;

std::string write(FixtureSpec spec, const std::string& name) {
    const std::string path = moe_test::temp_dir() + "/" + name + (spec.format == moe::FixtureFormat::Gguf ? ".gguf" : "");
    spec.n_threads = 2;
    auto r = moe::write_fixture(spec, path);
    REQUIRE_OK(r);
    return path;
}

// All-position logits of `tokens` for the model at `path`.
std::vector<float> logits_of(const std::string& path, const std::vector<int32_t>& tokens, int threads = 2,
                             int64_t ubatch = 512, moe::KvType kv = moe::KvType::F32, bool one_by_one = false) {
    auto model = moe::Model::load(path, {threads, ubatch});
    REQUIRE_OK(model);
    auto cache = moe::KvCache::create((*model)->backend(), (*model)->hparams(), 64, kv);
    REQUIRE_OK(cache);
    std::vector<float> all, logits;
    if (!one_by_one) {
        REQUIRE_OK((*model)->forward(**cache, tokens, 0, true, all));
        return all;
    }
    for (size_t i = 0; i < tokens.size(); ++i) {
        const int32_t one[] = {tokens[i]};
        REQUIRE_OK((*model)->forward(**cache, one, static_cast<int32_t>(i), false, logits));
        all.insert(all.end(), logits.begin(), logits.end());
    }
    return all;
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
    REQUIRE(a.size() == b.size());
    double m = 0.0;
    for (size_t i = 0; i < a.size(); ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

const std::vector<int32_t> k_tokens = {1, 17, 300, 42, 7, 99, 256, 128, 3, 511, 64, 200, 5, 6, 7, 400};

FixtureSpec spec_of(moe::Arch arch, uint64_t seed) {
    auto s = moe::fixture_preset(arch, "tiny");
    REQUIRE_OK(s);
    FixtureSpec spec = *s;
    spec.seed = seed;
    return spec;
}

void check_hf_equals_gguf(FixtureSpec spec, const std::string& name) {
    spec.format = moe::FixtureFormat::Gguf;
    const std::string gguf = write(spec, name + "-gguf");
    spec.format = moe::FixtureFormat::Safetensors;
    const std::string hf = write(spec, name + "-hf");
    const std::vector<float> a = logits_of(gguf, k_tokens);
    const std::vector<float> b = logits_of(hf, k_tokens);
    const double d = max_diff(a, b);
    std::printf("  %s: HF vs GGUF max|dlogit| %.3g over %zu logits\n", name.c_str(), d, a.size());
    CHECK(d <= 1e-4);
    // And the logits are not trivially equal because they are all zero.
    double spread = 0.0;
    for (float v : a) spread = std::max(spread, double(std::fabs(v)));
    CHECK(spread > 1e-3);
}

}  // namespace

MOE_TEST(hf_folder_equals_gguf_deepseek2_v3_style) { check_hf_equals_gguf(spec_of(moe::Arch::Deepseek2, 11), "ds2-v3"); }

MOE_TEST(hf_folder_equals_gguf_deepseek2_lite_style) {
    FixtureSpec spec = spec_of(moe::Arch::Deepseek2, 12);
    spec.q_lora_rank = 0;
    spec.gating = moe::Gating::Softmax;
    spec.expert_bias = false;
    spec.expert_weights_norm = false;
    spec.expert_weights_scale = 1.0;
    spec.n_expert_shared = 2;
    spec.yarn_log_multiplier = 0.0707;
    check_hf_equals_gguf(spec, "ds2-lite");
}

MOE_TEST(hf_folder_equals_gguf_deepseek_v1) { check_hf_equals_gguf(spec_of(moe::Arch::Deepseek, 13), "ds1"); }

MOE_TEST(hf_folder_equals_gguf_llama_gqa) { check_hf_equals_gguf(spec_of(moe::Arch::Llama, 14), "llama"); }

MOE_TEST(split_mla_layout_equals_legacy) {
    FixtureSpec spec = spec_of(moe::Arch::Deepseek2, 21);
    const std::string legacy = write(spec, "legacy");
    spec.mla_layout = moe::MlaLayout::Split;
    const std::string split = write(spec, "split");
    const double d = max_diff(logits_of(legacy, k_tokens), logits_of(split, k_tokens));
    std::printf("  split vs legacy MLA max|dlogit| %.3g\n", d);
    CHECK(d <= 1e-5);
}

MOE_TEST(group_limited_routing_other_shapes) {
    // V3-style routing with 4 groups of 8 experts, 2 groups kept, top-6; another width and seed.
    FixtureSpec spec = spec_of(moe::Arch::Deepseek2, 31);
    spec.n_embd = 96;
    spec.n_head = 3;
    spec.n_expert = 32;
    spec.n_expert_used = 6;
    spec.n_group = 4;
    spec.n_group_used = 2;
    spec.n_layer = 3;
    check_hf_equals_gguf(spec, "ds2-groups");
}

MOE_TEST(threads_batches_and_decode_agree) {
    const std::string path = write(spec_of(moe::Arch::Deepseek2, 41), "ds2-sched");
    const std::vector<float> base = logits_of(path, k_tokens, 2, 512);
    const double d_threads = max_diff(base, logits_of(path, k_tokens, 1, 512));
    const double d_ubatch = max_diff(base, logits_of(path, k_tokens, 2, 5));
    const double d_decode = max_diff(base, logits_of(path, k_tokens, 2, 512, moe::KvType::F32, true));
    const double d_f16 = max_diff(base, logits_of(path, k_tokens, 2, 512, moe::KvType::F16));
    std::printf("  1 vs 2 threads %.3g, micro-batches of 5 %.3g, token by token %.3g, F16 KV cache %.3g\n", d_threads,
                d_ubatch, d_decode, d_f16);
    CHECK(d_threads <= 1e-5);
    CHECK(d_ubatch <= 1e-5);
    CHECK(d_decode <= 1e-5);
    CHECK(d_f16 <= 1e-3);
    CHECK(d_f16 > 0.0);  // the F16 cache is really used
}

MOE_TEST(quantized_files_track_f32) {
    // The same draws as q8_0: logits close to the F32 file's (README: 1e-2..3e-2 for the shared fixtures).
    FixtureSpec spec = spec_of(moe::Arch::Deepseek2, 51);
    const std::string f32 = write(spec, "f32");
    spec.type = moe::GgmlType::Q8_0;
    const std::string q8 = write(spec, "q8");
    const double d = max_diff(logits_of(f32, k_tokens), logits_of(q8, k_tokens));
    std::printf("  q8_0 vs f32 max|dlogit| %.3g\n", d);
    CHECK(d <= 5e-2);
    CHECK(d > 0.0);
}
