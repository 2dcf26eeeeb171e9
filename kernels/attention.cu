#include "attention.h"

#include "cuda_common.cuh"

#include <string>
#include <type_traits>

namespace moe::cuda {

namespace {

constexpr int kMaxPerLane = 32;  // head widths up to 32 * 32 = 1024
constexpr int kAttnWarps = 8;

// One attention problem: query rows [n_tokens][n_head][q_stride], key row s at k + s * k_stride (width dk),
// value row s at v + s * v_stride (width dv), kv head = h / group; out [n_tokens][n_head][dv].
template <class C>
struct AttnDev {
    const float* q;
    int64_t q_head_stride, q_token_stride;
    const C* k;
    const C* v;
    int64_t k_stride, v_stride, kv_head_stride_k, kv_head_stride_v;
    int64_t dk, dv, n_head, group;
    const int32_t* pos;
    float scale;
    float* out;
};

__device__ __forceinline__ float load_c(const float* p) {
    return *p;
}
__device__ __forceinline__ float load_c(const uint16_t* p) {
    return half_bits_to_float(*p);
}

template <class C>
__global__ void __launch_bounds__(kAttnWarps* kWarp) attention_kernel(AttnDev<C> a) {
    __shared__ float s_q[kMaxPerLane * kWarp];
    __shared__ float s_m[kAttnWarps], s_l[kAttnWarps];
    __shared__ float s_o[kAttnWarps][kMaxPerLane * kWarp / 4];  // reused per quarter of dv while merging
    const int64_t t = blockIdx.y, h = blockIdx.x;
    const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
    const float* q = a.q + t * a.q_token_stride + h * a.q_head_stride;
    for (int64_t i = threadIdx.x; i < a.dk; i += blockDim.x) s_q[i] = q[i];
    __syncthreads();
    const C* kb = a.k + (h / a.group) * a.kv_head_stride_k;
    const C* vb = a.v + (h / a.group) * a.kv_head_stride_v;
    const int64_t n_kv = int64_t(a.pos[t]) + 1;
    float m = -INFINITY, l = 0.0f;
    float o[kMaxPerLane];
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) o[i] = 0.0f;
    // Two keys per step (s0 and s0 + 8): their loads and reductions overlap; the second may be past the end
    // (then its row is the first's and its weight 0).
    for (int64_t s0 = warp; s0 < n_kv; s0 += 2 * kAttnWarps) {
        const bool has1 = s0 + kAttnWarps < n_kv;
        const int64_t s1 = has1 ? s0 + kAttnWarps : s0;
        const C* k0 = kb + s0 * a.k_stride;
        const C* k1 = kb + s1 * a.k_stride;
        float dot0 = 0.0f, dot1 = 0.0f;
        for (int64_t i = lane; i < a.dk; i += kWarp) {
            dot0 += s_q[i] * load_c(k0 + i);
            dot1 += s_q[i] * load_c(k1 + i);
        }
        const float score0 = warp_sum(dot0) * a.scale;
        const float score1 = has1 ? warp_sum(dot1) * a.scale : -INFINITY;
        const float m_new = fmaxf(m, fmaxf(score0, score1));
        const float corr = expf(m - m_new);  // 0 on the first key (m = -inf)
        const float p0 = expf(score0 - m_new);
        const float p1 = has1 ? expf(score1 - m_new) : 0.0f;
        l = l * corr + p0 + p1;
        const C* v0 = vb + s0 * a.v_stride;
        const C* v1 = vb + s1 * a.v_stride;
#pragma unroll
        for (int i = 0; i < kMaxPerLane; ++i) {
            const int64_t c = lane + int64_t(i) * kWarp;
            if (c < a.dv) o[i] = o[i] * corr + p0 * load_c(v0 + c) + p1 * load_c(v1 + c);
        }
        m = m_new;
    }
    if (lane == 0) s_m[warp] = m, s_l[warp] = l;
    __syncthreads();
    float gm = -INFINITY;
    for (int w = 0; w < kAttnWarps; ++w) gm = fmaxf(gm, s_m[w]);
    float gl = 0.0f;
    for (int w = 0; w < kAttnWarps; ++w) gl += s_m[w] == -INFINITY ? 0.0f : s_l[w] * expf(s_m[w] - gm);
    const float my_corr = m == -INFINITY ? 0.0f : expf(m - gm);
    float* out = a.out + (t * a.n_head + h) * a.dv;
    // Merge the warps' value sums a quarter of the register slots at a time (shared memory stays under 48 KB).
    constexpr int kQuarter = kMaxPerLane / 4;
#pragma unroll
    for (int part = 0; part < 4; ++part) {  // unrolled: o[] is indexed by constants and stays in registers
#pragma unroll
        for (int i = 0; i < kQuarter; ++i) s_o[warp][lane + i * kWarp] = o[part * kQuarter + i] * my_corr;
        __syncthreads();
        for (int idx = threadIdx.x; idx < kQuarter * kWarp; idx += blockDim.x) {
            const int64_t c = int64_t(part) * kQuarter * kWarp + idx;
            if (c >= a.dv) continue;
            float sum = 0.0f;
            for (int w = 0; w < kAttnWarps; ++w) sum += s_o[w][idx];
            out[c] = sum / gl;
        }
        __syncthreads();
    }
}

template <class C>
Status launch(const AttnDev<C>& d, int64_t n_tokens, const char* op, cudaStream_t stream) {
    if (n_tokens > 65535) return shape_error(op, "more than 65535 tokens in one call");
    attention_kernel<C><<<dim3(unsigned(d.n_head), unsigned(n_tokens)), kAttnWarps * kWarp, 0, stream>>>(d);
    return launch_status(op);
}

}  // namespace

