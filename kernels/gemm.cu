#include "gemm.h"

#include "dequant.cuh"

#include <cuda_bf16.h>

#include <algorithm>
#include <string>

namespace moe::cuda {

namespace {

enum class Tile { F32, F16, BF16 };

Tile tile_type(GgmlType t) {
    if (t == GgmlType::F32) return Tile::F32;
    if (t == GgmlType::BF16) return Tile::BF16;
    return Tile::F16;
}
uint64_t tile_elem_bytes(Tile t) {
    return t == Tile::F32 ? 4 : 2;
}

template <class O>
__device__ __forceinline__ O to_tile(float v);
template <>
__device__ __forceinline__ __half to_tile<__half>(float v) {
    return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 to_tile<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}

// grid (ceil(chunks / 128), n_rows): one thread per 32-element chunk, then the element tail.
template <GgmlType T, class O>
__global__ void dequant_rows_kernel(WeightDesc w, int64_t row0, O* out) {
    const int64_t r = blockIdx.y;
    const int64_t n_full = w.cols / 32;
    O* o = out + r * w.cols;
    const int64_t j = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (j < n_full) {
        float v[32];
        dequant_chunk<T>(w, row0 + r, j, v);
#pragma unroll
        for (int i = 0; i < 32; ++i) o[32 * j + i] = to_tile<O>(v[i]);
    }
    if constexpr (is_element_type(T)) {
        if (blockIdx.x == 0)
            for (int64_t c = 32 * n_full + threadIdx.x; c < w.cols; c += blockDim.x)
                o[c] = to_tile<O>(dequant_elem<T>(w, row0 + r, c));
    }
}

template <class O>
__global__ void convert_kernel(const float* x, int64_t xs, int64_t cols, O* out) {
    const int64_t t = blockIdx.y;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x)
        out[t * cols + c] = to_tile<O>(x[t * xs + c]);
}

template <class O>
Status launch_dequant(const WeightDesc& w, int64_t row0, int64_t n_rows, O* out, cudaStream_t stream) {
    const dim3 grid(std::max(1u, blocks_for(w.cols / 32, 128)), unsigned(n_rows));
    if (!dispatch_weight_type(w.type,
                              [&]<GgmlType T>() { dequant_rows_kernel<T, O><<<grid, 128, 0, stream>>>(w, row0, out); }))
        return shape_error("dequantize_rows", std::string("no CUDA kernel for ") + ggml_type_name(w.type));
    return launch_status("dequantize_rows");
}

}  // namespace

const char* cublas_status_name(cublasStatus_t s) {
    switch (s) {
        case CUBLAS_STATUS_SUCCESS:
            return "CUBLAS_STATUS_SUCCESS";
        case CUBLAS_STATUS_NOT_INITIALIZED:
            return "CUBLAS_STATUS_NOT_INITIALIZED";
        case CUBLAS_STATUS_ALLOC_FAILED:
            return "CUBLAS_STATUS_ALLOC_FAILED";
        case CUBLAS_STATUS_INVALID_VALUE:
            return "CUBLAS_STATUS_INVALID_VALUE";
        case CUBLAS_STATUS_ARCH_MISMATCH:
            return "CUBLAS_STATUS_ARCH_MISMATCH";
        case CUBLAS_STATUS_EXECUTION_FAILED:
            return "CUBLAS_STATUS_EXECUTION_FAILED";
        case CUBLAS_STATUS_NOT_SUPPORTED:
            return "CUBLAS_STATUS_NOT_SUPPORTED";
        default:
            return "cuBLAS error";
    }
}

Status dequantize_rows(const WeightDesc& w, int64_t row0, int64_t n_rows, bool bf16, void* out, cudaStream_t stream) {
    if (row0 < 0 || n_rows < 0 || row0 + n_rows > w.rows || n_rows > 65535)
        return shape_error("dequantize_rows", "rows out of range");
    if (n_rows == 0) return {};
    if (w.type == GgmlType::F32 && !bf16) return shape_error("dequantize_rows", "F32 weights are used as they are");
    return bf16 ? launch_dequant(w, row0, n_rows, static_cast<__nv_bfloat16*>(out), stream)
                : launch_dequant(w, row0, n_rows, static_cast<__half*>(out), stream);
}

