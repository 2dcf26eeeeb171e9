// DeepSeekMoE 16B (llama.cpp arch `deepseek`, HF model_type deepseek): Llama multi-head attention with RoPE over
// the whole head (no scaling), DeepSeekMoE FFN with softmax gating, unnormalised and unscaled weights, shared
// experts, after the leading dense layers. Spec: deepseek.md section 1.
#include "model/architecture.h"

#include <string>

namespace moe {

namespace {

Status check(const HParams& hp) {
    if (hp.n_rot <= 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
        return Status::error("deepseek: rope dimension " + std::to_string(hp.n_rot) + " must be even and at most head_dim " +
                             std::to_string(hp.head_dim));
    if (hp.gating != Gating::Softmax) return Status::error("deepseek: only softmax gating exists in DeepSeekMoE v1");
    return {};
}

Status layer(ForwardState& st, int64_t il) { return pre_norm_layer(st, il, mha_attention_block); }

}  // namespace

const Architecture& deepseek_architecture() {
    static const Architecture a{"deepseek", check, layer};
    return a;
}

}  // namespace moe
