#include "gemv.h"

#include "gemv_rows.cuh"

#include "formats/ggml_type.h"

#include <string>

namespace moe::cuda {

namespace {

constexpr int kWarpsPerBlock = 8;
constexpr int kRowsPerWarp = 2;  // two weight streams per warp: more loads in flight per lane

// grid.x = ceil(rows / (8 warps * 2 rows)); warp w of block b computes rows 2(8b + w) and 2(8b + w) + 1.
template <GgmlType T, int NT>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarp)
    gemv_kernel(WeightDesc w, const float* x, int64_t xs, float* y, int64_t ys) {
    const int lane = threadIdx.x % kWarp;
    const int64_t r0 = (int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp) * kRowsPerWarp;
    if (r0 >= w.rows) return;
    int64_t rows[kRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) rows[i] = min(r0 + i, w.rows - 1);  // a duplicate row is not stored
    float acc[kRowsPerWarp][NT] = {};
    lane_row_dots<T, kRowsPerWarp, NT>(w, rows, x, xs, lane, acc);
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
#pragma unroll
        for (int t = 0; t < NT; ++t) {
            const float s = warp_sum(acc[i][t]);
            if (lane == 0 && r0 + i < w.rows) y[t * ys + r0 + i] = s;
        }
    }
}

// One thread per (column, token): y[t][c] = sum_r x[t][r] W[r][c]. Consecutive threads read consecutive
// columns of a row (coalesced for the element types; the legacy W_UK matrices are small).
template <GgmlType T>
__global__ void gemv_t_kernel(WeightDesc w, const float* x, int64_t xs, int64_t n_tokens, float* y, int64_t ys) {
    const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t t = blockIdx.y;
    if (c >= w.cols || t >= n_tokens) return;
    float acc = 0.0f;
    for (int64_t r = 0; r < w.rows; ++r) acc += x[t * xs + r] * dequant_elem<T>(w, r, c);
    y[t * ys + c] = acc;
}

// grid (ceil(max_rows / 16), n_jobs): the gemv_kernel of one token for job blockIdx.y.
template <GgmlType T>
__global__ void __launch_bounds__(kWarpsPerBlock* kWarp) gemv_jobs_kernel(const GemvJob* jobs) {
    const GemvJob& job = jobs[blockIdx.y];
    if (job.w.type != T) return;
    const int lane = threadIdx.x % kWarp;
    const int64_t r0 = (int64_t(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp) * kRowsPerWarp;
    if (r0 >= job.w.rows) return;
    int64_t rows[kRowsPerWarp];
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) rows[i] = min(r0 + i, job.w.rows - 1);
    float acc[kRowsPerWarp][1] = {};
    lane_row_dots<T, kRowsPerWarp, 1>(job.w, rows, job.x, 0, lane, acc);
#pragma unroll
    for (int i = 0; i < kRowsPerWarp; ++i) {
        const float s = warp_sum(acc[i][0]);
        if (lane == 0 && r0 + i < job.w.rows) job.y[r0 + i] = s;
    }
}

// grid (ceil(max_cols / 128), n_jobs): gemv_t_kernel of one token for job blockIdx.y.
template <GgmlType T>
__global__ void gemv_t_jobs_kernel(const GemvJob* jobs) {
    const GemvJob& job = jobs[blockIdx.y];
    if (job.w.type != T) return;
    const int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= job.w.cols) return;
    float acc = 0.0f;
    for (int64_t r = 0; r < job.w.rows; ++r) acc += job.x[r] * dequant_elem<T>(job.w, r, c);
    job.y[c] = acc;
}

template <GgmlType T>
void launch_gemv(const WeightDesc& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys, cudaStream_t s) {
    const unsigned grid = blocks_for(w.rows, kWarpsPerBlock * kRowsPerWarp);
    const dim3 block(kWarpsPerBlock * kWarp);
    for (int64_t t0 = 0; t0 < n; t0 += 8) {
        const int64_t nt = n - t0 < 8 ? n - t0 : 8;
        const float* xt = x + t0 * xs;
        float* yt = y + t0 * ys;
        switch (nt) {
            case 1:
                gemv_kernel<T, 1><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                break;
            case 2:
                gemv_kernel<T, 2><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                break;
            case 3:
                gemv_kernel<T, 3><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                break;
            case 4:
                gemv_kernel<T, 4><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                break;
            default: {  // 5..8 tokens: two launches would read W twice; 8 is the widest instantiation
                if (nt == 8) {
                    gemv_kernel<T, 8><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                } else {
                    gemv_kernel<T, 4><<<grid, block, 0, s>>>(w, xt, xs, yt, ys);
                    gemv_kernel<T, 4><<<grid, block, 0, s>>>(w, xt + (nt - 4) * xs, xs, yt + (nt - 4) * ys, ys);
                }
            }
        }
    }
}

}  // namespace

