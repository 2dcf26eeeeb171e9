// Parameter counts (from hyper-parameters and from a tensor table) and the memory plan.
#include "model/model_stats.h"

#include <algorithm>
#include <string>
#include <cstdint>
#include <limits>

namespace moe {

namespace {

constexpr uint64_t kSaturated = std::numeric_limits<uint64_t>::max();

// Saturating arithmetic: absurd hyper-parameters give UINT64_MAX instead of wrapping.
uint64_t mul(std::initializer_list<int64_t> factors) {
    uint64_t r = 1;
    for (int64_t f : factors) {
        if (f <= 0) return 0;
        if (__builtin_mul_overflow(r, static_cast<uint64_t>(f), &r)) return kSaturated;
    }
    return r;
}
uint64_t add(uint64_t a, uint64_t b) { return a > kSaturated - b ? kSaturated : a + b; }

uint64_t attention_params(const HParams& hp) {
    const int64_t d = hp.n_embd;
    if (!hp.is_mla()) {
        const int64_t q = hp.n_head * hp.head_dim;
        const int64_t kv = hp.n_head_kv * hp.head_dim;
        uint64_t n = add(add(mul({d, q}), mul({2, d, kv})), mul({q, d}));
        if (hp.attention_bias) n = add(n, mul({q + 2 * kv + d}));
        return n;
    }
    const int64_t q_width = hp.n_head * (hp.qk_nope_head_dim + hp.qk_rope_head_dim);
    uint64_t n = hp.q_lora_rank == 0
                     ? mul({d, q_width})
                     : add(add(mul({d, hp.q_lora_rank}), mul({hp.q_lora_rank})), mul({hp.q_lora_rank, q_width}));
    n = add(n, mul({d, hp.kv_lora_rank + hp.qk_rope_head_dim}));                       // kv_a_mqa
    n = add(n, mul({hp.kv_lora_rank}));                                                 // kv_a_norm
    n = add(n, mul({hp.kv_lora_rank, hp.n_head, hp.qk_nope_head_dim + hp.v_head_dim}));  // kv_b (= k_b + v_b)
    return add(n, mul({hp.n_head, hp.v_head_dim, d}));                                  // o
}

}  // namespace

ParamCounts count_params(const HParams& hp) {
    ParamCounts c;
    const int64_t d = hp.n_embd;
    c.embedding = mul({hp.n_vocab, d});
    c.output = add(hp.tie_embeddings ? 0 : mul({hp.n_vocab, d}), mul({d}));
    const uint64_t attn = attention_params(hp);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        c.attention = add(c.attention, attn);
        c.layer_norms = add(c.layer_norms, mul({2, d}));
        if (!hp.is_moe_layer(il)) {
            c.dense_ffn = add(c.dense_ffn, mul({3, d, hp.n_ff}));
            continue;
        }
        c.router = add(c.router, add(mul({d, hp.n_expert}), hp.has_expert_bias ? mul({hp.n_expert}) : 0));
        c.shared_experts = add(c.shared_experts, mul({3, d, hp.n_expert_shared, hp.n_ff_exp}));
        c.routed_experts = add(c.routed_experts, mul({3, d, hp.n_ff_exp, hp.n_expert}));
        c.routed_active = add(c.routed_active, mul({3, d, hp.n_ff_exp, hp.n_expert_used}));
    }
    const uint64_t common = add(add(add(c.embedding, c.output), add(c.attention, c.layer_norms)),
                                add(add(c.dense_ffn, c.router), c.shared_experts));
    c.total = add(common, c.routed_experts);
    c.active = add(common, c.routed_active);
    return c;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

uint64_t count_params(const std::vector<TensorShapeRef>& tensors, const HParams* hp) {
    uint64_t total = 0;
    for (const TensorShapeRef& t : tensors) {
        if (hp != nullptr) {
            if (ends_with(t.name, "_scale_inv")) continue;  // FP8 block scales are not parameters
            if (hp->layout == WeightLayout::HuggingFace && is_hf_mtp_tensor(t.name, hp->n_layer)) continue;
        }
        uint64_t elems = 1;
        for (int64_t s : t.shape) {
            if (s <= 0) {
                elems = 0;
                break;
            }
            if (__builtin_mul_overflow(elems, static_cast<uint64_t>(s), &elems)) elems = kSaturated;
        }
        total = add(total, elems);
    }
    return total;
}

const char* kv_type_name(KvType type) {
    switch (type) {
        case KvType::F32: return "f32";
        case KvType::F16: return "f16";
        case KvType::BF16: return "bf16";
        case KvType::Q8_0: return "q8_0";
    }
    return "?";
}

uint64_t kv_row_bytes(KvType type, int64_t n_elements) {
    if (n_elements <= 0) return 0;
    switch (type) {
        case KvType::F32: return mul({n_elements, 4});
        case KvType::F16:
        case KvType::BF16: return mul({n_elements, 2});
        case KvType::Q8_0: return mul({(n_elements + 31) / 32, 34});  // blocks of 32: fp16 scale + 32 int8
    }
    return 0;
}

MemoryPlan plan_memory(const HParams& hp, uint64_t weight_bytes, KvType kv, int64_t n_ctx, int64_t n_ubatch) {
    MemoryPlan p;
    p.weight_bytes = weight_bytes;
    p.n_ctx = std::max<int64_t>(n_ctx, 0);
    p.n_ubatch = std::max<int64_t>(std::min(n_ubatch, p.n_ctx > 0 ? p.n_ctx : n_ubatch), 1);
    const int64_t L = hp.n_layer;
    int64_t q_width = 0;
    int64_t kv_width = 0;
    if (hp.is_mla()) {
        // Absorbed MLA caches the normalised latent c (kv_lora) and the shared rotated k_pe (rope).
        kv_width = hp.kv_lora_rank + hp.qk_rope_head_dim;
        p.kv_bytes_per_token = mul({L, static_cast<int64_t>(kv_row_bytes(kv, kv_width))});
        const uint64_t naive = add(kv_row_bytes(kv, hp.n_head * (hp.qk_nope_head_dim + hp.qk_rope_head_dim)),
                                   kv_row_bytes(kv, hp.n_head * hp.v_head_dim));
        p.kv_bytes_per_token_naive = mul({L, static_cast<int64_t>(std::min<uint64_t>(naive, INT64_MAX))});
        q_width = hp.n_head * kv_width;
    } else {
        kv_width = 2 * hp.n_head_kv * hp.head_dim;
        p.kv_bytes_per_token = mul({L, 2, static_cast<int64_t>(kv_row_bytes(kv, hp.n_head_kv * hp.head_dim))});
        p.kv_bytes_per_token_naive = p.kv_bytes_per_token;
        q_width = hp.n_head * hp.head_dim;
    }
    p.kv_bytes = mul({static_cast<int64_t>(std::min<uint64_t>(p.kv_bytes_per_token, INT64_MAX)), p.n_ctx});
    int64_t ffn_width = (hp.n_leading_dense > 0 || !hp.is_moe()) ? hp.n_ff : 0;
    if (hp.is_moe()) ffn_width = std::max(ffn_width, (hp.n_expert_used + hp.n_expert_shared) * hp.n_ff_exp);
    const int64_t per_token = hp.n_vocab + 4 * hp.n_embd + q_width + kv_width + hp.n_head * hp.n_embd_head_v() +
                              2 * ffn_width + 2 * hp.n_expert;
    p.workspace_bytes = add(mul({p.n_ubatch, 4, per_token}), mul({p.n_ubatch, hp.n_head, std::max<int64_t>(p.n_ctx, 1), 4}));
    p.total_bytes = add(add(p.weight_bytes, p.kv_bytes), p.workspace_bytes);
    return p;
}

}  // namespace moe
