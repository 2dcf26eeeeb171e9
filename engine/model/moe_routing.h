// DeepSeekMoE routing of a batch of tokens, from router logits to the chosen experts and their final weights.
// Spec 1.2, 2.4, 3.1; shared fixtures section 4:
//   probs  = softmax(logits) or sigmoid(logits)
//   score  = probs (+ expert bias, V3: used for selection only)
//   groups: keep the n_group_used groups with the best group score (max of the group, or for biased sigmoid
//           routing the sum of its top-2 scores), mask the other experts out
//   ids    = top-k of score, in descending order of score (ties: lower id first)
//   w      = probs[ids] (unbiased); / (sum + 1e-20) when expert_weights_norm; * expert_weights_scale
#pragma once

#include "backend/backend.h"
#include "model/hparams.h"

#include <cstdint>

namespace moe {

// The routing rules of a model's hyper-parameters, as the backend's route() takes them.
RouteParams route_params(const HParams& hp);

// logits: [n_tokens][n_expert]; bias: [n_expert] or null; ids/weights: [n_tokens][n_expert_used].
// probs (optional): [n_tokens][n_expert] receives the gate probabilities.
void route_experts(const HParams& hp, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                   float* weights, float* probs = nullptr);

}  // namespace moe
