// The state of one forward pass over a batch of tokens, and the shared blocks every architecture is built from
// (blocks.cpp): embedding, RMSNorm, MLA and MHA attention over the KV cache, the dense SwiGLU FFN, the MoE FFN with
// routing, the output head. Architectures (deepseek2.cpp, deepseek.cpp, llama.cpp) compose them per layer.
// Shapes: n = tokens in the batch, d = n_embd; activations are row-major [n][width] float32.
#pragma once

#include "backend/backend.h"
#include "core/status.h"
#include "model/hparams.h"
#include "model/model_weights.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace moe {

class KvCache;

// Scratch buffers reused between passes (grown, never shrunk).
struct ForwardBuffers {
    std::vector<float> x;       // [n][d] the residual stream
    std::vector<float> cur;     // [n][d] normalised input of a block
    std::vector<float> out;     // [n][d] a block's output
    std::vector<float> q;       // [n][H * head_k]
    std::vector<float> q_a;     // [n][q_lora]
    std::vector<float> kv;      // [n][kv_lora + rope] (MLA) or [n][kv_width] (K)
    std::vector<float> v;       // [n][v_width] (MHA)
    std::vector<float> q_abs;   // [n][H][kv_lora + rope] absorbed MLA query
    std::vector<float> att;     // [n][H][kv_lora] or [n][H * head_v]
    std::vector<float> att_v;   // [n][H * v_head]
    std::vector<float> router;  // [n][n_expert]
    std::vector<int32_t> ids;   // [n][k]
    std::vector<float> weights; // [n][k]
    std::vector<int32_t> ids_shared;     // [n][k + 1]: the routed experts, then the shared FFN
    std::vector<float> weights_shared;  // [n][k + 1]
    std::vector<int32_t> pos;   // [n]
    std::vector<MatmulJob> jobs;  // per-head products of one block
};

struct ForwardState {
    Backend& backend;
    const HParams& hp;
    const ModelWeights& w;
    KvCache& cache;
    ForwardBuffers& buf;
    int64_t n = 0;              // tokens in this batch
    int32_t first_pos = 0;
    // Called by every MoE layer with the batch's routing (see RoutingCallback in model.h). Null: not recorded.
    const std::function<void(int32_t slot, int64_t first, int64_t n, const int32_t* ids, const float* weights)>*
        on_routing = nullptr;
    int64_t token_offset = 0;  // index of this micro-batch's first token among the tokens of the forward() call
    RopeParams rope;
    std::vector<int32_t> moe_slot;  // [n_layer] index among MoE layers, -1 for dense layers
};

// Each returns the first failing op's Status.
Status embed_tokens(ForwardState& st, std::span<const int32_t> tokens);
Status norm_into_cur(ForwardState& st, const std::vector<float>& weight);  // cur = rmsnorm(x) * weight
Status mla_attention_block(ForwardState& st, int64_t il);   // out = attention(cur), writes the cache
Status mha_attention_block(ForwardState& st, int64_t il);
Status dense_ffn_block(ForwardState& st, int64_t il);       // out = swiglu(cur)
Status moe_ffn_block(ForwardState& st, int64_t il);         // out = routed experts + shared experts (cur)
Status add_out_to_residual(ForwardState& st);               // x += out
// logits [rows][n_vocab] of the last token (all_rows false) or of every token of the batch.
Status output_logits(ForwardState& st, bool all_rows, std::vector<float>& logits);

// The RoPE of a model: its hyper-parameters (and rope_freqs) as RopeParams.
RopeParams rope_params(const HParams& hp, const ModelWeights& w);

// Rounds x like ActivationMode::Native does before a product with `weight_type` (Q8_0 / Q8_K blocks, fp16, bf16),
// in place. The absorbed MLA path stores the latent rounded like this so that, for quantized attn_kv_b, it equals the
// decompressed keys and values llama.cpp computes (W_UK * round(c)).
void round_activations_like(GgmlType weight_type, float* x, int64_t n);

}  // namespace moe
