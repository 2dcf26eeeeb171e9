// Mixture-of-experts SwiGLU on the device, the decode form: every (token, selected expert) pair is a "slot"
// s = t * k + j with expert ids[s]; the experts' weights are a device table, so the routing never returns to the
// host (the launch sequence is fixed: it can be captured in a CUDA graph). Experts of different stored types
// (the shared expert may differ from the routed ones) run as one launch per type; a launch skips slots whose
// expert has another type. Prompt batches use the grouped path of the backend (gather, GEMM, scatter).
//   h[s]      = silu(gate_e xp[t]) * up_e xp[t]        [n_slots][h_stride]   (xp rounded for the gate type)
//   y_slot[s] = down_e hp[s]                          [n_slots][n_embd]     (hp = h rounded for the down type)
//   y[t]     += sum_j weights[t][j] * y_slot[t * k + j]
#pragma once

#include "core/status.h"
#include "weight_desc.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

struct ExpertDesc {
    WeightDesc gate, up, down;
};

// table: [n_experts] device; ids: [n_slots] device; rows handled: r < gate.rows of each slot's expert.
Status moe_gate_up(const ExpertDesc* table, GgmlType type, int64_t n_ff_max, const float* xp, int64_t xp_stride,
                   const int32_t* ids, int64_t n_slots, int64_t k, float* h, int64_t h_stride, cudaStream_t stream);
Status moe_down(const ExpertDesc* table, GgmlType type, int64_t n_embd, const float* hp, int64_t hp_stride,
                const int32_t* ids, int64_t n_slots, float* y_slots, int64_t y_stride, cudaStream_t stream);
// y: [n_tokens][n_embd] accumulated; y_slots: [n_tokens * k][n_embd]; weights: [n_tokens][k].
Status moe_combine(const float* y_slots, int64_t n_embd, const float* weights, int64_t n_tokens, int64_t k, float* y,
                   cudaStream_t stream);

}  // namespace moe::cuda
