// The state of one forward pass over a batch of tokens, and the shared blocks every architecture is built from
// (blocks.cpp): embedding, RMSNorm, MLA and MHA attention over the KV cache, the dense SwiGLU FFN, the MoE FFN with
// routing, the output head. Architectures (deepseek2.cpp, deepseek.cpp, llama.cpp) compose them per layer.
// Shapes: n = tokens in the batch, d = n_embd; activations are row-major [n][width] float32.
#pragma once

#include "backend/backend.h"
#include "core/status.h"
#include "model/hparams.h"
#include "model/model_weights.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace moe {

class KvCache;

// An array in backend memory (host memory on the CPU, device memory on a GPU), grown on demand; growing does not
// keep the contents. Every growth bumps *generation (recorded decode steps hold the old addresses).
template <class T>
class BackendArray {
public:
    Result<T*> grow(Backend& backend, int64_t n, uint64_t& generation) {
        if (n <= m_size && m_buf) return data();
        m_buf.reset();
        m_size = 0;
        MOE_ASSIGN_OR_RETURN(m_buf, backend.alloc(static_cast<uint64_t>(std::max<int64_t>(n, 1)) * sizeof(T)));
        m_size = n;
        ++generation;
        return data();
    }
    T* data() const { return m_buf ? static_cast<T*>(m_buf->data()) : nullptr; }
    void clear() {
        m_buf.reset();
        m_size = 0;
    }

private:
    std::unique_ptr<Buffer> m_buf;
    int64_t m_size = 0;
};

// Scratch buffers reused between passes (grown, never shrunk), in the backend's memory.
struct ForwardBuffers {
    BackendArray<float> x;               // [n][d] the residual stream
    BackendArray<float> cur;             // [n][d] normalised input of a block
    BackendArray<float> out;             // [n][d] a block's output
    BackendArray<float> q;               // [n][H * head_k]
    BackendArray<float> q_a;             // [n][q_lora]
    BackendArray<float> kv;              // [n][kv_lora + rope] (MLA) or [n][kv_width] (K)
    BackendArray<float> v;               // [n][v_width] (MHA)
    BackendArray<float> q_abs;           // [n][H][kv_lora + rope] absorbed MLA query
    BackendArray<float> att;             // [n][H][kv_lora] or [n][H * head_v]
    BackendArray<float> att_v;           // [n][H * v_head]
    BackendArray<float> router;          // [n][n_expert]
    BackendArray<int32_t> ids;           // [n_moe_layers][n][k]: every MoE layer's routing (read back after the pass)
    BackendArray<float> weights;         // [n_moe_layers][n][k]
    BackendArray<int32_t> ids_shared;    // [n][k + 1]: the routed experts, then the shared FFN
    BackendArray<float> weights_shared;  // [n][k + 1]
    BackendArray<int32_t> dense_ids;     // [n] zeros (the dense FFN as one expert)
    BackendArray<float> dense_weights;   // [n] ones
    BackendArray<int32_t> pos;           // [n]
    BackendArray<int32_t> tokens;        // [n]
    BackendArray<float> logits;          // [rows][n_vocab]
    uint64_t generation = 0;             // bumped whenever an array above moves
    void clear() {
        for (BackendArray<float>* a : {&x, &cur, &out, &q, &q_a, &kv, &v, &q_abs, &att, &att_v, &router, &weights,
                                       &weights_shared, &dense_weights, &logits})
            a->clear();
        for (BackendArray<int32_t>* a : {&ids, &ids_shared, &dense_ids, &pos, &tokens}) a->clear();
        ++generation;
    }
};

struct ForwardState {
    Backend& backend;
    const HParams& hp;
    const ModelWeights& w;
    KvCache& cache;
    ForwardBuffers& buf;
    int64_t n = 0;  // tokens in this batch
    int32_t first_pos = 0;
    // Called by every MoE layer with the batch's routing (see RoutingCallback in model.h). Null: not recorded.
    const std::function<void(int32_t slot, int64_t first, int64_t n, const int32_t* ids, const float* weights)>*
        on_routing = nullptr;
    int64_t token_offset = 0;  // index of this micro-batch's first token among the tokens of the forward() call
    RopeParams rope;
    std::vector<int32_t> moe_slot;  // [n_layer] index among MoE layers, -1 for dense layers
    float* logits_out = nullptr;    // where the output head writes (host memory backends); null: buf.logits
};

// Grows one of st.buf's arrays for this pass.
template <class T>
Result<T*> grow(ForwardState& st, BackendArray<T>& a, int64_t n) {
    return a.grow(st.backend, n, st.buf.generation);
}

// Each returns the first failing op's Status.
// x = embedding rows of `tokens` (checked on the host; st.buf.tokens must hold them in backend memory).
Status embed_tokens(ForwardState& st, std::span<const int32_t> tokens);
Status norm_into_cur(ForwardState& st, const std::vector<float>& weight);  // cur = rmsnorm(x) * weight
Status mla_attention_block(ForwardState& st, int64_t il);                  // out = attention(cur), writes the cache
Status mha_attention_block(ForwardState& st, int64_t il);
Status dense_ffn_block(ForwardState& st, int64_t il);  // out = swiglu(cur)
Status moe_ffn_block(ForwardState& st, int64_t il);    // out = routed experts + shared experts (cur)
Status add_out_to_residual(ForwardState& st);          // x += out
// st.buf.logits [rows][n_vocab] of the last token (all_rows false) or of every token of the batch.
Status output_logits(ForwardState& st, bool all_rows);

// The RoPE of a model: its hyper-parameters (and rope_freqs) as RopeParams.
RopeParams rope_params(const HParams& hp, const ModelWeights& w);

}  // namespace moe
