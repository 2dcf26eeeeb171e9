// The CPU backend's non-matrix ops. Contracts: see Backend in backend/backend.h.
#pragma once

#include "backend/backend.h"

#include <cstdint>

namespace moe::cpu {

class ThreadPool;

void rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
              int64_t y_stride);
void rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride, const int32_t* pos,
          const RopeParams& params);
void add(float* y, const float* x, int64_t n);
// SwiGLU's gating: h[i] = silu(h[i]) * u[i], i < n (silu(v) = v / (1 + exp(-v))). With SIMD a vectorised exp
// (within 2e-7 of expf's); an element's result depends only on its values, never on n or its index.
void silu_mul(float* h, const float* u, int64_t n);

// Attention over the cache, parallel over (token, head). Contracts: MlaAttentionArgs / MhaAttentionArgs.
Status mla_attention(ThreadPool& pool, const MlaAttentionArgs& args);
Status mha_attention(ThreadPool& pool, const MhaAttentionArgs& args);
// Backend::mla_absorbed for one token in one parallel region (heads split between threads), with the bits of
// the separate ops.
Status mla_absorbed_decode(ThreadPool& pool, const MlaAbsorbedArgs& args);
// Backend::announce_mla_absorbed for mla_absorbed_decode: each thread's first cache rows (its chunk of a long
// context), then its heads' W_UK and W_UV, as lookahead of the pool's next run (ThreadPool::add_lookahead).
void announce_mla_absorbed(ThreadPool& pool, const MlaAbsorbedArgs& args);
// Backend::moe_routed for one token in one parallel region: the router's rows split between the threads, then
// the calling thread routes (route_experts_host), checks and plans while the last thread computes the shared FFN,
// and the plan runs as moe_ffn's decode runs it (the same bits as the separate ops).
Status moe_routed_decode(ThreadPool& pool, const MoeRoutedArgs& args);

}  // namespace moe::cpu
