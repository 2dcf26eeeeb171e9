// The shared blocks of every architecture. Spec: deepseek.md sections 0-2; shared fixtures section 4.
#include "model/forward.h"

#include "core/half.h"
#include "formats/quants.h"
#include "model/moe_routing.h"
#include "runtime/kv_cache.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace moe {

namespace {

template <class T>
T* grow(std::vector<T>& v, int64_t n) {
    if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    return v.data();
}

// llama.cpp's nearest_int: round half to even through the float magic number.
inline int nearest_int(float fval) {
    return static_cast<int>(std::nearbyint(fval));
}

void round_q8_0(float* x, int64_t n) {
    for (int64_t b = 0; b + 32 <= n; b += 32) {
        float amax = 0.0f;
        for (int64_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
        const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t i = 0; i < 32; ++i) x[b + i] = d * static_cast<float>(nearest_int(x[b + i] * id));
    }
}

void round_q8_k(float* x, int64_t n) {
    for (int64_t b = 0; b + 256 <= n; b += 256) {
        float amax = 0.0f;
        float max = 0.0f;
        for (int64_t i = 0; i < 256; ++i) {
            const float ax = std::fabs(x[b + i]);
            if (ax > amax) {
                amax = ax;
                max = x[b + i];
            }
        }
        if (amax == 0.0f) {
            std::fill(x + b, x + b + 256, 0.0f);
            continue;
        }
        const float iscale = -127.0f / max;
        const float d = 1.0f / iscale;
        for (int64_t i = 0; i < 256; ++i) x[b + i] = d * static_cast<float>(std::min(127, nearest_int(iscale * x[b + i])));
    }
}

}  // namespace

void round_activations_like(GgmlType type, float* x, int64_t n) {
    switch (type) {
        case GgmlType::Q8_0: case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
            round_q8_0(x, n);
            break;
        case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
            round_q8_k(x, n);
            break;
        case GgmlType::F16:
            for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
            break;
        case GgmlType::BF16:
            for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
            break;
        default:
            break;
    }
}

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
    float* x = grow(st.buf.x, st.n * d);
    const MatrixView& e = st.w.tok_embd;
    for (int64_t t = 0; t < st.n; ++t) {
        const int32_t id = tokens[static_cast<size_t>(t)];
        if (id < 0 || id >= e.rows)
            return Status::error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                 std::to_string(e.rows - 1) + ")");
        MOE_RETURN_IF_ERROR(dequantize_row(e.type, e.data + static_cast<uint64_t>(id) * e.row_bytes, x + t * d, d));
    }
    return {};
}

Status norm_into_cur(ForwardState& st, const std::vector<float>& weight) {
    const int64_t d = st.hp.n_embd;
    float* cur = grow(st.buf.cur, st.n * d);
    return st.backend.rms_norm(st.buf.x.data(), d, weight.data(), d, st.n, static_cast<float>(st.hp.rms_eps), cur, d);
}