Status mla_attention(const MlaAttentionArgs& a, cudaStream_t stream) {
    const char* op = "mla_attention";
    const int64_t row = a.kv_lora + a.n_rope;
    if (a.n_tokens < 0 || a.n_head <= 0 || a.kv_lora <= 0 || a.n_rope < 0 || row > kMaxPerLane * kWarp)
        return shape_error(op, "kv_lora " + std::to_string(a.kv_lora) + " + rope " + std::to_string(a.n_rope) +
                                   " must be positive and at most 1024 wide");
    if (!a.q || !a.out || !a.pos || (!a.cache && !a.cache_f16)) return shape_error(op, "missing buffer");
    if (a.n_tokens == 0) return {};
    // Absorbed MLA = MQA: one kv head, key = the whole row [c | k_pe], value = c.
    const auto run = [&](auto* cache) {
        using C = std::remove_cv_t<std::remove_pointer_t<decltype(cache)>>;
        AttnDev<C> d{a.q, row, a.n_head * row, cache,    cache,    row,   row,        0,
                     0,   row, a.kv_lora,      a.n_head, a.n_head, a.pos, a.kq_scale, a.out};
        return launch(d, a.n_tokens, op, stream);
    };
    return a.cache ? run(a.cache) : run(a.cache_f16);
}

Status mha_attention(const MhaAttentionArgs& a, cudaStream_t stream) {
    const char* op = "mha_attention";
    if (a.n_tokens < 0 || a.n_head <= 0 || a.n_head_kv <= 0 || a.n_head % a.n_head_kv != 0 || a.head_dim_k <= 0 ||
        a.head_dim_v <= 0 || a.head_dim_k > kMaxPerLane * kWarp || a.head_dim_v > kMaxPerLane * kWarp)
        return shape_error(op, "heads " + std::to_string(a.n_head) + " / kv heads " + std::to_string(a.n_head_kv) +
                                   ", head widths " + std::to_string(a.head_dim_k) + " / " +
                                   std::to_string(a.head_dim_v) + " (at most 1024)");
    if (!a.q || !a.out || !a.pos || !((a.k && a.v) || (a.k_f16 && a.v_f16))) return shape_error(op, "missing buffer");
    if (a.n_tokens == 0) return {};
    const int64_t ks = a.n_head_kv * a.head_dim_k, vs = a.n_head_kv * a.head_dim_v, group = a.n_head / a.n_head_kv;
    const auto run = [&](auto* k, auto* v) {
        using C = std::remove_cv_t<std::remove_pointer_t<decltype(k)>>;
        AttnDev<C> d{a.q,
                     a.head_dim_k,
                     a.n_head * a.head_dim_k,
                     k,
                     v,
                     ks,
                     vs,
                     a.head_dim_k,
                     a.head_dim_v,
                     a.head_dim_k,
                     a.head_dim_v,
                     a.n_head,
                     group,
                     a.pos,
                     a.kq_scale,
                     a.out};
        return launch(d, a.n_tokens, op, stream);
    };
    return a.k ? run(a.k, a.v) : run(a.k_f16, a.v_f16);
}

}  // namespace moe::cuda
