// Shared by the CUDA kernels: launch checks that become Status values, element conversions that round exactly
// like the engine's CPU helpers (core/half.h), warp reductions. Device code only reads; no kernel aborts.
#pragma once

#include "core/status.h"

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace moe::cuda {

// "op: what (cudaErrorName)" for a failed CUDA call, success otherwise.
inline Status cuda_status(cudaError_t e, const char* op) {
    if (e == cudaSuccess) return {};
    return Status::error(std::string(op) + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}
// The launch error of the kernel just launched (bad configuration, no device code for this GPU, ...).
inline Status launch_status(const char* op) {
    return cuda_status(cudaGetLastError(), op);
}

inline Status shape_error(const char* op, const std::string& what) {
    return Status::error(std::string(op) + ": " + what);
}

constexpr int kWarp = 32;

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// fp16 bits -> float (exact, like fp16_to_fp32).
__device__ __forceinline__ float half_bits_to_float(uint16_t h) {
    return __half2float(__ushort_as_half(h));
}
// float -> fp16 -> float, round to nearest even (like fp32_to_fp16; NaN stays NaN, overflow gives inf).
__device__ __forceinline__ float round_fp16(float x) {
    return __half2float(__float2half_rn(x));
}
// float -> bf16 -> float with the CPU's rounding (nearest even; NaN kept quiet).
__device__ __forceinline__ float round_bf16(float x) {
    const uint32_t u = __float_as_uint(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return __uint_as_float(((u >> 16) | 0x40u) << 16);
    return __uint_as_float(((u + 0x7fffu + ((u >> 16) & 1u)) >> 16) << 16);
}
__device__ __forceinline__ float bf16_bits_to_float(uint16_t h) {
    return __uint_as_float(uint32_t(h) << 16);
}

// FP8 E4M3 (fn): no infinities, 0x7f/0xff are NaN, subnormals m/8 * 2^-6 (like fp8_e4m3_to_fp32).
__device__ __forceinline__ float fp8_e4m3_to_float(uint8_t v) {
    const uint32_t sign = uint32_t(v & 0x80u) << 24;
    const uint32_t exp = (v >> 3) & 0xfu;
    const uint32_t man = v & 7u;
    if (exp == 15 && man == 7) return __uint_as_float(sign | 0x7fc00000u);
    if (exp == 0) {
        const float m = float(man) * 0.001953125f;  // man / 8 * 2^-6
        return sign ? -m : m;
    }
    return __uint_as_float(sign | ((exp + 120u) << 23) | (man << 20));
}

// Little-endian loads from byte pointers of any alignment (GGUF blocks are 2-byte aligned at best).
__device__ __forceinline__ uint16_t load_u16(const uint8_t* p) {
    return uint16_t(p[0] | (uint16_t(p[1]) << 8));
}
__device__ __forceinline__ float load_f32_unaligned(const uint8_t* p) {
    return __uint_as_float(uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24));
}

// silu as the CPU computes it (cpu_moe.cpp): v beyond +-88 short-cuts to v or -0.
__device__ __forceinline__ float silu(float v) {
    if (v > 88.0f) return v;
    if (!(v >= -88.0f)) return v != v ? v : -0.0f;
    return v / (1.0f + expf(-v));
}

inline unsigned blocks_for(int64_t n, int per_block) {
    return static_cast<unsigned>((n + per_block - 1) / per_block);
}

}  // namespace moe::cuda