Status add_out_to_residual(ForwardState& st) {
    return st.backend.add(st.buf.x.data(), st.buf.out.data(), st.n * st.hp.n_embd);
}

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
    float* q = grow(b.q, n * H * qk);
    float* kv = grow(b.kv, n * row);
    Backend& be = st.backend;
    if (hp.q_lora_rank == 0) {
        const MatmulJob jobs[] = {{l.wq, b.cur.data(), d, q, H * qk}, {l.wkv_a, b.cur.data(), d, kv, row}};
        MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
    } else {
        float* qa = grow(b.q_a, n * hp.q_lora_rank);
        const MatmulJob jobs[] = {{l.wq_a, b.cur.data(), d, qa, hp.q_lora_rank}, {l.wkv_a, b.cur.data(), d, kv, row}};
        MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
        MOE_RETURN_IF_ERROR(be.rms_norm(qa, hp.q_lora_rank, l.q_a_norm.data(), hp.q_lora_rank, n,
                                        static_cast<float>(hp.rms_eps), qa, hp.q_lora_rank));
        MOE_RETURN_IF_ERROR(be.matmul(l.wq_b, qa, hp.q_lora_rank, n, q, H * qk));
    }
    MOE_RETURN_IF_ERROR(be.rms_norm(kv, row, l.kv_a_norm.data(), kvl, n, static_cast<float>(hp.rms_eps), kv, row));
    MOE_RETURN_IF_ERROR(be.rope(q + nope, H * qk, n, H, qk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(be.rope(kv + kvl, row, n, 1, row, b.pos.data(), st.rope));
    const GgmlType uk_type = l.uk[0].type;
    for (int64_t t = 0; t < n; ++t) round_activations_like(uk_type, kv + t * row, kvl);
    MOE_RETURN_IF_ERROR(st.cache.write_k(il, st.first_pos, kv, row, n));

    float* q_abs = grow(b.q_abs, n * H * row);
    std::vector<MatmulJob>& jobs = b.jobs;
    jobs.resize(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h)
        jobs[h] = {l.uk[h], q + h * qk, H * qk, q_abs + h * row, H * row, ActivationMode::Float};
    MOE_RETURN_IF_ERROR(l.uk_transposed ? be.matmul_transposed_batch(jobs, n) : be.matmul_batch(jobs, n));
    for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < H; ++h)
            std::copy(q + t * H * qk + h * qk + nope, q + t * H * qk + (h + 1) * qk, q_abs + t * H * row + h * row + kvl);
    MlaAttentionArgs a;
    a.n_tokens = n;
    a.n_head = H;
    a.kv_lora = kvl;
    a.n_rope = rope;
    a.q = q_abs;
    if (st.cache.is_f16()) {
        a.cache_f16 = static_cast<const uint16_t*>(st.cache.k(il));
    } else {
        a.cache = static_cast<const float*>(st.cache.k(il));
    }
    a.pos = b.pos.data();
    a.kq_scale = static_cast<float>(hp.kq_scale());
    a.out = grow(b.att, n * H * kvl);
    MOE_RETURN_IF_ERROR(be.mla_attention(a));

    float* att_v = grow(b.att_v, n * H * vd);
    for (int64_t h = 0; h < H; ++h)
        jobs[h] = {l.uv[h], a.out + h * kvl, H * kvl, att_v + h * vd, H * vd, ActivationMode::Float};
    MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
    return be.matmul(l.wo, att_v, H * vd, n, grow(b.out, n * d), d);
}

namespace {
void add_bias(float* y, int64_t stride, int64_t n, const std::vector<float>& bias) {
    if (bias.empty()) return;
    for (int64_t t = 0; t < n; ++t)
        for (size_t i = 0; i < bias.size(); ++i) y[t * stride + static_cast<int64_t>(i)] += bias[i];
}
}  // namespace

