// The weights of a loaded model, bound by role: matrices stay in the memory map in their stored type
// (MatrixView); only the small vectors (norm weights, biases, the V3 expert bias) are converted to float32
// copies. Binding checks that every matrix type can be multiplied and names the tensor when it cannot.
#pragma once

#include "backend/matrix_view.h"
#include "core/status.h"
#include "model/hparams.h"

#include <cstdint>
#include <vector>

namespace moe {

class ModelSource;

struct LayerWeights {
    std::vector<float> attn_norm;  // [n_embd]
    std::vector<float> ffn_norm;   // [n_embd]

    // Attention. MLA (deepseek2): wq or (wq_a, q_a_norm, wq_b); wkv_a; kv_a_norm; the per-head W_UK / W_UV as
    // views of attn_kv_b (legacy and HF: rows [h*(nope+v), +nope) and [h*(nope+v)+nope, +v), each kv_lora wide)
    // or of attn_k_b / attn_v_b (split: k_b head h is kv_lora rows of nope, v_b head h is v rows of kv_lora).
    MatrixView wq, wq_a, wq_b, wkv_a, wo;
    std::vector<float> q_a_norm, kv_a_norm;
    std::vector<MatrixView> uk;  // [n_head]; legacy: nope x kv_lora (used transposed); split: kv_lora x nope
    std::vector<MatrixView> uv;  // [n_head]; v x kv_lora
    bool uk_transposed = true;   // true: q_lat = uk^T q_nope (legacy/HF); false: q_lat = uk q_nope (split)
    // MHA/GQA (deepseek v1, llama).
    MatrixView wk, wv;
    std::vector<float> bq, bk, bv, bo;  // empty unless attention_bias

    // FFN: dense layers use `dense`; MoE layers the router, the experts and the shared FFN.
    SwigluWeights dense;
    MatrixView router;                  // n_embd -> n_expert
    std::vector<float> expert_bias;     // [n_expert], V3 selection bias (empty if none)
    std::vector<SwigluWeights> experts;  // [n_expert]
    SwigluWeights shared;               // empty gate when n_expert_shared == 0
    // experts followed by the shared FFN (id n_expert), so one moe_ffn call runs both; empty without shared.
    std::vector<SwigluWeights> experts_and_shared;
    bool is_moe = false;
};

struct ModelWeights {
    MatrixView tok_embd;  // n_vocab rows of n_embd
    std::vector<float> output_norm;
    MatrixView output;    // n_embd -> n_vocab (tok_embd when tied)
    std::vector<float> rope_freqs;  // llama 3.1 frequency factors (empty if none)
    std::vector<LayerWeights> layers;
    uint64_t matrix_bytes = 0;  // bytes of all bound matrices (what a full pass over the weights reads)
};

// Binds `source`'s tensors for its hyper-parameters and layout. Errors name the file and the tensor:
//   "model.gguf: tensor 'blk.3.attn_q.weight': type iq2_xxs cannot be multiplied by this engine".
Result<ModelWeights> bind_model_weights(const ModelSource& source, const HParams& hp);

// What one token reads at decode time: the embedding row, attention, dense layers, shared experts, routers,
// n_expert_used routed experts per MoE layer, and the output head.
struct ActiveWeights {
    uint64_t bytes = 0;            // weight bytes read per decoded token
    uint64_t elements = 0;         // matrix elements multiplied per token (embedding row excluded)
    uint64_t output_elements = 0;  // of which the output head (computed once per prompt, for its last token)
};
ActiveWeights active_weights_per_token(const ModelWeights& w, const HParams& hp);

}  // namespace moe
