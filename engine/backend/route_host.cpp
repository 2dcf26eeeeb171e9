// MoE routing on the host (Backend::route's default, model/moe_routing's route_experts). Rules: RouteParams.
#include "backend/backend.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

namespace moe {

namespace {

void gate_probs(bool sigmoid, const float* logits, int64_t n, float* probs) {
    if (sigmoid) {
        for (int64_t e = 0; e < n; ++e) probs[e] = 1.0f / (1.0f + std::exp(-logits[e]));
        return;
    }
    const float max_l = *std::max_element(logits, logits + n);
    double sum = 0.0;
    for (int64_t e = 0; e < n; ++e) {
        probs[e] = std::exp(logits[e] - max_l);
        sum += probs[e];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t e = 0; e < n; ++e) probs[e] *= inv;
}

// Masks (to -inf) the experts outside the n_group_used best groups.
void limit_groups(const RouteParams& p, float* score, std::vector<float>& group_score, std::vector<int32_t>& order) {
    const int64_t n_group = p.n_group;
    const int64_t per_group = p.n_expert / n_group;
    group_score.assign(static_cast<size_t>(n_group), 0.0f);
    for (int64_t g = 0; g < n_group; ++g) {
        const float* s = score + g * per_group;
        if (p.group_top2_sum && per_group >= 2) {
            float a = -std::numeric_limits<float>::infinity();
            float b = a;
            for (int64_t i = 0; i < per_group; ++i) {
                if (s[i] > a) {
                    b = a;
                    a = s[i];
                } else if (s[i] > b) {
                    b = s[i];
                }
            }
            group_score[g] = a + b;
        } else {
            group_score[g] = *std::max_element(s, s + per_group);
        }
    }
    order.resize(static_cast<size_t>(n_group));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return group_score[a] > group_score[b]; });
    for (int64_t r = p.n_group_used; r < n_group; ++r)
        std::fill(score + order[r] * per_group, score + (order[r] + 1) * per_group,
                  -std::numeric_limits<float>::infinity());
}

// top[0..k) = the k best of score[0..n) by descending score, the lower id first among equal scores (k <= n): an
// insertion into the k kept so far, as the ids come in ascending order (for 64 experts, several times cheaper than
// a partial sort of all of them).
void top_k(const float* score, int64_t n, int64_t k, int32_t* top) {
    int64_t m = 0;
    for (int32_t e = 0; e < n; ++e) {
        const float s = score[e];
        if (m == k && !(s > score[top[k - 1]])) continue;
        int64_t i = m < k ? m++ : k - 1;
        for (; i > 0 && s > score[top[i - 1]]; --i) top[i] = top[i - 1];
        top[i] = e;
    }
}

}  // namespace

void route_experts_host(const RouteParams& p, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                        float* weights, float* probs_out) {
    const int64_t n_exp = p.n_expert;
    const int64_t k = p.k;
    // Per-thread buffers: a decode step routes every MoE layer, and allocating these each time costs more than
    // the softmax.
    thread_local std::vector<float> probs, score, group_score;
    thread_local std::vector<int32_t> order, group_order;
    probs.resize(static_cast<size_t>(n_exp));
    score.resize(static_cast<size_t>(n_exp));
    order.resize(static_cast<size_t>(n_exp));
    for (int64_t t = 0; t < n_tokens; ++t) {
        gate_probs(p.sigmoid, logits + t * n_exp, n_exp, probs.data());
        if (probs_out) std::copy(probs.begin(), probs.end(), probs_out + t * n_exp);
        for (int64_t e = 0; e < n_exp; ++e) score[e] = probs[e] + (bias ? bias[e] : 0.0f);
        if (p.n_group > 1 && p.n_group_used < p.n_group) limit_groups(p, score.data(), group_score, group_order);
        top_k(score.data(), n_exp, k, order.data());
        int32_t* tid = ids + t * k;
        float* tw = weights + t * k;
        double sum = 0.0;
        for (int64_t j = 0; j < k; ++j) {
            tid[j] = order[j];
            tw[j] = probs[order[j]];
            sum += tw[j];
        }
        const float norm = p.norm ? static_cast<float>(1.0 / (sum + 1e-20)) : 1.0f;
        for (int64_t j = 0; j < k; ++j) tw[j] = tw[j] * norm * p.scale;
    }
}

}  // namespace moe
