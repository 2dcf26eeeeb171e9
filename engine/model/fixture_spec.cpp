// Fixture presets, the checks on a spec, the hyper-parameters and config.json it implies, and the tensor
// type rules. The writer itself is fixture_writer.cpp; the tokenizer fixture_tokenizer.cpp.
#include "model/fixture_writer.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

namespace moe {

namespace {

// deepseek2 "tiny": the shape of the shared fx-ds2-v3 model (V3 routing at n_embd 64, 0.5M parameters
// without the 512-token embedding and head).
FixtureSpec tiny_deepseek2() {
    FixtureSpec s;  // the defaults are this preset
    s.arch = Arch::Deepseek2;
    s.name = "fixture-deepseek2-tiny";
    return s;
}

// DeepSeekMoE 16B at n_embd 64 (fx-ds1): MHA with head size 16, softmax routing, 2 shared experts.
FixtureSpec tiny_deepseek() {
    FixtureSpec s;
    s.arch = Arch::Deepseek;
    s.name = "fixture-deepseek-tiny";
    s.n_ctx = 4096;
    s.n_expert_shared = 2;
    s.gating = Gating::Softmax;
    s.expert_bias = false;
    s.expert_weights_norm = false;
    s.expert_weights_scale = 1.0;
    s.q_lora_rank = s.kv_lora_rank = s.qk_nope_head_dim = s.qk_rope_head_dim = s.v_head_dim = 0;
    s.yarn = false;
    return s;
}

// A dense llama with grouped-query attention: 8 query heads of 8, 2 KV heads.
FixtureSpec tiny_llama() {
    FixtureSpec s = tiny_deepseek();
    s.arch = Arch::Llama;
    s.name = "fixture-llama-tiny";
    s.n_head = 8;
    s.n_head_kv = 2;
    s.n_ctx = 2048;
    s.rms_eps = 1e-5;
    s.n_expert = s.n_expert_used = s.n_expert_shared = s.n_ff_exp = s.n_leading_dense = 0;
    return s;
}

// V2-Lite routing and attention (no q_lora, softmax, no renormalisation) at hidden 512: 807.1M parameters,
// most of them in the 102400-token embedding and head.
FixtureSpec medium_deepseek2() {
    FixtureSpec s;
    s.name = "fixture-deepseek2-medium";
    s.n_vocab = 102400;
    s.n_embd = 512;
    s.n_layer = 27;
    s.n_head = s.n_head_kv = 8;
    s.n_ff = 2048;
    s.n_expert = 64;
    s.n_expert_used = 6;
    s.n_expert_shared = 2;
    s.n_ff_exp = 256;
    s.n_leading_dense = 1;
    s.gating = Gating::Softmax;
    s.expert_bias = false;
    s.expert_weights_norm = false;
    s.expert_weights_scale = 1.0;
    s.q_lora_rank = 0;
    s.kv_lora_rank = 128;
    s.qk_nope_head_dim = 64;
    s.qk_rope_head_dim = 32;
    s.v_head_dim = 64;
    s.yarn_log_multiplier = 0.0707;
    return s;
}

// The real DeepSeek-V2-Lite (spec section 4): 15.7B parameters.
FixtureSpec v2_lite() {
    FixtureSpec s = medium_deepseek2();
    s.name = "fixture-deepseek-v2-lite";
    s.n_embd = 2048;
    s.n_head = s.n_head_kv = 16;
    s.n_ff = 10944;
    s.n_ff_exp = 1408;
    s.kv_lora_rank = 512;
    s.qk_nope_head_dim = 128;
    s.qk_rope_head_dim = 64;
    s.v_head_dim = 128;
    return s;
}

// DeepSeek-V3's architecture at a reduced width: q_lora, sigmoid + bias, 8 groups / 4 used, top-8 of 64,
// renormalised and scaled by 2.5, 3 leading dense layers of 6, YaRN log multiplier 0.1. Rows are multiples
// of 256 where V3's are, so q4_k applies to the same tensors. 45.06M parameters.
FixtureSpec v3_small() {
    FixtureSpec s;
    s.name = "fixture-deepseek-v3-small";
    s.n_vocab = 4096;
    s.n_embd = 256;
    s.n_layer = 6;
    s.n_head = s.n_head_kv = 8;
    s.n_ff = 1024;
    s.n_expert = 64;
    s.n_expert_used = 8;
    s.n_expert_shared = 1;
    s.n_ff_exp = 256;
    s.n_leading_dense = 3;
    s.n_group = 8;
    s.n_group_used = 4;
    s.q_lora_rank = 256;
    s.kv_lora_rank = 128;
    s.qk_nope_head_dim = 32;
    s.qk_rope_head_dim = 32;
    s.v_head_dim = 32;
    return s;
}

Status option_error(const char* option, const std::string& what) {
    return Status::error(std::string("--") + option + " " + what);
}

Status check_positive(const char* option, int64_t v) {
    if (v <= 0) return option_error(option, std::to_string(v) + ": must be positive");
    if (v > (int64_t{1} << 31)) return option_error(option, std::to_string(v) + ": too large");
    return {};
}

Status check_moe(const FixtureSpec& s) {
    if (s.arch == Arch::Llama) {
        if (s.n_expert != 0) return option_error("experts", "must be 0: llama fixtures are dense");
        return {};
    }
    MOE_RETURN_IF_ERROR(check_positive("experts", s.n_expert));
    MOE_RETURN_IF_ERROR(check_positive("experts-used", s.n_expert_used));
    MOE_RETURN_IF_ERROR(check_positive("ff-exp", s.n_ff_exp));
    if (s.n_expert_used > s.n_expert)
        return option_error("experts-used", std::to_string(s.n_expert_used) + " exceeds --experts " +
                                                std::to_string(s.n_expert));
    if (s.n_expert_shared < 0) return option_error("shared", "must not be negative");
    if (s.n_leading_dense < 0 || s.n_leading_dense > s.n_layer)
        return option_error("dense-layers", std::to_string(s.n_leading_dense) + ": expected 0.." +
                                                std::to_string(s.n_layer));
    MOE_RETURN_IF_ERROR(check_positive("groups", s.n_group));
    MOE_RETURN_IF_ERROR(check_positive("groups-used", s.n_group_used));
    if (s.n_expert % s.n_group != 0)
        return option_error("groups", std::to_string(s.n_group) + " does not divide --experts " +
                                          std::to_string(s.n_expert));
    if (s.n_group_used > s.n_group)
        return option_error("groups-used", std::to_string(s.n_group_used) + " exceeds --groups " +
                                               std::to_string(s.n_group));
    if (s.n_group_used * (s.n_expert / s.n_group) < s.n_expert_used)
        return option_error("groups-used", "leaves fewer experts than --experts-used");
    if (s.arch == Arch::Deepseek &&
        (s.gating != Gating::Softmax || s.expert_bias || s.expert_weights_norm || s.expert_weights_scale != 1.0 ||
         s.n_group != 1))
        return option_error("arch", "deepseek (v1) routes with softmax only: no bias, norm, scale or groups");
    return {};
}

Status check_mla(const FixtureSpec& s) {
    if (s.arch != Arch::Deepseek2) {
        if (s.n_head_kv <= 0 || s.n_head % s.n_head_kv != 0)
            return option_error("heads-kv", std::to_string(s.n_head_kv) + " must divide --heads " +
                                                std::to_string(s.n_head));
        if (s.n_embd % s.n_head != 0 || (s.n_embd / s.n_head) % 2 != 0)
            return option_error("heads", std::to_string(s.n_head) + ": the head size --embd/--heads must be a whole even number");
        return {};
    }
    if (s.q_lora_rank < 0) return option_error("q-lora", "must not be negative (0: no query compression)");
    MOE_RETURN_IF_ERROR(check_positive("kv-lora", s.kv_lora_rank));
    MOE_RETURN_IF_ERROR(check_positive("nope", s.qk_nope_head_dim));
    MOE_RETURN_IF_ERROR(check_positive("rope", s.qk_rope_head_dim));
    MOE_RETURN_IF_ERROR(check_positive("v-dim", s.v_head_dim));
    if (s.qk_rope_head_dim % 2 != 0) return option_error("rope", "must be even");
    return {};
}

}  // namespace

std::vector<std::string> fixture_preset_names() { return {"tiny", "medium", "v2-lite", "v3"}; }

Result<FixtureSpec> fixture_preset(Arch arch, const std::string& preset) {
    if (preset == "tiny") {
        if (arch == Arch::Deepseek) return tiny_deepseek();
        if (arch == Arch::Llama) return tiny_llama();
        return tiny_deepseek2();
    }
    const bool known = preset == "medium" || preset == "v2-lite" || preset == "v3";
    if (!known) return Status::error("unknown preset '" + preset + "' (known: tiny, medium, v2-lite, v3)");
    if (arch != Arch::Deepseek2)
        return Status::error("preset '" + preset + "' is a deepseek2 shape; " + arch_name(arch) +
                             " has the preset 'tiny' (and the size options)");
    if (preset == "medium") return medium_deepseek2();
    if (preset == "v2-lite") return v2_lite();
    return v3_small();
}

Status validate_fixture_spec(const FixtureSpec& s) {
    MOE_RETURN_IF_ERROR(check_positive("vocab", s.n_vocab));
    MOE_RETURN_IF_ERROR(check_positive("embd", s.n_embd));
    MOE_RETURN_IF_ERROR(check_positive("layers", s.n_layer));
    MOE_RETURN_IF_ERROR(check_positive("heads", s.n_head));
    MOE_RETURN_IF_ERROR(check_positive("ff", s.n_ff));
    MOE_RETURN_IF_ERROR(check_positive("ctx", s.n_ctx));
    MOE_RETURN_IF_ERROR(check_moe(s));
    MOE_RETURN_IF_ERROR(check_mla(s));
    if (s.yarn && (!(s.yarn_factor > 0.0) || s.yarn_original_ctx <= 0))
        return option_error("yarn", "needs a positive factor and original context");
    const bool float_type = s.type == GgmlType::F32 || s.type == GgmlType::F16 || s.type == GgmlType::BF16;
    if (!float_type && s.type != GgmlType::Q8_0 && s.type != GgmlType::Q4_K)
        return option_error("type", "must be f32, f16, bf16, q8_0 or q4_k");
    if (s.format == FixtureFormat::Safetensors && !float_type)
        return option_error("type", std::string(ggml_type_name(s.type)) +
                                        " cannot be stored in safetensors (use f32, f16 or bf16, or --format gguf)");
    if (s.format == FixtureFormat::Safetensors && s.split_max_bytes != 0)
        return option_error("split-mb", "is for GGUF output; safetensors folders use --shard-mb");
    // The hyper-parameter checks the loaders apply (a spec they would refuse is refused here).
    return validate_hparams(fixture_hparams(s, fixture_layout(s)));
}

std::vector<std::string> fixture_compat_notes(const FixtureSpec& s) {
    std::vector<std::string> notes;
    if (s.arch != Arch::Deepseek2 || s.format != FixtureFormat::Gguf) return notes;
    if ((s.q_lora_rank == 0) != (s.n_layer == 27))
        notes.push_back("llama.cpp b4747 assumes q_lora is absent exactly when a deepseek2 model has 27 layers; "
                        "this file (" + std::to_string(s.n_layer) + " layers, q_lora " + std::to_string(s.q_lora_rank) +
                        ") loads in moewb and newer llama.cpp only");
    if (s.mla_layout == MlaLayout::Split)
        notes.push_back("the split MLA layout (attn_k_b/attn_v_b) needs a llama.cpp newer than b4747");
    return notes;
}

WeightLayout fixture_layout(const FixtureSpec& s) {
    if (s.format == FixtureFormat::Safetensors) return WeightLayout::HuggingFace;
    if (s.arch != Arch::Deepseek2) return WeightLayout::Gguf;
    return s.mla_layout == MlaLayout::Split ? WeightLayout::GgufSplitMla : WeightLayout::GgufLegacyMla;
}

namespace {

// HF model_type for a deepseek2 spec: V3 when its routing needs V3 code (sigmoid, the correction bias, or a
// scale applied after renormalising, which V2 code never does).
bool hf_is_v3(const FixtureSpec& s) {
    return s.gating == Gating::Sigmoid || s.expert_bias || (s.expert_weights_norm && s.expert_weights_scale != 1.0);
}

std::string hf_topk_method(const FixtureSpec& s) {
    if (s.expert_bias) return "noaux_tc";
    return s.n_group > 1 ? "group_limited_greedy" : "greedy";
}

const char* hf_model_type(const FixtureSpec& s) {
    if (s.arch == Arch::Llama) return "llama";
    if (s.arch == Arch::Deepseek) return "deepseek";
    return hf_is_v3(s) ? "deepseek_v3" : "deepseek_v2";
}

void fill_rope(const FixtureSpec& s, HParams& hp) {
    hp.rope_freq_base = s.rope_freq_base;
    if (!s.yarn) return;
    hp.rope_scaling = RopeScaling::Yarn;
    hp.rope_factor = s.yarn_factor;
    hp.rope_original_ctx = s.yarn_original_ctx;
    hp.yarn_mscale_all_dim = s.yarn_log_multiplier / 0.1;
    hp.yarn_mscale = hp.yarn_mscale_all_dim;
}

void fill_moe(const FixtureSpec& s, HParams& hp, bool hf) {
    hp.n_expert = s.n_expert;
    hp.n_expert_used = s.n_expert_used;
    hp.n_expert_shared = s.n_expert_shared;
    hp.n_ff_exp = s.n_ff_exp;
    hp.n_leading_dense = s.n_leading_dense;
    hp.gating = s.gating;
    hp.expert_weights_norm = s.expert_weights_norm;
    hp.expert_weights_scale = s.expert_weights_scale;
    hp.has_expert_bias = s.expert_bias;
    hp.n_group = s.n_group;
    hp.n_group_used = s.n_group_used;
    if (hf) {
        hp.topk_method = hf_topk_method(s);
    } else if (s.n_group > 1) {  // what hparams_from_gguf infers
        hp.topk_method = s.expert_bias ? "noaux_tc" : "group_limited_greedy";
    }
}

}  // namespace

HParams fixture_hparams(const FixtureSpec& s, WeightLayout layout) {
    const bool hf = layout == WeightLayout::HuggingFace;
    HParams hp;
    hp.arch = s.arch;
    hp.source_arch = hf ? hf_model_type(s) : arch_name(s.arch);
    hp.layout = layout;
    hp.n_vocab = s.n_vocab;
    hp.n_embd = s.n_embd;
    hp.n_layer = s.n_layer;
    hp.n_head = s.n_head;
    hp.n_ff = s.n_ff;
    hp.n_ctx_train = s.n_ctx;
    hp.rms_eps = s.rms_eps;
    fill_rope(s, hp);
    if (s.arch == Arch::Deepseek2) {
        hp.n_head_kv = s.n_head;
        hp.q_lora_rank = s.q_lora_rank;
        hp.kv_lora_rank = s.kv_lora_rank;
        hp.qk_nope_head_dim = s.qk_nope_head_dim;
        hp.qk_rope_head_dim = s.qk_rope_head_dim;
        hp.v_head_dim = s.v_head_dim;
        hp.n_rot = s.qk_rope_head_dim;
        hp.rope_interleaved = true;
        fill_moe(s, hp, hf);
        return hp;
    }
    hp.n_head_kv = s.n_head_kv;
    hp.head_dim = s.n_embd / s.n_head;
    hp.n_rot = hp.head_dim;
    hp.rope_interleaved = !hf;  // HF deepseek (v1) and llama rotate halves
    if (s.arch == Arch::Deepseek) fill_moe(s, hp, hf);
    return hp;
}

GgmlType fixture_tensor_type(const FixtureSpec& s, const ExpectedTensor& t) {
    if (s.format == FixtureFormat::Safetensors) return s.type;
    const bool keep_f32 = t.shape.size() == 1 || t.name.find("ffn_gate_inp") != std::string::npos;
    if (keep_f32) return GgmlType::F32;
    const int64_t row = t.shape[0];
    const auto info = ggml_type_info(static_cast<uint32_t>(s.type));
    if (info && row % info->block_elems == 0) return s.type;
    if (row % 32 == 0) return GgmlType::Q8_0;  // q4_k rows that are not a multiple of 256
    return GgmlType::F16;
}

namespace {

// The deepseek_v2 / deepseek_v3 fields of config.json.
void add_hf_mla(const FixtureSpec& s, nlohmann::ordered_json& c) {
    using Json = nlohmann::ordered_json;
    c["routed_scaling_factor"] = s.expert_weights_scale;
    c["topk_method"] = hf_topk_method(s);
    c["n_group"] = s.n_group;
    c["topk_group"] = s.n_group_used;
    c["q_lora_rank"] = s.q_lora_rank > 0 ? Json(s.q_lora_rank) : Json(nullptr);
    c["kv_lora_rank"] = s.kv_lora_rank;
    c["qk_nope_head_dim"] = s.qk_nope_head_dim;
    c["qk_rope_head_dim"] = s.qk_rope_head_dim;
    c["v_head_dim"] = s.v_head_dim;
    if (hf_is_v3(s)) c["num_nextn_predict_layers"] = 0;
}

}  // namespace

std::string fixture_hf_config_json(const FixtureSpec& s, const VocabData& vocab) {
    using Json = nlohmann::ordered_json;
    const HParams hp = fixture_hparams(s, WeightLayout::HuggingFace);
    Json c;
    const std::string type = hf_model_type(s);
    c["architectures"] = Json::array({type == "llama"         ? "LlamaForCausalLM"
                                      : type == "deepseek"    ? "DeepseekForCausalLM"
                                      : type == "deepseek_v2" ? "DeepseekV2ForCausalLM"
                                                              : "DeepseekV3ForCausalLM"});
    c["model_type"] = type;
    c["vocab_size"] = s.n_vocab;
    c["hidden_size"] = s.n_embd;
    c["intermediate_size"] = s.n_ff;
    c["num_hidden_layers"] = s.n_layer;
    c["num_attention_heads"] = s.n_head;
    c["num_key_value_heads"] = hp.n_head_kv;
    if (s.arch == Arch::Llama) c["head_dim"] = hp.head_dim;
    if (s.arch != Arch::Llama) {
        c["moe_intermediate_size"] = s.n_ff_exp;
        c["n_shared_experts"] = s.n_expert_shared;
        c["n_routed_experts"] = s.n_expert;
        c["num_experts_per_tok"] = s.n_expert_used;
        c["first_k_dense_replace"] = s.n_leading_dense;
        c["moe_layer_freq"] = 1;
        c["norm_topk_prob"] = s.expert_weights_norm;
        c["scoring_func"] = s.gating == Gating::Sigmoid ? "sigmoid" : "softmax";
        c["aux_loss_alpha"] = 0.001;
        c["seq_aux"] = true;
    }
    if (s.arch == Arch::Deepseek2) add_hf_mla(s, c);
    c["max_position_embeddings"] = s.n_ctx;
    c["rms_norm_eps"] = s.rms_eps;
    c["rope_theta"] = s.rope_freq_base;
    if (s.yarn) {
        const double mscale = s.yarn_log_multiplier / 0.1;
        c["rope_scaling"] = {{"type", "yarn"}, {"factor", s.yarn_factor},
                             {"original_max_position_embeddings", s.yarn_original_ctx},
                             {"beta_fast", 32}, {"beta_slow", 1}, {"mscale", mscale}, {"mscale_all_dim", mscale}};
    } else {
        c["rope_scaling"] = nullptr;
    }
    c["bos_token_id"] = vocab.bos_id;
    c["eos_token_id"] = vocab.eos_id;
    c["hidden_act"] = "silu";
    c["initializer_range"] = 0.02;
    c["tie_word_embeddings"] = false;
    c["attention_bias"] = false;
    c["attention_dropout"] = 0.0;
    c["use_cache"] = true;
    c["torch_dtype"] = s.type == GgmlType::F32 ? "float32" : s.type == GgmlType::F16 ? "float16" : "bfloat16";
    return c.dump(2) + "\n";
}

}  // namespace moe
