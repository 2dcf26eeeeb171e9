// Llama-style dense decoders (llama.cpp arch `llama`, HF model_type llama): grouped-query attention with RoPE
// (optionally llama 3.1 frequency factors), SwiGLU FFN, optional attention biases and tied embeddings.
#include "model/architecture.h"

#include <string>

namespace moe {

namespace {

Status check(const HParams& hp) {
    if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0)
        return Status::error("llama: n_head " + std::to_string(hp.n_head) + " is not a multiple of n_head_kv " +
                             std::to_string(hp.n_head_kv));
    if (hp.n_rot <= 0 || hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0)
        return Status::error("llama: rope dimension " + std::to_string(hp.n_rot) + " must be even and at most head_dim " +
                             std::to_string(hp.head_dim));
    return {};
}

Status layer(ForwardState& st, int64_t il) { return pre_norm_layer(st, il, mha_attention_block); }

}  // namespace

const Architecture& llama_architecture() {
    static const Architecture a{"llama", check, layer};
    return a;
}

}  // namespace moe
