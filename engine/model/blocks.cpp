// The shared blocks of every architecture. Spec: deepseek.md sections 0-2; shared fixtures section 4.
#include "model/forward.h"

#include "model/moe_routing.h"
#include "runtime/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace moe {

RopeParams rope_params(const HParams& hp, const ModelWeights& w) {
    RopeParams p;
    p.n_rot = hp.n_rot;
    p.freq_base = hp.rope_freq_base;
    p.interleaved = hp.rope_interleaved;
    if (hp.rope_scaling == RopeScaling::Yarn) {
        p.yarn = true;
        p.yarn_factor = hp.rope_factor;
        p.yarn_original_ctx = hp.rope_original_ctx;
        p.yarn_beta_fast = hp.yarn_beta_fast;
        p.yarn_beta_slow = hp.yarn_beta_slow;
        // HF scales cos/sin by get_m(s, mscale) / get_m(s, mscale_all_dim); 1 for every released config and for
        // GGUF (llama.cpp cancels its own YaRN magnitude).
        if (hp.layout == WeightLayout::HuggingFace && hp.rope_factor > 1.0) {
            const auto get_m = [&](double a) { return a == 0.0 ? 1.0 : 0.1 * a * std::log(hp.rope_factor) + 1.0; };
            p.magnitude = get_m(hp.yarn_mscale) / get_m(hp.yarn_mscale_all_dim);
        }
    } else if (hp.rope_scaling == RopeScaling::Linear) {
        p.linear_factor = hp.rope_factor;
    }
    if (!w.rope_freqs.empty()) p.freq_factors = w.rope_freqs.data();
    return p;
}

Status embed_tokens(ForwardState& st, std::span<const int32_t> tokens) {
    const int64_t d = st.hp.n_embd;
    const MatrixView& e = st.w.tok_embd;
    for (int64_t t = 0; t < st.n; ++t) {
        const int32_t id = tokens[static_cast<size_t>(t)];
        if (id < 0 || id >= e.rows)
            return Status::error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                 std::to_string(e.rows - 1) + ")");
    }
    MOE_ASSIGN_OR_RETURN(float* x, grow(st, st.buf.x, st.n * d));
    return st.backend.embed(e, st.buf.tokens.data(), st.n, x, d);
}

Status norm_into_cur(ForwardState& st, const std::vector<float>& weight) {
    const int64_t d = st.hp.n_embd;
    MOE_ASSIGN_OR_RETURN(float* cur, grow(st, st.buf.cur, st.n * d));
    return st.backend.rms_norm(st.buf.x.data(), d, weight.data(), d, st.n, static_cast<float>(st.hp.rms_eps), cur, d);
}

Status add_out_to_residual(ForwardState& st) {
    return st.backend.add(st.buf.x.data(), st.buf.out.data(), st.n * st.hp.n_embd);
}

namespace {
// One-token steps tell the backend what the products after the next op read (Backend::announce_product).
void announce(ForwardState& st, std::initializer_list<MatrixView> weights) {
    if (st.n == 1) st.backend.announce_product(std::span<const MatrixView>(weights.begin(), weights.size()));
}

// Before a layer's attention op: its output projection, then the router of its MoE FFN.
void announce_after_attention(ForwardState& st, const LayerWeights& l) {
    announce(st, {l.wo});
    if (l.is_moe) announce(st, {l.router});
}

// Before a layer's FFN op: the first product of the next layer (its attention's input projections) or, after
// the last layer, the output head.
void announce_after_ffn(ForwardState& st, int64_t il) {
    if (il + 1 == static_cast<int64_t>(st.w.layers.size())) return announce(st, {st.w.output});
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il + 1)];
    if (st.hp.is_mla()) {
        if (st.hp.q_lora_rank == 0) return announce(st, {l.wq, l.wkv_a});
        return announce(st, {l.wq_a, l.wkv_a});
    }
    announce(st, {l.wq, l.wk, l.wv});
}
}  // namespace

