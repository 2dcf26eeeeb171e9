// Parameter counts and the memory plan of a model, from its hyper-parameters alone.
#pragma once

#include "model/hparams.h"
#include "model/tensor_layout.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

// Parameter counts (elements, not bytes). MTP layers are not counted.
struct ParamCounts {
    uint64_t embedding = 0;       // token_embd
    uint64_t output = 0;          // lm_head (0 when tied) + final norm
    uint64_t attention = 0;       // all attention projections and their norms (q_a_norm, kv_a_norm)
    uint64_t layer_norms = 0;     // attn_norm + ffn_norm of every layer
    uint64_t dense_ffn = 0;       // FFN of the dense layers
    uint64_t router = 0;          // ffn_gate_inp + exp_probs_b
    uint64_t shared_experts = 0;
    uint64_t routed_experts = 0;  // all routed experts of all MoE layers
    uint64_t routed_active = 0;   // n_expert_used of them per MoE layer
    uint64_t total = 0;
    uint64_t active = 0;  // per token: total - routed_experts + routed_active (embedding and head included)
};

ParamCounts count_params(const HParams& hp);
// Sum of the elements of a tensor list (a GGUF tensor table). FP8 `*_scale_inv` siblings and HF MTP
// layers (model.layers.{>= n_layer}) are skipped when `hp` is given.
uint64_t count_params(const std::vector<TensorShapeRef>& tensors, const HParams* hp = nullptr);

enum class KvType { F32, F16, BF16, Q8_0 };
const char* kv_type_name(KvType type);
// Bytes of one KV row of `n_elements` (Q8_0 rows are padded to whole 32-element blocks of 34 bytes).
uint64_t kv_row_bytes(KvType type, int64_t n_elements);

struct MemoryPlan {
    uint64_t weight_bytes = 0;
    // MLA: the absorbed cache, (kv_lora_rank + qk_rope_head_dim) elements per layer per token.
    // MHA: 2 * n_head_kv * head_dim elements per layer per token.
    uint64_t kv_bytes_per_token = 0;
    uint64_t kv_bytes_per_token_naive = 0;  // MLA only: the decompressed K/V (n_head*(nope+rope+v)) per layer
    uint64_t kv_bytes = 0;                  // kv_bytes_per_token * n_ctx
    uint64_t workspace_bytes = 0;           // see plan_memory()
    uint64_t total_bytes = 0;               // weights + kv + workspace
    int64_t n_ctx = 0;
    int64_t n_ubatch = 0;
};

// Workspace estimate (F32 activations for one micro-batch of n_ubatch tokens):
//   n_ubatch * 4 B * (n_vocab                      logits
//                     + 4 * n_embd                 residual, normed input, attention and FFN outputs
//                     + q_width + kv_width         q (MLA absorbed: n_head*(kv_lora+rope)), k/v or c_kv
//                     + n_head * n_embd_head_v     attention output before o_proj
//                     + 2 * ffn_width              gate and up of the widest FFN (dense n_ff, or
//                                                  n_expert_used*n_ff_exp + n_shared*n_ff_exp)
//                     + 2 * n_expert)              router logits and probabilities
//   + n_ubatch * n_head * n_ctx * 4 B              attention scores of one layer (no flash attention)
MemoryPlan plan_memory(const HParams& hp, uint64_t weight_bytes, KvType kv, int64_t n_ctx, int64_t n_ubatch = 512);

}  // namespace moe