bool gemv_supports(GgmlType type) {
    return has_device_kernels(type);
}

Status check_weight(const char* op, const WeightDesc& w) {
    if (!has_device_kernels(w.type))
        return shape_error(op, std::string("no CUDA kernel for weight type ") + ggml_type_name(w.type));
    if (!w.data || w.rows <= 0 || w.cols <= 0) return shape_error(op, "empty weight matrix");
    const int64_t blk = weight_block_elems(w.type);
    if (w.cols % blk != 0)
        return shape_error(op, std::to_string(w.cols) + " columns are not a multiple of the " + ggml_type_name(w.type) +
                                   " block (" + std::to_string(blk) + ")");
    const auto need = ggml_bytes(w.type == GgmlType::F8_E4M3_B128 ? GgmlType::I8 : w.type, uint64_t(w.cols));
    if (w.type != GgmlType::F8_E4M3_B128 && (!need || w.row_bytes < *need))
        return shape_error(op, "row_bytes " + std::to_string(w.row_bytes) + " is less than a row of " +
                                   std::to_string(w.cols) + " " + ggml_type_name(w.type) + " values");
    if (w.type == GgmlType::F8_E4M3_B128 &&
        (!w.scales || w.scale_cols < (w.cols + 127) / 128 || w.row_bytes < uint64_t(w.cols)))
        return shape_error(op, "FP8 weights need their block scales (" + std::to_string((w.cols + 127) / 128) +
                                   " per row block) and cols bytes per row");
    return {};
}

Status gemv(const WeightDesc& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys, cudaStream_t stream) {
    const char* op = "gemv";
    MOE_RETURN_IF_ERROR(check_weight(op, w));
    if (n < 0 || xs < w.cols || ys < w.rows || xs % 4 != 0 || (reinterpret_cast<uintptr_t>(x) & 15) != 0)
        return shape_error(op, "activation stride " + std::to_string(xs) + " (needs >= " + std::to_string(w.cols) +
                                   ", a multiple of 4, 16-byte aligned rows) or output stride " + std::to_string(ys) +
                                   " (needs >= " + std::to_string(w.rows) + ")");
    if (n == 0) return {};
    dispatch_weight_type(w.type, [&]<GgmlType T>() { launch_gemv<T>(w, x, xs, n, y, ys, stream); });
    return launch_status(op);
}

Status gemv_jobs(GgmlType type, const GemvJob* jobs, int64_t n_jobs, int64_t max_out, bool transposed,
                 cudaStream_t stream) {
    const char* op = "gemv_jobs";
    if (n_jobs <= 0 || n_jobs > 65535 || max_out <= 0) return shape_error(op, "1..65535 jobs with outputs");
    const bool ok = dispatch_weight_type(type, [&]<GgmlType T>() {
        if (transposed)
            gemv_t_jobs_kernel<T><<<dim3(blocks_for(max_out, 128), unsigned(n_jobs)), 128, 0, stream>>>(jobs);
        else
            gemv_jobs_kernel<T><<<dim3(blocks_for(max_out, kWarpsPerBlock * kRowsPerWarp), unsigned(n_jobs)),
                                  kWarpsPerBlock * kWarp, 0, stream>>>(jobs);
    });
    if (!ok) return shape_error(op, std::string("no CUDA kernel for ") + ggml_type_name(type));
    return launch_status(op);
}

Status gemv_transposed(const WeightDesc& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                       cudaStream_t stream) {
    const char* op = "gemv_transposed";
    MOE_RETURN_IF_ERROR(check_weight(op, w));
    if (n < 0 || n > 65535 || xs < w.rows || ys < w.cols)
        return shape_error(op, "strides " + std::to_string(xs) + " / " + std::to_string(ys) + " do not fit a [" +
                                   std::to_string(w.rows) + " x " + std::to_string(w.cols) + "] matrix");
    if (n == 0) return {};
    const dim3 grid(blocks_for(w.cols, 128), unsigned(n));
    dispatch_weight_type(w.type, [&]<GgmlType T>() { gemv_t_kernel<T><<<grid, 128, 0, stream>>>(w, x, xs, n, y, ys); });
    return launch_status(op);
}

}  // namespace moe::cuda
