#include "moe_ffn.h"

#include "gemv_rows.cuh"

#include <string>

namespace moe::cuda {

namespace {

constexpr int kWarps = 8;

// grid (ceil(n_ff_max / 8), n_slots): warp w computes gate and up row 8 * blockIdx.x + w of the slot's expert
// (two weight streams per warp).
template <GgmlType T>
__global__ void __launch_bounds__(kWarps* kWarp) gate_up_kernel(const ExpertDesc* table, const float* xp, int64_t xs,
                                                                const int32_t* ids, int64_t k, float* h, int64_t hs) {
    const int64_t s = blockIdx.y;
    const ExpertDesc& e = table[ids[s]];
    if (e.gate.type != T) return;
    const int64_t r = int64_t(blockIdx.x) * kWarps + threadIdx.x / kWarp;
    if (r >= e.gate.rows) return;
    const int lane = threadIdx.x % kWarp;
    const float* x = xp + (s / k) * xs;
    const int64_t rows[1] = {r};
    float g[1][1] = {}, u[1][1] = {};
    lane_row_dots<T, 1, 1>(e.gate, rows, x, 0, lane, g);
    lane_row_dots<T, 1, 1>(e.up, rows, x, 0, lane, u);
    const float gs = warp_sum(g[0][0]), us = warp_sum(u[0][0]);
    if (lane == 0) h[s * hs + r] = silu(gs) * us;
}

template <GgmlType T>
__global__ void __launch_bounds__(kWarps* kWarp) down_kernel(const ExpertDesc* table, int64_t n_embd, const float* hp,
                                                             int64_t hs, const int32_t* ids, float* y, int64_t ys) {
    const int64_t s = blockIdx.y;
    const ExpertDesc& e = table[ids[s]];
    if (e.down.type != T) return;
    const int64_t r = (int64_t(blockIdx.x) * kWarps + threadIdx.x / kWarp) * 2;
    if (r >= n_embd) return;
    const int lane = threadIdx.x % kWarp;
    const int64_t rows[2] = {r, r + 1 < n_embd ? r + 1 : r};
    float acc[2][1] = {};
    lane_row_dots<T, 2, 1>(e.down, rows, hp + s * hs, 0, lane, acc);
    const float a0 = warp_sum(acc[0][0]), a1 = warp_sum(acc[1][0]);
    if (lane == 0) {
        y[s * ys + r] = a0;
        if (r + 1 < n_embd) y[s * ys + r + 1] = a1;
    }
}

__global__ void combine_kernel(const float* ys, int64_t n_embd, const float* w, int64_t k, float* y) {
    const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t t = blockIdx.y;
    if (c >= n_embd) return;
    float acc = 0.0f;
    for (int64_t j = 0; j < k; ++j) acc += w[t * k + j] * ys[(t * k + j) * n_embd + c];
    y[t * n_embd + c] += acc;
}

Status check_slots(const char* op, int64_t n_slots, int64_t stride, const void* x) {
    if (n_slots < 0 || n_slots > 65535) return shape_error(op, std::to_string(n_slots) + " slots (at most 65535)");
    if (stride % 4 != 0 || (reinterpret_cast<uintptr_t>(x) & 15) != 0)
        return shape_error(op, "activation rows must be 16-byte aligned (stride " + std::to_string(stride) + ")");
    return {};
}

}  // namespace

Status moe_gate_up(const ExpertDesc* table, GgmlType type, int64_t n_ff_max, const float* xp, int64_t xs,
                   const int32_t* ids, int64_t n_slots, int64_t k, float* h, int64_t hs, cudaStream_t stream) {
    const char* op = "moe_gate_up";
    MOE_RETURN_IF_ERROR(check_slots(op, n_slots, xs, xp));
    if (k <= 0 || hs < n_ff_max) return shape_error(op, "k must be positive and the h stride hold n_ff");
    if (n_slots == 0 || n_ff_max == 0) return {};
    const dim3 grid(blocks_for(n_ff_max, kWarps), unsigned(n_slots));
    if (!dispatch_weight_type(type, [&]<GgmlType T>() {
            gate_up_kernel<T><<<grid, kWarps * kWarp, 0, stream>>>(table, xp, xs, ids, k, h, hs);
        }))
        return shape_error(op, std::string("no CUDA kernel for ") + ggml_type_name(type));
    return launch_status(op);
}

Status moe_down(const ExpertDesc* table, GgmlType type, int64_t n_embd, const float* hp, int64_t hs, const int32_t* ids,
                int64_t n_slots, float* y, int64_t ys, cudaStream_t stream) {
    const char* op = "moe_down";
    MOE_RETURN_IF_ERROR(check_slots(op, n_slots, hs, hp));
    if (ys < n_embd) return shape_error(op, "output stride below n_embd");
    if (n_slots == 0 || n_embd == 0) return {};
    const dim3 grid(blocks_for(n_embd, kWarps * 2), unsigned(n_slots));
    if (!dispatch_weight_type(type, [&]<GgmlType T>() {
            down_kernel<T><<<grid, kWarps * kWarp, 0, stream>>>(table, n_embd, hp, hs, ids, y, ys);
        }))
        return shape_error(op, std::string("no CUDA kernel for ") + ggml_type_name(type));
    return launch_status(op);
}

Status moe_combine(const float* y_slots, int64_t n_embd, const float* weights, int64_t n_tokens, int64_t k, float* y,
                   cudaStream_t stream) {
    if (n_tokens < 0 || n_tokens > 65535 || k <= 0) return shape_error("moe_combine", "bad token count or k");
    if (n_tokens == 0) return {};
    combine_kernel<<<dim3(blocks_for(n_embd, 256), unsigned(n_tokens)), 256, 0, stream>>>(y_slots, n_embd, weights, k,
                                                                                          y);
    return launch_status("moe_combine");
}

}  // namespace moe::cuda
