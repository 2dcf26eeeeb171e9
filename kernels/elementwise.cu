#include "elementwise.h"

#include "dequant.cuh"

#include <algorithm>
#include <cstring>
#include <string>

namespace moe::cuda {

namespace {

__global__ void add_kernel(float* y, const float* x, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (i < n) y[i] += x[i];
}

__global__ void swiglu_kernel(float* g, const float* u, int64_t stride, int64_t n) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t t = blockIdx.y;
    if (i < n) g[t * stride + i] = silu(g[t * stride + i]) * u[t * stride + i];
}

// grid (n_tokens); one thread per 32-element chunk, then the element tail.
template <GgmlType T>
__global__ void get_rows_kernel(WeightDesc w, const int32_t* ids, float* out, int64_t os) {
    const int64_t t = blockIdx.x;
    const int32_t id = ids[t];
    float* o = out + t * os;
    if (id < 0 || id >= w.rows) {
        for (int64_t c = threadIdx.x; c < w.cols; c += blockDim.x) o[c] = 0.0f;
        return;
    }
    const int64_t n_full = w.cols / 32;
    for (int64_t j = threadIdx.x; j < n_full; j += blockDim.x) {
        float v[32];
        dequant_chunk<T>(w, id, j, v);
#pragma unroll
        for (int i = 0; i < 32; ++i) o[32 * j + i] = v[i];
    }
    if constexpr (is_element_type(T))
        for (int64_t c = 32 * n_full + threadIdx.x; c < w.cols; c += blockDim.x) o[c] = dequant_elem<T>(w, id, c);
}

__global__ void gather_kernel(const float* x, int64_t xs, const int32_t* rows, int64_t cols, float* out, int64_t os) {
    const int64_t i = blockIdx.y;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x)
        out[i * os + c] = x[int64_t(rows[i]) * xs + c];
}

__global__ void scatter_add_kernel(const float* src, int64_t ss, const int32_t* rows, const float* w, int64_t cols,
                                   float* y, int64_t ys) {
    const int64_t i = blockIdx.y;
    for (int64_t c = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; c < cols; c += int64_t(gridDim.x) * blockDim.x)
        y[int64_t(rows[i]) * ys + c] += w[i] * src[i * ss + c];
}

struct FillValue {
    uint8_t bytes[16];
};

__global__ void fill_kernel(uint8_t* dst, int64_t stride, int64_t n, FillValue v, int vb) {
    const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= n) return;
    for (int i = 0; i < vb; ++i) dst[t * stride + i] = v.bytes[i];
}

__global__ void add_bias_kernel(float* y, int64_t stride, const float* b, int64_t width) {
    const int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
    const int64_t t = blockIdx.y;
    if (i < width) y[t * stride + i] += b[i];
}

template <bool F16>
__global__ void write_rows_kernel(void* dst, int64_t width, const int32_t* pos, const float* src, int64_t ss) {
    const int64_t t = blockIdx.y;
    const int64_t row = pos[t];
    for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < width; i += int64_t(gridDim.x) * blockDim.x) {
        const float v = src[t * ss + i];
        if constexpr (F16)
            static_cast<__half*>(dst)[row * width + i] = __float2half_rn(v);
        else
            static_cast<float*>(dst)[row * width + i] = v;
    }
}

Status rows_check(const char* op, int64_t n, int64_t cols) {
    if (n < 0 || n > 65535 || cols < 0)
        return shape_error(op, std::to_string(n) + " rows (at most 65535) of " + std::to_string(cols));
    return {};
}

}  // namespace

Status add(float* y, const float* x, int64_t n, cudaStream_t stream) {
    if (n < 0) return shape_error("add", "negative length");
    if (n == 0) return {};
    add_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(y, x, n);
    return launch_status("add");
}

