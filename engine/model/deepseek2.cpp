// DeepSeek-V2, V2-Lite, V3 and R1 (llama.cpp arch `deepseek2`, HF deepseek_v2 / deepseek_v3): multi-head latent
// attention with the absorbed decode path and YaRN, DeepSeekMoE FFN (softmax or sigmoid gating, optional
// selection bias, group-limited top-k, V2/V3 weight normalisation and scaling, shared experts) after the
// leading dense layers. MTP layers are not loaded. Spec: deepseek.md sections 2 and 3.
#include "model/architecture.h"

#include <string>

namespace moe {

namespace {

Status check(const HParams& hp) {
    if (hp.kv_lora_rank <= 0 || hp.qk_rope_head_dim <= 0 || hp.v_head_dim <= 0)
        return Status::error("deepseek2: kv_lora_rank, qk_rope_head_dim and v_head_dim must be positive");
    if (hp.qk_rope_head_dim % 2 != 0)
        return Status::error("deepseek2: qk_rope_head_dim must be even, got " + std::to_string(hp.qk_rope_head_dim));
    if (hp.n_rot != hp.qk_rope_head_dim)
        return Status::error("deepseek2: rope dimension " + std::to_string(hp.n_rot) + " differs from qk_rope_head_dim " +
                             std::to_string(hp.qk_rope_head_dim));
    return {};
}

Status layer(ForwardState& st, int64_t il) { return pre_norm_layer(st, il, mla_attention_block); }

}  // namespace

const Architecture& deepseek2_architecture() {
    static const Architecture a{"deepseek2", check, layer};
    return a;
}

}  // namespace moe
