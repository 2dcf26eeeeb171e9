#include "moe_routing.h"

#include "cuda_common.cuh"

#include <string>

namespace moe::cuda {

namespace {

constexpr int kThreads = 256;

// Block-wide argmax of score[0..n) (ties: lower index); every thread gets the result.
__device__ int block_argmax(const float* score, int64_t n, float* s_val, int* s_idx) {
    float best = -INFINITY;
    int bi = 0x7fffffff;
    for (int64_t e = threadIdx.x; e < n; e += blockDim.x) {
        const float v = score[e];
        if (v > best || (v == best && int(e) < bi)) best = v, bi = int(e);
    }
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, best, o);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, o);
        if (ov > best || (ov == best && oi < bi)) best = ov, bi = oi;
    }
    if (threadIdx.x % kWarp == 0) s_val[threadIdx.x / kWarp] = best, s_idx[threadIdx.x / kWarp] = bi;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < int(blockDim.x / kWarp); ++w)
            if (s_val[w] > s_val[0] || (s_val[w] == s_val[0] && s_idx[w] < s_idx[0]))
                s_val[0] = s_val[w], s_idx[0] = s_idx[w];
    }
    __syncthreads();
    const int r = s_idx[0];
    __syncthreads();
    return r;
}

// One block per token; dynamic shared memory: probs[E], score[E].
__global__ void route_kernel(RoutingParams p, const float* logits, const float* bias, int32_t* ids, float* weights,
                             float* probs_out) {
    extern __shared__ float s_mem[];
    float* probs = s_mem;
    float* score = s_mem + p.n_expert;
    __shared__ float s_val[kThreads / kWarp];
    __shared__ int s_idx[kThreads / kWarp];
    __shared__ double s_sum[kThreads / kWarp];
    __shared__ int s_sel[64];
    const int64_t t = blockIdx.x, E = p.n_expert;
    const float* lt = logits + t * E;
    if (p.sigmoid) {
        for (int64_t e = threadIdx.x; e < E; e += blockDim.x) probs[e] = 1.0f / (1.0f + expf(-lt[e]));
        __syncthreads();
    } else {
        // max, then exp(l - max) and a double sum, scaled by float(1 / sum) (gate_probs in moe_routing.cpp).
        for (int64_t e = threadIdx.x; e < E; e += blockDim.x) probs[e] = lt[e];
        __syncthreads();
        // The max from the logits themselves: probs[] is overwritten below while slower threads may still read.
        const float mx = lt[block_argmax(probs, E, s_val, s_idx)];
        double part = 0.0;
        for (int64_t e = threadIdx.x; e < E; e += blockDim.x) {
            probs[e] = expf(lt[e] - mx);
            part += probs[e];
        }
        for (int o = 16; o > 0; o >>= 1) part += __shfl_xor_sync(0xffffffffu, part, o);
        if (threadIdx.x % kWarp == 0) s_sum[threadIdx.x / kWarp] = part;
        __syncthreads();
        double sum = 0.0;
        for (int w = 0; w < int(blockDim.x / kWarp); ++w) sum += s_sum[w];
        const float inv = float(1.0 / sum);
        for (int64_t e = threadIdx.x; e < E; e += blockDim.x) probs[e] *= inv;
        __syncthreads();
    }
    for (int64_t e = threadIdx.x; e < E; e += blockDim.x) {
        score[e] = probs[e] + (bias ? bias[e] : 0.0f);
        if (probs_out) probs_out[t * E + e] = probs[e];
    }
    __syncthreads();
    if (p.n_group > 1 && p.n_group_used < p.n_group && threadIdx.x == 0) {
        // Few groups (<= 64): one thread scores them and masks all but the best n_group_used (stable order).
        const int64_t per = E / p.n_group;
        float gs[64];
        for (int64_t g = 0; g < p.n_group; ++g) {
            const float* s = score + g * per;
            float a = -INFINITY, b = -INFINITY;
            for (int64_t i = 0; i < per; ++i) {
                if (s[i] > a)
                    b = a, a = s[i];
                else if (s[i] > b)
                    b = s[i];
            }
            gs[g] = p.group_top2_sum && per >= 2 ? a + b : a;
        }
        bool keep[64] = {};
        for (int64_t r = 0; r < p.n_group_used; ++r) {
            int64_t best = -1;
            for (int64_t g = 0; g < p.n_group; ++g)
                if (!keep[g] && (best < 0 || gs[g] > gs[best])) best = g;
            keep[best] = true;
        }
        for (int64_t g = 0; g < p.n_group; ++g)
            if (!keep[g])
                for (int64_t i = 0; i < per; ++i) score[g * per + i] = -INFINITY;
    }
    __syncthreads();
    for (int64_t j = 0; j < p.k; ++j) {
        const int e = block_argmax(score, E, s_val, s_idx);
        if (threadIdx.x == 0) {
            s_sel[j] = e;
            score[e] = -INFINITY;
        }
        __syncthreads();
        // A fully masked tail (fewer finite scores than k) picks the lowest remaining id, like partial_sort.
    }
    if (threadIdx.x == 0) {
        double sum = 0.0;
        for (int64_t j = 0; j < p.k; ++j) sum += probs[s_sel[j]];
        const float norm = p.norm ? float(1.0 / (sum + 1e-20)) : 1.0f;
        for (int64_t j = 0; j < p.k; ++j) {
            ids[t * p.k + j] = s_sel[j];
            weights[t * p.k + j] = probs[s_sel[j]] * norm * p.scale;
        }
    }
}

}  // namespace

Status route_experts(const RoutingParams& p, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                     float* weights, float* probs, cudaStream_t stream) {
    const char* op = "route_experts";
    // Two floats per expert in shared memory: at most 4096 experts stay within the 48 KB default.
    if (p.n_expert <= 0 || p.k <= 0 || p.k > p.n_expert || p.k > 64 || p.n_expert > 4096)
        return shape_error(op, "k = " + std::to_string(p.k) + " of " + std::to_string(p.n_expert) +
                                   " experts (k <= 64, experts <= 4096)");
    if (p.n_group > 1 && (p.n_group > 64 || p.n_expert % p.n_group != 0 || p.n_group_used <= 0))
        return shape_error(op, std::to_string(p.n_group) + " groups for " + std::to_string(p.n_expert) + " experts");
    if (n_tokens <= 0) return {};
    const size_t shmem = size_t(2 * p.n_expert) * sizeof(float);
    route_kernel<<<unsigned(n_tokens), kThreads, shmem, stream>>>(p, logits, bias, ids, weights, probs);
    return launch_status(op);
}

}  // namespace moe::cuda
