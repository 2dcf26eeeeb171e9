#include "model/moe_routing.h"

#include "backend/backend.h"

namespace moe {

RouteParams route_params(const HParams& hp) {
    RouteParams p;
    p.n_expert = hp.n_expert;
    p.k = hp.n_expert_used;
    p.sigmoid = hp.gating == Gating::Sigmoid;
    p.n_group = hp.n_group;
    p.n_group_used = hp.n_group_used;
    p.group_top2_sum = hp.has_expert_bias || hp.topk_method == "noaux_tc";
    p.norm = hp.expert_weights_norm;
    p.scale = static_cast<float>(hp.expert_weights_scale);
    return p;
}

void route_experts(const HParams& hp, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                   float* weights, float* probs_out) {
    route_experts_host(route_params(hp), logits, bias, n_tokens, ids, weights, probs_out);
}

}  // namespace moe
