// HParams helpers and the sanity checks shared by the GGUF and HF loaders.
#include "model/hparams.h"

#include "formats/gguf.h"
#include "model/model_stats.h"

#include <cmath>
#include <string>

namespace moe {

const char* arch_name(Arch arch) {
    switch (arch) {
        case Arch::Deepseek: return "deepseek";
        case Arch::Deepseek2: return "deepseek2";
        case Arch::Llama: return "llama";
    }
    return "?";
}

const char* gating_name(Gating gating) { return gating == Gating::Sigmoid ? "sigmoid" : "softmax"; }

const char* rope_scaling_name(RopeScaling scaling) {
    switch (scaling) {
        case RopeScaling::None: return "none";
        case RopeScaling::Linear: return "linear";
        case RopeScaling::Yarn: return "yarn";
    }
    return "?";
}

const char* weight_layout_name(WeightLayout layout) {
    switch (layout) {
        case WeightLayout::GgufLegacyMla: return "gguf (MLA, attn_kv_b)";
        case WeightLayout::GgufSplitMla: return "gguf (MLA, attn_k_b/attn_v_b)";
        case WeightLayout::Gguf: return "gguf";
        case WeightLayout::HuggingFace: return "huggingface";
    }
    return "?";
}

bool HParams::is_moe_layer(int64_t il) const {
    if (n_expert <= 0 || il < n_leading_dense || il < 0 || il >= n_layer) return false;
    return moe_layer_freq <= 1 || il % moe_layer_freq == 0;
}

int64_t HParams::n_embd_head_k() const { return is_mla() ? qk_nope_head_dim + qk_rope_head_dim : head_dim; }
int64_t HParams::n_embd_head_v() const { return is_mla() ? v_head_dim : head_dim; }

int64_t HParams::n_moe_layers() const {
    int64_t n = 0;
    for (int64_t il = 0; il < n_layer; ++il) n += is_moe_layer(il) ? 1 : 0;
    return n;
}

double HParams::yarn_attn_mscale() const {
    // HF: yarn_get_mscale(factor, mscale_all_dim) squared into softmax_scale; llama.cpp: 1 + log_mul*ln(factor).
    if (rope_scaling != RopeScaling::Yarn || yarn_mscale_all_dim == 0.0 || rope_factor <= 1.0) return 1.0;
    return 0.1 * yarn_mscale_all_dim * std::log(rope_factor) + 1.0;
}

double HParams::kq_scale() const {
    const int64_t d_k = n_embd_head_k();
    if (d_k <= 0) return 0.0;
    const double m = yarn_attn_mscale();
    return m * m / std::sqrt(static_cast<double>(d_k));
}

namespace {

// Limits that keep every derived count inside 64 bits and every tensor list bounded. Real models sit far
// below them (V3: 61 layers, 256 experts, 129280 vocab, 18432 dense n_ff).
constexpr int64_t kMaxDim = int64_t{1} << 24;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxExperts = 4096;
constexpr int64_t kMaxHeads = 4096;
constexpr uint64_t kMaxParams = uint64_t{1} << 46;  // 70 T; V3 is 0.67 T

Status check_range(const char* field, int64_t value, int64_t lo, int64_t hi) {
    if (value < lo || value > hi)
        return Status::error(std::string(field) + " = " + std::to_string(value) + " is out of range [" +
                             std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return {};
}

Status check_moe(const HParams& hp) {
    MOE_RETURN_IF_ERROR(check_range("n_expert", hp.n_expert, 0, kMaxExperts));
    if (hp.n_expert == 0) {
        if (hp.n_expert_used != 0)
            return Status::error("n_expert_used = " + std::to_string(hp.n_expert_used) + " but n_expert = 0");
        return {};
    }
    MOE_RETURN_IF_ERROR(check_range("n_expert_used", hp.n_expert_used, 1, hp.n_expert));
    MOE_RETURN_IF_ERROR(check_range("n_expert_shared", hp.n_expert_shared, 0, kMaxExperts));
    MOE_RETURN_IF_ERROR(check_range("n_ff_exp", hp.n_ff_exp, 1, kMaxDim));
    MOE_RETURN_IF_ERROR(check_range("n_leading_dense", hp.n_leading_dense, 0, hp.n_layer));
    MOE_RETURN_IF_ERROR(check_range("moe_layer_freq", hp.moe_layer_freq, 1, kMaxLayers));
    MOE_RETURN_IF_ERROR(check_range("n_group", hp.n_group, 1, hp.n_expert));
    if (hp.n_expert % hp.n_group != 0)
        return Status::error("n_group = " + std::to_string(hp.n_group) + " does not divide n_expert = " +
                             std::to_string(hp.n_expert));
    MOE_RETURN_IF_ERROR(check_range("n_group_used (topk_group)", hp.n_group_used, 1, hp.n_group));
    // Group-limited routing must leave at least n_expert_used experts to choose from.
    if (hp.n_group_used * (hp.n_expert / hp.n_group) < hp.n_expert_used)
        return Status::error("n_group_used = " + std::to_string(hp.n_group_used) + " groups of " +
                             std::to_string(hp.n_expert / hp.n_group) + " experts hold fewer than n_expert_used = " +
                             std::to_string(hp.n_expert_used));
    if (hp.topk_method != "greedy" && hp.topk_method != "group_limited_greedy" && hp.topk_method != "noaux_tc")
        return Status::error("topk_method '" + hp.topk_method +
                             "' is not supported (supported: greedy, group_limited_greedy, noaux_tc)");
    if (!std::isfinite(hp.expert_weights_scale) || hp.expert_weights_scale < 0.0)
        return Status::error("expert_weights_scale = " + std::to_string(hp.expert_weights_scale) +
                             " must be a finite non-negative number");
    return {};
}

Status check_attention(const HParams& hp) {
    MOE_RETURN_IF_ERROR(check_range("n_head", hp.n_head, 1, kMaxHeads));
    if (hp.is_mla()) {
        MOE_RETURN_IF_ERROR(check_range("q_lora_rank", hp.q_lora_rank, 0, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("kv_lora_rank", hp.kv_lora_rank, 1, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("qk_nope_head_dim", hp.qk_nope_head_dim, 1, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("qk_rope_head_dim", hp.qk_rope_head_dim, 2, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("v_head_dim", hp.v_head_dim, 1, kMaxDim));
        if (hp.n_rot != hp.qk_rope_head_dim)
            return Status::error("rope dimension " + std::to_string(hp.n_rot) + " differs from qk_rope_head_dim " +
                                 std::to_string(hp.qk_rope_head_dim));
    } else {
        MOE_RETURN_IF_ERROR(check_range("n_head_kv", hp.n_head_kv, 1, hp.n_head));
        if (hp.n_head % hp.n_head_kv != 0)
            return Status::error("n_head_kv = " + std::to_string(hp.n_head_kv) + " does not divide n_head = " +
                                 std::to_string(hp.n_head));
        MOE_RETURN_IF_ERROR(check_range("head_dim", hp.head_dim, 1, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("rope dimension", hp.n_rot, 0, hp.head_dim));
    }
    if (hp.n_rot % 2 != 0) return Status::error("rope dimension " + std::to_string(hp.n_rot) + " is odd");
    return {};
}

Status check_rope(const HParams& hp) {
    if (!std::isfinite(hp.rope_freq_base) || hp.rope_freq_base <= 1.0)
        return Status::error("rope freq_base = " + std::to_string(hp.rope_freq_base) + " must be > 1");
    if (hp.rope_scaling != RopeScaling::None && (!std::isfinite(hp.rope_factor) || hp.rope_factor <= 0.0))
        return Status::error("rope scaling factor = " + std::to_string(hp.rope_factor) + " must be > 0");
    if (hp.rope_scaling == RopeScaling::Yarn) {
        MOE_RETURN_IF_ERROR(check_range("rope original context", hp.rope_original_ctx, 1, int64_t{1} << 40));
        if (!std::isfinite(hp.yarn_beta_fast) || !std::isfinite(hp.yarn_beta_slow) || !std::isfinite(hp.yarn_mscale) ||
            !std::isfinite(hp.yarn_mscale_all_dim))
            return Status::error("YaRN beta_fast/beta_slow/mscale must be finite");
    }
    if (!std::isfinite(hp.rms_eps) || hp.rms_eps <= 0.0 || hp.rms_eps > 1.0)
        return Status::error("rms_norm_eps = " + std::to_string(hp.rms_eps) + " must be in (0, 1]");
    return {};
}

}  // namespace

Status validate_hparams(const HParams& hp) {
    MOE_RETURN_IF_ERROR(check_range("n_vocab", hp.n_vocab, 1, kMaxDim));
    MOE_RETURN_IF_ERROR(check_range("n_embd", hp.n_embd, 1, kMaxDim));
    MOE_RETURN_IF_ERROR(check_range("n_layer", hp.n_layer, 1, kMaxLayers));
    MOE_RETURN_IF_ERROR(check_range("n_ctx_train", hp.n_ctx_train, 1, int64_t{1} << 40));
    MOE_RETURN_IF_ERROR(check_attention(hp));
    MOE_RETURN_IF_ERROR(check_moe(hp));
    // Dense FFN: needed by the leading dense layers, or by every layer of a dense model.
    const bool needs_dense = !hp.is_moe() || hp.n_leading_dense > 0 || hp.moe_layer_freq > 1;
    MOE_RETURN_IF_ERROR(check_range("n_ff", hp.n_ff, needs_dense ? 1 : 0, kMaxDim));
    MOE_RETURN_IF_ERROR(check_rope(hp));
    MOE_RETURN_IF_ERROR(check_range("num_nextn_predict_layers", hp.num_nextn_predict_layers, 0, kMaxLayers));
    if (hp.hf_quant_method == "fp8") {
        MOE_RETURN_IF_ERROR(check_range("fp8 weight_block_size[0]", hp.hf_fp8_block_rows, 1, kMaxDim));
        MOE_RETURN_IF_ERROR(check_range("fp8 weight_block_size[1]", hp.hf_fp8_block_cols, 1, kMaxDim));
    }
    // Each size is bounded above, but their products may still be absurd (and would overflow byte counts).
    const uint64_t n_params = count_params(hp).total;
    if (n_params > kMaxParams)
        return Status::error(std::to_string(n_params) + " parameters is implausibly large (limit " +
                             std::to_string(kMaxParams) + ")");
    return {};
}

bool is_vocab_only(const GgufFile& file) { return file.tensors().empty(); }

}  // namespace moe