void gemm_scratch_needs(const WeightDesc& w, int64_t n_tokens, uint64_t tile_bytes_max, uint64_t* wb, uint64_t* xb) {
    const Tile tt = tile_type(w.type);
    const uint64_t row = uint64_t(w.cols) * tile_elem_bytes(tt);
    const int64_t tile_rows =
        std::clamp<int64_t>(int64_t(tile_bytes_max / std::max<uint64_t>(row, 1)), 1, std::min<int64_t>(w.rows, 65535));
    *wb = tt == Tile::F32 ? 0 : uint64_t(tile_rows) * row;
    *xb = tt == Tile::F32 ? 0 : uint64_t(n_tokens) * row;
}

Status gemm(cublasHandle_t handle, const WeightDesc& w, const float* xp, int64_t xs, int64_t n, float* y, int64_t ys,
            const GemmScratch& sc, cudaStream_t stream) {
    const char* op = "gemm";
    if (n <= 0 || n > 65535 || xs < w.cols || ys < w.rows) return shape_error(op, "bad token count or strides");
    const Tile tt = tile_type(w.type);
    const float alpha = 1.0f, beta = 0.0f;
    // Row-major y [n][ys] is column-major Y (rows x n, ld ys) = W^T-of-column-major (rows x cols) * X (cols x n).
    if (tt == Tile::F32) {
        if (w.row_bytes % 4 != 0) return shape_error(op, "F32 rows not 4-byte aligned");
        const cublasStatus_t s = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(w.rows), int(n), int(w.cols),
                                              &alpha, w.data, CUDA_R_32F, int(w.row_bytes / 4), xp, CUDA_R_32F, int(xs),
                                              &beta, y, CUDA_R_32F, int(ys), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (s != CUBLAS_STATUS_SUCCESS) return Status::error(std::string(op) + ": " + cublas_status_name(s));
        return {};
    }
    const bool bf16 = tt == Tile::BF16;
    const cudaDataType_t dt = bf16 ? CUDA_R_16BF : CUDA_R_16F;
    const uint64_t row = uint64_t(w.cols) * 2;
    if (sc.x_conv_bytes < uint64_t(n) * row || sc.w_tile_bytes < row) return shape_error(op, "scratch too small");
    const dim3 cgrid(std::min(blocks_for(w.cols, 256), 64u), unsigned(n));
    if (bf16)
        convert_kernel<<<cgrid, 256, 0, stream>>>(xp, xs, w.cols, static_cast<__nv_bfloat16*>(sc.x_conv));
    else
        convert_kernel<<<cgrid, 256, 0, stream>>>(xp, xs, w.cols, static_cast<__half*>(sc.x_conv));
    MOE_RETURN_IF_ERROR(launch_status(op));
    // F16 / BF16 rows stored back to back (and 2-byte aligned) are already the GEMM's operand: no tile copy.
    if ((w.type == GgmlType::F16 || w.type == GgmlType::BF16) && w.row_bytes == row &&
        (reinterpret_cast<uintptr_t>(w.data) & 1) == 0) {
        const cublasStatus_t s = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(w.rows), int(n), int(w.cols),
                                              &alpha, w.data, dt, int(w.cols), sc.x_conv, dt, int(w.cols), &beta, y,
                                              CUDA_R_32F, int(ys), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (s != CUBLAS_STATUS_SUCCESS) return Status::error(std::string(op) + ": " + cublas_status_name(s));
        return {};
    }
    const int64_t tile_rows = std::min<int64_t>({int64_t(sc.w_tile_bytes / row), w.rows, 65535});
    for (int64_t r0 = 0; r0 < w.rows; r0 += tile_rows) {
        const int64_t nr = std::min(tile_rows, w.rows - r0);
        MOE_RETURN_IF_ERROR(dequantize_rows(w, r0, nr, bf16, sc.w_tile, stream));
        const cublasStatus_t s = cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(nr), int(n), int(w.cols), &alpha,
                                              sc.w_tile, dt, int(w.cols), sc.x_conv, dt, int(w.cols), &beta, y + r0,
                                              CUDA_R_32F, int(ys), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        if (s != CUBLAS_STATUS_SUCCESS) return Status::error(std::string(op) + ": " + cublas_status_name(s));
    }
    return {};
}

}  // namespace moe::cuda
