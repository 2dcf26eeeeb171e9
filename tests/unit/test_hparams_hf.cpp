// HParams from Hugging Face config.json files of real models (tests/data/configs, reconstructed from
// spec deepseek.md section 4), their parameter counts against the spec's figures, and config errors.
#include "check.h"

#include "model/hparams.h"
#include "model/model_stats.h"
#include "model/tensor_layout.h"

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

using namespace moe;

namespace {

HParams load_config(const std::string& name) {
    const std::string path = moe_test::data_path("configs/" + name);
    REQUIRE(!path.empty());
    auto hp = hparams_from_hf_config(path);
    REQUIRE_OK(hp);
    return *hp;
}

std::string read_text(const std::string& name) {
    const std::string path = moe_test::data_path("configs/" + name);
    REQUIRE(!path.empty());
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Replaces the first occurrence of `from` in the text of a config (the test fails when it is absent).
std::string edit(std::string text, const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    REQUIRE(at != std::string::npos);
    return text.replace(at, from.size(), to);
}

bool contains(const std::string& haystack, const std::string& needle) {
    const bool found = haystack.find(needle) != std::string::npos;
    if (!found) std::fprintf(stderr, "  message: %s\n  lacks: %s\n", haystack.c_str(), needle.c_str());
    return found;
}

std::string error_of(const std::string& json_text) {
    auto hp = hparams_from_hf_json(json_text, "config.json");
    return hp.ok() ? std::string("<accepted>") : hp.error();
}

double billions(uint64_t n) { return static_cast<double>(n) / 1e9; }

// Sum of the required expected tensors' elements must equal count_params (two independent derivations).
void check_layout_sum(const HParams& hp, WeightLayout layout) {
    std::vector<TensorShapeRef> present;
    for (const ExpectedTensor& t : expected_tensors(hp, layout))
        if (t.required) present.push_back({t.name, t.shape});
    CHECK_EQ(count_params(present, &hp), count_params(hp).total);
    CHECK(validate_tensor_shapes(hp, layout, present, "model").ok());
}

}  // namespace

MOE_TEST(deepseek_v2_lite_config) {
    const HParams hp = load_config("deepseek-v2-lite.json");
    CHECK(hp.arch == Arch::Deepseek2);
    CHECK_EQ(hp.source_arch, std::string("deepseek_v2"));
    CHECK(hp.layout == WeightLayout::HuggingFace);
    CHECK_EQ(hp.n_layer, 27);
    CHECK_EQ(hp.q_lora_rank, 0);  // "q_lora_rank": null
    CHECK_EQ(hp.kv_lora_rank, 512);
    CHECK_EQ(hp.n_embd_head_k(), 192);
    CHECK_EQ(hp.n_expert, 64);
    CHECK_EQ(hp.n_expert_used, 6);
    CHECK_EQ(hp.n_expert_shared, 2);
    CHECK_EQ(hp.n_leading_dense, 1);
    CHECK(hp.gating == Gating::Softmax);
    CHECK(!hp.expert_weights_norm);
    CHECK_NEAR(hp.expert_weights_scale, 1.0, 0.0);
    CHECK(!hp.has_expert_bias);
    CHECK_EQ(hp.topk_method, std::string("greedy"));
    CHECK(hp.rope_scaling == RopeScaling::Yarn);
    CHECK_NEAR(hp.rope_factor, 40.0, 0.0);
    CHECK_EQ(hp.rope_original_ctx, 4096);
    CHECK_NEAR(hp.yarn_mscale_all_dim, 0.707, 1e-12);
    CHECK(hp.rope_interleaved);
    CHECK_NEAR(hp.yarn_attn_mscale(), 1.26080, 5e-6);  // spec 2.1
    CHECK_NEAR(hp.kq_scale(), 0.114721, 5e-7);
    const ParamCounts c = count_params(hp);  // spec 4: 15.706B / 2.661B (2.451B without the embedding)
    CHECK_NEAR(billions(c.total), 15.706, 0.0005);
    CHECK_NEAR(billions(c.active), 2.661, 0.0005);
    CHECK_NEAR(billions(c.active - c.embedding), 2.451, 0.0005);
}

MOE_TEST(deepseek_v2_config) {
    const HParams hp = load_config("deepseek-v2.json");
    CHECK_EQ(hp.q_lora_rank, 1536);
    CHECK_EQ(hp.n_expert, 160);
    CHECK_EQ(hp.n_group, 8);
    CHECK_EQ(hp.n_group_used, 3);
    CHECK_EQ(hp.topk_method, std::string("group_limited_greedy"));
    CHECK_NEAR(hp.expert_weights_scale, 16.0, 0.0);  // V2 scales when it does not renormalise
    const ParamCounts c = count_params(hp);  // spec 4: 235.74B / 21.38B
    CHECK_NEAR(billions(c.total), 235.74, 0.005);
    CHECK_NEAR(billions(c.active), 21.38, 0.005);
}

MOE_TEST(deepseek_v3_config) {
    const HParams hp = load_config("deepseek-v3.json");
    CHECK(hp.arch == Arch::Deepseek2);
    CHECK_EQ(hp.source_arch, std::string("deepseek_v3"));
    CHECK_EQ(hp.n_layer, 61);
    CHECK_EQ(hp.num_nextn_predict_layers, 1);
    CHECK_EQ(hp.n_leading_dense, 3);
    CHECK(!hp.is_moe_layer(2));
    CHECK(hp.is_moe_layer(3));
    CHECK(hp.is_moe_layer(60));
    CHECK(!hp.is_moe_layer(61));  // the MTP layer is not part of the main model
    CHECK(hp.gating == Gating::Sigmoid);
    CHECK(hp.expert_weights_norm);
    CHECK_NEAR(hp.expert_weights_scale, 2.5, 0.0);
    CHECK(hp.has_expert_bias);
    CHECK_EQ(hp.n_group, 8);
    CHECK_EQ(hp.n_group_used, 4);
    CHECK_EQ(hp.topk_method, std::string("noaux_tc"));
    CHECK_EQ(hp.hf_quant_method, std::string("fp8"));
    CHECK_EQ(hp.hf_fp8_block_rows, 128);
    CHECK_EQ(hp.hf_fp8_block_cols, 128);
    CHECK_NEAR(hp.yarn_attn_mscale(), 1.36889, 5e-6);
    CHECK_NEAR(hp.kq_scale(), 0.135234, 5e-7);
    const ParamCounts c = count_params(hp);  // spec 4: 671.026B computed (llama.cpp 671.03B) / 37.55B
    CHECK_NEAR(billions(c.total), 671.026, 0.0005);
    CHECK_NEAR(billions(c.active), 37.55, 0.005);
}

MOE_TEST(deepseek_moe_16b_config) {
    const HParams hp = load_config("deepseek-moe-16b-base.json");
    CHECK(hp.arch == Arch::Deepseek);
    CHECK_EQ(hp.head_dim, 128);
    CHECK_EQ(hp.n_head_kv, 16);
    CHECK_EQ(hp.n_rot, 128);
    CHECK(!hp.rope_interleaved);  // HF rotate-half
    CHECK(hp.rope_scaling == RopeScaling::None);
    CHECK_EQ(hp.n_ctx_train, 4096);
    CHECK_NEAR(hp.kq_scale(), 1.0 / std::sqrt(128.0), 1e-12);
    const ParamCounts c = count_params(hp);  // spec 4: 16.376B / 2.829B
    CHECK_NEAR(billions(c.total), 16.376, 0.0005);
    CHECK_NEAR(billions(c.active), 2.829, 0.0005);
}

MOE_TEST(llama_configs) {
    const HParams l2 = load_config("llama-2-7b.json");
    CHECK(l2.arch == Arch::Llama);
    CHECK_EQ(l2.head_dim, 128);
    CHECK_NEAR(l2.rms_eps, 1e-5, 1e-15);
    CHECK_EQ(count_params(l2).total, uint64_t{6738415616});  // the published Llama-2-7B size
    CHECK_EQ(count_params(l2).active, count_params(l2).total);

    const HParams tiny = load_config("tinyllama-1.1b.json");
    CHECK_EQ(tiny.n_head_kv, 4);  // GQA
    CHECK_EQ(count_params(tiny).total, uint64_t{1100048384});

    const HParams s = load_config("stories260k.json");  // llama2.c stories260K: tied classifier
    CHECK(s.tie_embeddings);
    CHECK_EQ(count_params(s).total, uint64_t{260032});
}

MOE_TEST(expected_tensor_lists_sum_to_param_counts) {
    for (const char* name : {"deepseek-v2-lite.json", "deepseek-v2.json", "deepseek-moe-16b-base.json",
                             "llama-2-7b.json", "tinyllama-1.1b.json", "stories260k.json", "deepseek-v3.json"}) {
        HParams hp = load_config(name);
        check_layout_sum(hp, WeightLayout::HuggingFace);
        if (hp.is_mla()) {
            check_layout_sum(hp, WeightLayout::GgufLegacyMla);
            check_layout_sum(hp, WeightLayout::GgufSplitMla);
        } else {
            check_layout_sum(hp, WeightLayout::Gguf);
        }
    }
}

MOE_TEST(v3_hf_names_fp8_scales_and_mtp) {
    const HParams hp = load_config("deepseek-v3.json");
    const std::vector<ExpectedTensor> expected = expected_tensors(hp, WeightLayout::HuggingFace);
    auto find = [&](const std::string& n) -> const ExpectedTensor* {
        for (const ExpectedTensor& t : expected)
            if (t.name == n) return &t;
        return nullptr;
    };
    using Shape = std::vector<int64_t>;
    const ExpectedTensor* q_a = find("model.layers.0.self_attn.q_a_proj.weight");
    REQUIRE(q_a != nullptr);
    CHECK(q_a->shape == Shape({1536, 7168}));
    const ExpectedTensor* q_a_s = find("model.layers.0.self_attn.q_a_proj.weight_scale_inv");
    REQUIRE(q_a_s != nullptr);
    CHECK(q_a_s->shape == Shape({12, 56}));
    CHECK(!q_a_s->required);
    const ExpectedTensor* kv_a_s = find("model.layers.5.self_attn.kv_a_proj_with_mqa.weight_scale_inv");
    REQUIRE(kv_a_s != nullptr);
    CHECK(kv_a_s->shape == Shape({5, 56}));  // ceil(576/128) rows: the edge block is padded
    const ExpectedTensor* kv_b = find("model.layers.5.self_attn.kv_b_proj.weight");
    REQUIRE(kv_b != nullptr);
    CHECK(kv_b->shape == Shape({32768, 512}));
    const ExpectedTensor* exp_down = find("model.layers.3.mlp.experts.255.down_proj.weight");
    REQUIRE(exp_down != nullptr);
    CHECK(exp_down->shape == Shape({7168, 2048}));
    const ExpectedTensor* bias = find("model.layers.3.mlp.gate.e_score_correction_bias");
    REQUIRE(bias != nullptr);
    CHECK(bias->shape == Shape({256}));
    CHECK(find("model.layers.2.mlp.gate.weight") == nullptr);  // dense layer
    CHECK(find("model.layers.2.mlp.gate_proj.weight_scale_inv") != nullptr);
    CHECK(find("model.embed_tokens.weight_scale_inv") == nullptr);  // embeddings stay BF16
    CHECK(find("model.layers.3.mlp.gate.weight_scale_inv") == nullptr);  // so does the router

    // A file listing: every expected tensor with its scales, the MTP layer 61, and one stray tensor.
    std::vector<TensorShapeRef> present;
    for (const ExpectedTensor& t : expected) present.push_back({t.name, t.shape});
    const uint64_t without_mtp = count_params(present, &hp);
    present.push_back({"model.layers.61.eh_proj.weight", {7168, 14336}});
    present.push_back({"model.layers.61.enorm.weight", {7168}});
    present.push_back({"model.rotary_emb.inv_freq", {32}});
    std::vector<std::string> warnings;
    CHECK(validate_tensor_shapes(hp, WeightLayout::HuggingFace, present, "model.safetensors", &warnings).ok());
    REQUIRE(warnings.size() == 1u);
    CHECK(contains(warnings[0], "model.rotary_emb.inv_freq"));
    CHECK_EQ(count_params(present, &hp), without_mtp + 32);  // MTP and scales are not counted
    CHECK_EQ(without_mtp, count_params(hp).total);
}

MOE_TEST(hf_shape_mismatch_and_missing_tensor) {
    const HParams hp = load_config("deepseek-v2-lite.json");
    std::vector<TensorShapeRef> present;
    for (const ExpectedTensor& t : expected_tensors(hp, WeightLayout::HuggingFace))
        if (t.name != "model.layers.4.mlp.experts.7.up_proj.weight") present.push_back({t.name, t.shape});
    Status s = validate_tensor_shapes(hp, WeightLayout::HuggingFace, present, "model-00002.safetensors");
    REQUIRE(!s.ok());
    CHECK(contains(s.message(), "model-00002.safetensors: tensor 'model.layers.4.mlp.experts.7.up_proj.weight': "
                                "missing (expected shape [1408, 2048] = [n_ff_exp=1408, n_embd=2048])"));
    for (TensorShapeRef& t : present)
        if (t.name == "model.layers.0.self_attn.q_proj.weight") t.shape = {3056, 2048};
    s = validate_tensor_shapes(hp, WeightLayout::HuggingFace, present, "m.safetensors");
    REQUIRE(!s.ok());
    // Problems are reported in model order: layer 0's shape first, then a count of the rest.
    CHECK_EQ(s.message(), std::string("m.safetensors: tensor 'model.layers.0.self_attn.q_proj.weight': shape "
                                      "[3056, 2048] disagrees with the hyper-parameters (expected [3072, 2048] = "
                                      "[n_head*(qk_nope+qk_rope)=3072, n_embd=2048]) (and 1 more tensor problems)"));
}

MOE_TEST(hf_semantics_variants) {
    const std::string lite = read_text("deepseek-v2-lite.json");
    // The old V2 remote code spelled greedy "gready".
    auto hp = hparams_from_hf_json(edit(lite, "\"topk_method\": \"greedy\"", "\"topk_method\": \"gready\""), "c");
    REQUIRE_OK(hp);
    CHECK_EQ(hp->topk_method, std::string("greedy"));
    // V2 code with norm_topk_prob renormalises and then does not scale.
    std::string normed = edit(lite, "\"norm_topk_prob\": false", "\"norm_topk_prob\": true");
    normed = edit(normed, "\"routed_scaling_factor\": 1.0", "\"routed_scaling_factor\": 16.0");
    hp = hparams_from_hf_json(normed, "c");
    REQUIRE_OK(hp);
    CHECK(hp->expert_weights_norm);
    CHECK_NEAR(hp->expert_weights_scale, 1.0, 0.0);
    // Newer transformers write rope_type instead of type; 2048.0 is an acceptable integer.
    std::string modern = edit(lite, "\"type\": \"yarn\"", "\"rope_type\": \"yarn\"");
    modern = edit(modern, "\"hidden_size\": 2048", "\"hidden_size\": 2048.0");
    hp = hparams_from_hf_json(modern, "c");
    REQUIRE_OK(hp);
    CHECK(hp->rope_scaling == RopeScaling::Yarn);
    CHECK_EQ(hp->n_embd, 2048);
    // Without rope_scaling there is no YaRN factor: kq_scale is 1/sqrt(192).
    hp = hparams_from_hf_json(edit(read_text("deepseek-v3.json"), "\"rope_scaling\": {", "\"rope_scaling_x\": {"), "c");
    REQUIRE_OK(hp);
    CHECK_NEAR(hp->kq_scale(), 1.0 / std::sqrt(192.0), 1e-12);
}

MOE_TEST(hf_config_errors_name_the_key) {
    const std::string lite = read_text("deepseek-v2-lite.json");
    CHECK_EQ(error_of(edit(lite, "\"deepseek_v2\"", "\"qwen3_moe\"")),
             std::string("config.json: model_type 'qwen3_moe' is not supported (supported: deepseek, deepseek_v2, "
                         "deepseek_v3, llama)"));
    CHECK_EQ(error_of(edit(lite, "\"hidden_size\"", "\"hidden_size_x\"")),
             std::string("config.json: key 'hidden_size': missing"));
    CHECK_EQ(error_of(edit(lite, "\"hidden_size\": 2048", "\"hidden_size\": \"2048\"")),
             std::string("config.json: key 'hidden_size': expected an integer, found string"));
    CHECK(contains(error_of(edit(lite, "\"num_experts_per_tok\": 6", "\"num_experts_per_tok\": 65")),
                   "config.json: deepseek_v2 hyper-parameters: n_expert_used = 65 is out of range [1, 64]"));
    CHECK(contains(error_of(edit(lite, "\"n_group\": 1", "\"n_group\": 5")), "n_group = 5 does not divide n_expert = 64"));
    CHECK(contains(error_of(edit(lite, "\"qk_rope_head_dim\": 64", "\"qk_rope_head_dim\": -64")),
                   "config.json: key 'qk_rope_head_dim': -64 is out of range [0, 1099511627776]"));
    CHECK(contains(error_of(edit(lite, "\"factor\": 40", "\"factor\": \"40\"")),
                   "key 'rope_scaling.factor': expected a number, found string"));
    CHECK(contains(error_of(edit(lite, "\"type\": \"yarn\"", "\"type\": \"dynamic\"")),
                   "key 'rope_scaling.type': 'dynamic' is not supported"));
    CHECK(contains(error_of(edit(lite, "\"topk_method\": \"greedy\"", "\"topk_method\": \"random\"")),
                   "topk_method 'random' is not supported"));
    CHECK(contains(error_of(edit(lite, "\"scoring_func\": \"softmax\"", "\"scoring_func\": \"relu\"")),
                   "key 'scoring_func': 'relu' is not supported"));
    CHECK(contains(error_of(edit(read_text("deepseek-v3.json"), "\"fp8\"", "\"awq\"")),
                   "key 'quantization_config.quant_method': 'awq' is not supported (supported: fp8)"));
    CHECK(contains(error_of(edit(lite, "\"vocab_size\": 102400", "\"vocab_size\": 18446744073709551615")),
                   "key 'vocab_size': integer 18446744073709551615 is too large"));
    CHECK(contains(error_of(edit(lite, "\"num_hidden_layers\": 27", "\"num_hidden_layers\": 27.5")),
                   "key 'num_hidden_layers': expected an integer, found 27.5"));
    CHECK(contains(error_of("{\"model_type\": \"llama\""), "config.json: not valid JSON"));
    CHECK(contains(error_of("{\"model_type\": \"llama\", \"model_type\": \"deepseek\"}"), "duplicate key 'model_type'"));
    CHECK_EQ(error_of("[1, 2]"), std::string("config.json: expected a JSON object, found array"));
    CHECK_EQ(error_of("{}"), std::string("config.json: key 'model_type': missing"));
    CHECK(contains(error_of(std::string(100000, '[')), "config.json: JSON nested deeper than 64 levels"));

    auto missing = hparams_from_hf_config("/nonexistent/dir/config.json");
    REQUIRE(!missing.ok());
    CHECK(contains(missing.error(), "/nonexistent/dir/config.json: cannot open"));
}

MOE_TEST(memory_plan_kv_sizes) {
    const HParams lite = load_config("deepseek-v2-lite.json");
    MemoryPlan p = plan_memory(lite, 31'000'000'000ull, KvType::BF16, 32768);
    CHECK_EQ(p.kv_bytes_per_token, uint64_t{31104});  // spec 2.2: 27 x 576 x 2 B
    CHECK_EQ(p.kv_bytes_per_token_naive, uint64_t{27 * 16 * (192 + 128) * 2});
    CHECK_EQ(p.kv_bytes, uint64_t{31104} * 32768);
    CHECK_EQ(p.total_bytes, p.weight_bytes + p.kv_bytes + p.workspace_bytes);

    const HParams v3 = load_config("deepseek-v3.json");
    CHECK_EQ(plan_memory(v3, 0, KvType::BF16, 1).kv_bytes_per_token, uint64_t{70272});
    CHECK_EQ(plan_memory(v3, 0, KvType::F32, 1).kv_bytes_per_token, uint64_t{61 * 576 * 4});
    CHECK_EQ(plan_memory(v3, 0, KvType::Q8_0, 1).kv_bytes_per_token, uint64_t{61 * 18 * 34});

    const HParams l2 = load_config("llama-2-7b.json");  // MHA: 2 x 32 heads x 128 x 2 B x 32 layers
    CHECK_EQ(plan_memory(l2, 0, KvType::F16, 4096).kv_bytes_per_token, uint64_t{524288});

    // Workspace formula (model_stats.h) by hand for stories260K, one token, n_ctx 512:
    // logits 512 + 4*64 + q 64 + k/v 2*4*8 + attn out 8*8 + 2*172 + 0 = 1304 floats; scores 8*512 floats.
    const HParams s = load_config("stories260k.json");
    p = plan_memory(s, 1000, KvType::F32, 512, 1);
    CHECK_EQ(p.workspace_bytes, uint64_t{1304 * 4 + 8 * 512 * 4});
    CHECK_EQ(p.kv_bytes_per_token, uint64_t{5 * 2 * 32 * 4});
    CHECK_EQ(p.total_bytes, uint64_t{1000} + p.kv_bytes + p.workspace_bytes);
    CHECK_EQ(kv_row_bytes(KvType::Q8_0, 48), uint64_t{68});  // fixtures: 48 = 32 + 16, two blocks
}