// Multi-head / grouped-query attention with RoPE on q and k (deepseek v1, llama).
Status mha_attention_block(ForwardState& st, int64_t il) {
    const HParams& hp = st.hp;
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    ForwardBuffers& b = st.buf;
    const int64_t n = st.n, d = hp.n_embd, H = hp.n_head, Hkv = hp.n_head_kv;
    const int64_t dk = hp.n_embd_head_k(), dv = hp.n_embd_head_v();
    float* q = grow(b.q, n * H * dk);
    float* k = grow(b.kv, n * Hkv * dk);
    float* v = grow(b.v, n * Hkv * dv);
    Backend& be = st.backend;
    const MatmulJob jobs[] = {{l.wq, b.cur.data(), d, q, H * dk}, {l.wk, b.cur.data(), d, k, Hkv * dk},
                              {l.wv, b.cur.data(), d, v, Hkv * dv}};
    MOE_RETURN_IF_ERROR(be.matmul_batch(jobs, n));
    add_bias(q, H * dk, n, l.bq);
    add_bias(k, Hkv * dk, n, l.bk);
    add_bias(v, Hkv * dv, n, l.bv);
    MOE_RETURN_IF_ERROR(be.rope(q, H * dk, n, H, dk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(be.rope(k, Hkv * dk, n, Hkv, dk, b.pos.data(), st.rope));
    MOE_RETURN_IF_ERROR(st.cache.write_k(il, st.first_pos, k, Hkv * dk, n));
    MOE_RETURN_IF_ERROR(st.cache.write_v(il, st.first_pos, v, Hkv * dv, n));
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
    a.out = grow(b.att, n * H * dv);
    MOE_RETURN_IF_ERROR(be.mha_attention(a));
    float* out = grow(b.out, n * d);
    MOE_RETURN_IF_ERROR(be.matmul(l.wo, a.out, H * dv, n, out, d));
    add_bias(out, d, n, l.bo);
    return {};
}

Status dense_ffn_block(ForwardState& st, int64_t il) {
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    const int64_t n = st.n, d = st.hp.n_embd;
    float* out = grow(st.buf.out, n * d);
    std::fill(out, out + n * d, 0.0f);
    std::vector<int32_t> ids(static_cast<size_t>(n), 0);
    std::vector<float> ones(static_cast<size_t>(n), 1.0f);
    return st.backend.moe_ffn({&l.dense, 1}, st.buf.cur.data(), n, d, 1, ids.data(), ones.data(), out);
}

// Routed experts (router in float32, route_experts) plus the shared experts, weight 1.
Status moe_ffn_block(ForwardState& st, int64_t il) {
    const HParams& hp = st.hp;
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    ForwardBuffers& b = st.buf;
    const int64_t n = st.n, d = hp.n_embd, k = hp.n_expert_used;
    float* logits = grow(b.router, n * hp.n_expert);
    MOE_RETURN_IF_ERROR(st.backend.matmul(l.router, b.cur.data(), d, n, logits, hp.n_expert, ActivationMode::Float));
    int32_t* ids = grow(b.ids, n * k);
    float* weights = grow(b.weights, n * k);
    route_experts(hp, logits, l.expert_bias.empty() ? nullptr : l.expert_bias.data(), n, ids, weights);
    if (st.on_routing && *st.on_routing) (*st.on_routing)(st.moe_slot[static_cast<size_t>(il)], st.token_offset, n, ids, weights);
    float* out = grow(b.out, n * d);
    std::fill(out, out + n * d, 0.0f);
    if (l.shared.gate.empty()) return st.backend.moe_ffn(l.experts, b.cur.data(), n, d, k, ids, weights, out);
    // The shared FFN joins the routed experts as expert n_expert with weight 1: one call, fewer parallel regions.
    int32_t* ids_s = grow(b.ids_shared, n * (k + 1));
    float* w_s = grow(b.weights_shared, n * (k + 1));
    for (int64_t t = 0; t < n; ++t) {
        std::copy(ids + t * k, ids + (t + 1) * k, ids_s + t * (k + 1));
        std::copy(weights + t * k, weights + (t + 1) * k, w_s + t * (k + 1));
        ids_s[t * (k + 1) + k] = static_cast<int32_t>(hp.n_expert);
        w_s[t * (k + 1) + k] = 1.0f;
    }
    return st.backend.moe_ffn(l.experts_and_shared, b.cur.data(), n, d, k + 1, ids_s, w_s, out);
}

Status output_logits(ForwardState& st, bool all_rows, std::vector<float>& logits) {
    const int64_t d = st.hp.n_embd;
    const int64_t rows = all_rows ? st.n : 1;
    const float* x = st.buf.x.data() + (all_rows ? 0 : (st.n - 1) * d);
    float* cur = grow(st.buf.cur, rows * d);
    MOE_RETURN_IF_ERROR(st.backend.rms_norm(x, d, st.w.output_norm.data(), d, rows, static_cast<float>(st.hp.rms_eps),
                                            cur, d));
    const int64_t n_vocab = st.w.output.rows;
    logits.resize(static_cast<size_t>(rows * n_vocab));
    return st.backend.matmul(st.w.output, cur, d, rows, logits.data(), n_vocab);
}

}  // namespace moe