// Absorbed MLA (spec 2.2), for the n tokens at positions first_pos.. of layer il:
//   q      = W_q cur | W_qb rmsnorm(W_qa cur)               [n][H][nope + rope]
//   kv     = W_kva cur = [c | k_pe]; c = rmsnorm(c)          [n][kv_lora + rope]
//   rope on q_pe and k_pe; cache row = [c | k_pe]
//   q_abs  = [W_UK^T q_nope | q_pe] per head                 [n][H][kv_lora + rope]
//   o_lat  = softmax(kq_scale q_abs . cache) . c             [n][H][kv_lora]
//   out    = W_o [W_UV o_lat per head]                       [n][d]
Status mla_attention_block(ForwardState& st, int64_t il) {
    const HParams& hp = st.hp;
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    ForwardBuffers& b = st.buf;
    const int64_t n = st.n, d = hp.n_embd, H = hp.n_head;
    const int64_t nope = hp.qk_nope_head_dim, rope = hp.qk_rope_head_dim, vd = hp.v_head_dim;
    const int64_t kvl = hp.kv_lora_rank, qk = nope + rope, row = kvl + rope;
    MOE_ASSIGN_OR_RETURN(float* q, grow(st, b.q, n * H * qk));
    MOE_ASSIGN_OR_RETURN(float* kv, grow(st, b.kv, n * row));
    Backend& be = st.backend;
    MlaAbsorbedArgs m;
    MlaAttentionArgs& a = m.attention;
    a.n_tokens = n;
    a.n_head = H;
    a.kv_lora = kvl;
    a.n_rope = rope;
    MOE_ASSIGN_OR_RETURN(m.q_abs, grow(st, b.q_abs, n * H * row));
    if (st.cache.is_f16()) {
        a.cache_f16 = static_cast<const uint16_t*>(st.cache.k(il));
    } else {
        a.cache = static_cast<const float*>(st.cache.k(il));
    }
    a.pos = b.pos.data();
    a.kq_scale = static_cast<float>(hp.kq_scale());
    MOE_ASSIGN_OR_RETURN(m.latent, grow(st, b.att, n * H * kvl));
    m.q = q;
    m.nope = nope;
    m.uk = l.uk;
    m.uk_transposed = l.uk_transposed;
    m.uv = l.uv;
    m.v_head_dim = vd;
    MOE_ASSIGN_OR_RETURN(float* att_v, grow(st, b.att_v, n * H * vd));
    m.out = att_v;
    // What the attention op reads first (the cache rows, W_UK, W_UV), requested as the projections end.
    if (n == 1) be.announce_mla_absorbed(m);
    if (hp.q_lora_rank == 0) {
        const MatmulJob jobs[] = {{l.wq, b.cur.data(), d, q, H * qk}, {l.wkv_a, b.cur.data(), d, kv, row}};
        MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
    } else {
        MOE_ASSIGN_OR_RETURN(float* qa, grow(st, b.q_a, n * hp.q_lora_rank));
        const MatmulJob jobs[] = {{l.wq_a, b.cur.data(), d, qa, hp.q_lora_rank}, {l.wkv_a, b.cur.data(), d, kv, row}};
        MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
        MOE_RETURN_IF_ERROR(be.rms_norm(qa, hp.q_lora_rank, l.q_a_norm.data(), hp.q_lora_rank, n,
                                        static_cast<float>(hp.rms_eps), qa, hp.q_lora_rank));
        MOE_RETURN_IF_ERROR(be.matmul(l.wq_b, qa, hp.q_lora_rank, n, q, H * qk));
    }
    MOE_RETURN_IF_ERROR(be.rms_norm(kv, row, l.kv_a_norm.data(), kvl, n, static_cast<float>(hp.rms_eps), kv, row));
    MOE_RETURN_IF_ERROR(be.rope(q + nope, H * qk, n, H, qk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(be.rope(kv + kvl, row, n, 1, row, b.pos.data(), st.rope));
    // The latent is stored rounded as a product with W_UK would round it, so that for quantized attn_kv_b it equals
    // the decompressed keys and values llama.cpp computes (W_UK * round(c)).
    MOE_RETURN_IF_ERROR(be.round_like(l.uk[0].type, kv, row, kvl, n));
    MOE_RETURN_IF_ERROR(st.cache.write_k(il, st.first_pos, b.pos.data(), kv, row, n));

    MOE_ASSIGN_OR_RETURN(m.wo_out, grow(st, b.out, n * d));
    m.wo = l.wo;
    announce_after_attention(st, l);
    return be.mla_absorbed(m);
}

namespace {
Status add_bias(Backend& be, float* y, int64_t stride, int64_t n, const std::vector<float>& bias) {
    if (bias.empty()) return {};
    return be.add_bias(y, stride, n, bias.data(), static_cast<int64_t>(bias.size()));
}
}  // namespace

// Multi-head / grouped-query attention with RoPE on q and k (deepseek v1, llama).
Status mha_attention_block(ForwardState& st, int64_t il) {
    const HParams& hp = st.hp;
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    ForwardBuffers& b = st.buf;
    const int64_t n = st.n, d = hp.n_embd, H = hp.n_head, Hkv = hp.n_head_kv;
    const int64_t dk = hp.n_embd_head_k(), dv = hp.n_embd_head_v();
    MOE_ASSIGN_OR_RETURN(float* q, grow(st, b.q, n * H * dk));
    MOE_ASSIGN_OR_RETURN(float* k, grow(st, b.kv, n * Hkv * dk));
    MOE_ASSIGN_OR_RETURN(float* v, grow(st, b.v, n * Hkv * dv));
    Backend& be = st.backend;
    const MatmulJob jobs[] = {
        {l.wq, b.cur.data(), d, q, H * dk}, {l.wk, b.cur.data(), d, k, Hkv * dk}, {l.wv, b.cur.data(), d, v, Hkv * dv}};
    MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
    MOE_RETURN_IF_ERROR(add_bias(be, q, H * dk, n, l.bq));
    MOE_RETURN_IF_ERROR(add_bias(be, k, Hkv * dk, n, l.bk));
    MOE_RETURN_IF_ERROR(add_bias(be, v, Hkv * dv, n, l.bv));
    MOE_RETURN_IF_ERROR(be.rope(q, H * dk, n, H, dk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(be.rope(k, Hkv * dk, n, Hkv, dk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(st.cache.write_k(il, st.first_pos, b.pos.data(), k, Hkv * dk, n));
    MOE_RETURN_IF_ERROR(st.cache.write_v(il, st.first_pos, b.pos.data(), v, Hkv * dv, n));
    MhaAttentionArgs a;
    a.n_tokens = n;
    a.n_head = H;
    a.n_head_kv = Hkv;
    a.head_dim_k = dk;
    a.head_dim_v = dv;
    a.q = q;
    if (st.cache.is_f16()) {
        a.k_f16 = static_cast<const uint16_t*>(st.cache.k(il));
        a.v_f16 = static_cast<const uint16_t*>(st.cache.v(il));
    } else {
        a.k = static_cast<const float*>(st.cache.k(il));
        a.v = static_cast<const float*>(st.cache.v(il));
    }
    a.pos = b.pos.data();
    a.kq_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dk)));
    MOE_ASSIGN_OR_RETURN(a.out, grow(st, b.att, n * H * dv));
    announce_after_attention(st, l);
    MOE_RETURN_IF_ERROR(be.mha_attention(a));
    MOE_ASSIGN_OR_RETURN(float* out, grow(st, b.out, n * d));
    MOE_RETURN_IF_ERROR(be.matmul(l.wo, a.out, H * dv, n, out, d));
    return add_bias(be, out, d, n, l.bo);
}

namespace {
// Zeroes n floats of backend memory.
Status zero(Backend& be, float* y, int64_t n) {
    const float z = 0.0f;
    return be.fill(y, 4, n, &z, 4);
}
}  // namespace

Status dense_ffn_block(ForwardState& st, int64_t il) {
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    const int64_t n = st.n, d = st.hp.n_embd;
    Backend& be = st.backend;
    MOE_ASSIGN_OR_RETURN(float* out, grow(st, st.buf.out, n * d));
    MOE_RETURN_IF_ERROR(zero(be, out, n * d));
    MOE_ASSIGN_OR_RETURN(int32_t * ids, grow(st, st.buf.dense_ids, n));
    MOE_ASSIGN_OR_RETURN(float* ones, grow(st, st.buf.dense_weights, n));
    const int32_t id0 = 0;
    const float one = 1.0f;
    MOE_RETURN_IF_ERROR(be.fill(ids, 4, n, &id0, 4));
    MOE_RETURN_IF_ERROR(be.fill(ones, 4, n, &one, 4));
    announce_after_ffn(st, il);
    return be.moe_ffn({&l.dense, 1}, st.buf.cur.data(), n, d, 1, ids, ones, out);
}

// Routed experts (router in float32, route) plus the shared experts, weight 1. The routing of MoE layer `slot`
// stays in st.buf.ids/weights[slot] until the pass ends (Model::forward hands it to on_routing then).
Status moe_ffn_block(ForwardState& st, int64_t il) {
    const HParams& hp = st.hp;
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    ForwardBuffers& b = st.buf;
    Backend& be = st.backend;
    const int64_t n = st.n, d = hp.n_embd, k = hp.n_expert_used;
    MoeRoutedArgs a;
    a.router = l.router;
    a.expert_bias = l.expert_bias.empty() ? nullptr : l.expert_bias.data();
    a.route = route_params(hp);
    a.shared = !l.shared.gate.empty();
    a.experts = a.shared ? l.experts_and_shared : l.experts;
    a.x = b.cur.data();
    a.n_tokens = n;
    a.n_embd = d;
    MOE_ASSIGN_OR_RETURN(a.logits, grow(st, b.router, n * hp.n_expert));
    const int64_t slot = st.moe_slot[static_cast<size_t>(il)];
    a.ids = b.ids.data() + slot * n * k;
    a.weights = b.weights.data() + slot * n * k;
    if (a.shared) {
        MOE_ASSIGN_OR_RETURN(a.ids_all, grow(st, b.ids_shared, n * (k + 1)));
        MOE_ASSIGN_OR_RETURN(a.weights_all, grow(st, b.weights_shared, n * (k + 1)));
    }
    MOE_ASSIGN_OR_RETURN(a.y, grow(st, b.out, n * d));
    announce_after_ffn(st, il);
    return be.moe_routed(a);
}

Status output_logits(ForwardState& st, bool all_rows) {
    const int64_t d = st.hp.n_embd;
    const int64_t rows = all_rows ? st.n : 1;
    const float* x = st.buf.x.data() + (all_rows ? 0 : (st.n - 1) * d);
    MOE_ASSIGN_OR_RETURN(float* cur, grow(st, st.buf.cur, rows * d));
    MOE_RETURN_IF_ERROR(
        st.backend.rms_norm(x, d, st.w.output_norm.data(), d, rows, static_cast<float>(st.hp.rms_eps), cur, d));
    const int64_t n_vocab = st.w.output.rows;
    if (st.logits_out != nullptr) return st.backend.matmul(st.w.output, cur, d, rows, st.logits_out, n_vocab);
    MOE_ASSIGN_OR_RETURN(float* logits, grow(st, st.buf.logits, rows * n_vocab));
    return st.backend.matmul(st.w.output, cur, d, rows, logits, n_vocab);
}

}  // namespace moe