Status swiglu(float* g, const float* u, int64_t stride, int64_t n, int64_t n_tokens, cudaStream_t stream) {
    MOE_RETURN_IF_ERROR(rows_check("swiglu", n_tokens, n));
    if (stride < n) return shape_error("swiglu", "stride below width");
    if (n == 0 || n_tokens == 0) return {};
    swiglu_kernel<<<dim3(blocks_for(n, 256), unsigned(n_tokens)), 256, 0, stream>>>(g, u, stride, n);
    return launch_status("swiglu");
}

Status get_rows(const WeightDesc& w, const int32_t* ids, int64_t n, float* out, int64_t os, cudaStream_t stream) {
    const char* op = "get_rows";
    if (n < 0 || n > 2147483647 || os < w.cols) return shape_error(op, "bad token count or output stride");
    if (w.cols % weight_block_elems(w.type) != 0) return shape_error(op, "row width is not a whole number of blocks");
    if (n == 0) return {};
    if (!dispatch_weight_type(
            w.type, [&]<GgmlType T>() { get_rows_kernel<T><<<unsigned(n), 128, 0, stream>>>(w, ids, out, os); }))
        return shape_error(op, std::string("no CUDA kernel for ") + ggml_type_name(w.type));
    return launch_status(op);
}

Status fill_rows(void* dst, int64_t stride, int64_t n, const void* value, int64_t vb, cudaStream_t stream) {
    if (vb < 0 || vb > 16 || n < 0 || (n > 1 && stride < vb))
        return shape_error("fill", "value of 0..16 bytes, stride >= it");
    if (n == 0 || vb == 0) return {};
    FillValue v{};
    std::memcpy(v.bytes, value, size_t(vb));
    fill_kernel<<<blocks_for(n, 256), 256, 0, stream>>>(static_cast<uint8_t*>(dst), stride, n, v, int(vb));
    return launch_status("fill");
}

Status add_bias(float* y, int64_t stride, int64_t n, const float* bias, int64_t width, cudaStream_t stream) {
    MOE_RETURN_IF_ERROR(rows_check("add_bias", n, width));
    if (n == 0 || width == 0) return {};
    add_bias_kernel<<<dim3(blocks_for(width, 256), unsigned(n)), 256, 0, stream>>>(y, stride, bias, width);
    return launch_status("add_bias");
}

Status write_rows(void* dst, bool f16, int64_t width, const int32_t* pos, const float* src, int64_t ss, int64_t n,
                  cudaStream_t stream) {
    MOE_RETURN_IF_ERROR(rows_check("write_rows", n, width));
    if (ss < width) return shape_error("write_rows", "source stride below the row width");
    if (n == 0 || width == 0) return {};
    const dim3 grid(std::min(blocks_for(width, 256), 32u), unsigned(n));
    if (f16)
        write_rows_kernel<true><<<grid, 256, 0, stream>>>(dst, width, pos, src, ss);
    else
        write_rows_kernel<false><<<grid, 256, 0, stream>>>(dst, width, pos, src, ss);
    return launch_status("write_rows");
}

Status gather_rows(const float* x, int64_t xs, const int32_t* rows, int64_t n, int64_t cols, float* out, int64_t os,
                   cudaStream_t stream) {
    MOE_RETURN_IF_ERROR(rows_check("gather_rows", n, cols));
    if (n == 0 || cols == 0) return {};
    gather_kernel<<<dim3(blocks_for(cols, 256), unsigned(n)), 256, 0, stream>>>(x, xs, rows, cols, out, os);
    return launch_status("gather_rows");
}

Status scatter_add_rows(const float* src, int64_t ss, const int32_t* rows, const float* w, int64_t n, int64_t cols,
                        float* y, int64_t ys, cudaStream_t stream) {
    MOE_RETURN_IF_ERROR(rows_check("scatter_add_rows", n, cols));
    if (n == 0 || cols == 0) return {};
    scatter_add_kernel<<<dim3(blocks_for(cols, 256), unsigned(n)), 256, 0, stream>>>(src, ss, rows, w, cols, y, ys);
    return launch_status("scatter_add_rows");
}

}  // namespace moe::cuda
