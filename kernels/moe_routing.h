// MoE routing on the device, from router logits to the chosen experts and their weights, with the semantics of
// engine/model/moe_routing.h (spec 1.2, 2.4, 3.1): softmax or sigmoid gate, selection bias (V3) used for the
// choice only, group-limited selection (group score = max, or top-2 sum with a bias / noaux_tc), top-k in
// descending score with ties to the lower id, weights = unbiased probs, optionally / (sum + 1e-20), * scale.
#pragma once

#include "core/status.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace moe::cuda {

struct RoutingParams {
    int64_t n_expert = 0;
    int64_t k = 0;         // experts used per token
    bool sigmoid = false;  // else softmax
    int64_t n_group = 1;
    int64_t n_group_used = 1;
    bool group_top2_sum = false;
    bool norm = false;   // divide the weights by their sum
    float scale = 1.0f;  // then multiply by this
};

// logits: [n_tokens][n_expert]; bias: [n_expert] or null; ids/weights: [n_tokens][k]; probs (optional):
// [n_tokens][n_expert]. All device memory. Errors: k > n_expert or > 64, more than 4096 experts, groups that do not
// divide n_expert.
Status route_experts(const RoutingParams& p, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                     float* weights, float* probs, cudaStream_t stream);

}  // namespace moe::cuda
