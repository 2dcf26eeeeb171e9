// The host-memory defaults of Backend (what the CPU backend runs): host <-> backend copies (memcpy), and the steps
// between the products: embedding lookup, activation rounding, row copies and fills, biases, KV cache row writes,
// routing. Moved here from the
// model's blocks and the KV cache unchanged, so the CPU's results are the same bit for bit.
#include "backend/backend.h"

#include "core/half.h"
#include "formats/quants.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace moe {

namespace {

// llama.cpp's nearest_int: round half to even through the float magic number.
inline int nearest_int(float fval) {
    return static_cast<int>(std::nearbyint(fval));
}

void round_q8_0(float* x, int64_t n) {
    for (int64_t b = 0; b + 32 <= n; b += 32) {
        float amax = 0.0f;
        for (int64_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[b + i]));
        const float d = fp16_to_fp32(fp32_to_fp16(amax / 127.0f));
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int64_t i = 0; i < 32; ++i) x[b + i] = d * static_cast<float>(nearest_int(x[b + i] * id));
    }
}

void round_q8_k(float* x, int64_t n) {
    for (int64_t b = 0; b + 256 <= n; b += 256) {
        float amax = 0.0f;
        float max = 0.0f;
        for (int64_t i = 0; i < 256; ++i) {
            const float ax = std::fabs(x[b + i]);
            if (ax > amax) {
                amax = ax;
                max = x[b + i];
            }
        }
        if (amax == 0.0f) {
            std::fill(x + b, x + b + 256, 0.0f);
            continue;
        }
        const float iscale = -127.0f / max;
        const float d = 1.0f / iscale;
        for (int64_t i = 0; i < 256; ++i)
            x[b + i] = d * static_cast<float>(std::min(127, nearest_int(iscale * x[b + i])));
    }
}

}  // namespace

void round_like_host(GgmlType type, float* x, int64_t n) {
    switch (native_rounding(type)) {
        case NativeRounding::Q8_0:
            round_q8_0(x, n);
            break;
        case NativeRounding::Q8_K:
            round_q8_k(x, n);
            break;
        case NativeRounding::F16:
            for (int64_t i = 0; i < n; ++i) x[i] = fp16_to_fp32(fp32_to_fp16(x[i]));
            break;
        case NativeRounding::BF16:
            for (int64_t i = 0; i < n; ++i) x[i] = bf16_to_fp32(fp32_to_bf16(x[i]));
            break;
        case NativeRounding::None:
            break;
    }
}

Status Backend::matmul_batch(std::span<const MatmulJob> jobs, int64_t n) {
    for (const MatmulJob& j : jobs) MOE_RETURN_IF_ERROR(matmul(j.w, j.x, j.x_stride, n, j.y, j.y_stride, j.mode));
    return {};
}

Status Backend::matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n) {
    for (const MatmulJob& j : jobs) MOE_RETURN_IF_ERROR(matmul_transposed(j.w, j.x, j.x_stride, n, j.y, j.y_stride));
    return {};
}

Status Backend::mla_absorbed(const MlaAbsorbedArgs& a) {
    MlaAttentionArgs att = a.attention;
    att.q = a.q_abs;
    att.out = a.latent;
    const int64_t n = att.n_tokens, H = att.n_head, kvl = att.kv_lora, rope = att.n_rope, qk = a.nope + rope;
    const int64_t row = kvl + rope;
    if (static_cast<int64_t>(a.uk.size()) != H || static_cast<int64_t>(a.uv.size()) != H)
        return Status::error("mla_absorbed: " + std::to_string(a.uk.size()) + " W_UK and " +
                             std::to_string(a.uv.size()) + " W_UV matrices for " + std::to_string(H) + " heads");
    thread_local std::vector<MatmulJob> jobs_storage;
    std::vector<MatmulJob>& jobs = jobs_storage;
    jobs.resize(static_cast<size_t>(H));
    for (int64_t h = 0; h < H; ++h)
        jobs[h] = {a.uk[h], a.q + h * qk, H * qk, a.q_abs + h * row, H * row, ActivationMode::Float};
    MOE_RETURN_IF_ERROR(a.uk_transposed ? matmul_transposed_batch(jobs, n) : matmul_batch(jobs, n));
    // q_pe of every (token, head) after its q_lat: n * H rows of `rope` floats.
    MOE_RETURN_IF_ERROR(copy_rows(a.q_abs + kvl, row * 4, a.q + a.nope, qk * 4, rope * 4, n * H));
    MOE_RETURN_IF_ERROR(mla_attention(att));
    const int64_t vd = a.v_head_dim;
    for (int64_t h = 0; h < H; ++h)
        jobs[h] = {a.uv[h], att.out + h * kvl, H * kvl, a.out + h * vd, H * vd, ActivationMode::Float};
    MOE_RETURN_IF_ERROR(matmul_batch(jobs, n));
    if (a.wo.empty()) return {};
    return matmul(a.wo, a.out, H * vd, n, a.wo_out, a.wo.rows);
}

Status Backend::upload(void* dst, const void* src, uint64_t n_bytes) {
    if (n_bytes) std::memmove(dst, src, n_bytes);
    return {};
}

Status Backend::download(void* dst, const void* src, uint64_t n_bytes) {
    return upload(dst, src, n_bytes);
}

Status Backend::upload_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t width, int64_t n) {
    if (width < 0 || n < 0 || ds < width || ss < width) return Status::error("copy: strides narrower than the rows");
    for (int64_t t = 0; t < n; ++t) std::memmove(dst + t * ds, src + t * ss, static_cast<size_t>(width) * 4);
    return {};
}

Status Backend::download_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t width, int64_t n) {
    return upload_rows(dst, ds, src, ss, width, n);
}

Status Backend::embed(const MatrixView& e, const int32_t* ids, int64_t n, float* out, int64_t out_stride) {
    for (int64_t t = 0; t < n; ++t) {
        const int32_t id = ids[t];
        if (id < 0 || id >= e.rows)
            return Status::error("token id " + std::to_string(id) + " is outside the vocabulary (0.." +
                                 std::to_string(e.rows - 1) + ")");
        MOE_RETURN_IF_ERROR(
            dequantize_row(e.type, e.data + static_cast<uint64_t>(id) * e.row_bytes, out + t * out_stride, e.cols));
    }
    return {};
}

Status Backend::round_like(GgmlType type, float* x, int64_t stride, int64_t width, int64_t n) {
    for (int64_t t = 0; t < n; ++t) round_like_host(type, x + t * stride, width);
    return {};
}

Status Backend::copy_rows(void* dst, int64_t ds, const void* src, int64_t ss, int64_t row_bytes, int64_t n) {
    for (int64_t t = 0; t < n; ++t)
        std::memmove(static_cast<uint8_t*>(dst) + t * ds, static_cast<const uint8_t*>(src) + t * ss,
                     static_cast<size_t>(row_bytes));
    return {};
}

Status Backend::fill(void* dst, int64_t stride, int64_t n, const void* value, int64_t value_bytes) {
    auto* d = static_cast<uint8_t*>(dst);
    if (n <= 0 || value_bytes <= 0) return {};
    if (stride != value_bytes) {
        for (int64_t t = 0; t < n; ++t) std::memcpy(d + t * stride, value, static_cast<size_t>(value_bytes));
        return {};
    }
    // Contiguous: one value, then doubling copies (zeroing the FFN output is n_tokens * n_embd floats).
    const uint64_t total = static_cast<uint64_t>(n) * static_cast<uint64_t>(value_bytes);
    std::memcpy(d, value, static_cast<size_t>(value_bytes));
    for (uint64_t done = static_cast<uint64_t>(value_bytes); done < total;) {
        const uint64_t c = std::min(done, total - done);
        std::memcpy(d + done, d, c);
        done += c;
    }
    return {};
}

Status Backend::add_bias(float* y, int64_t stride, int64_t n, const float* bias, int64_t width) {
    for (int64_t t = 0; t < n; ++t)
        for (int64_t i = 0; i < width; ++i) y[t * stride + i] += bias[i];
    return {};
}

Status Backend::write_rows(void* dst, bool f16, int64_t width, const int32_t* pos, const float* src, int64_t ss,
                           int64_t n) {
    for (int64_t t = 0; t < n; ++t) {
        const float* s = src + t * ss;
        if (f16) {
            uint16_t* d = static_cast<uint16_t*>(dst) + int64_t(pos[t]) * width;
            for (int64_t i = 0; i < width; ++i) d[i] = fp32_to_fp16(s[i]);
        } else {
            std::memcpy(static_cast<float*>(dst) + int64_t(pos[t]) * width, s, static_cast<size_t>(width) * 4);
        }
    }
    return {};
}

Status Backend::moe_routed(const MoeRoutedArgs& a) {
    const int64_t n = a.n_tokens, d = a.n_embd, k = a.route.k, n_routed = a.route.n_expert;
    MOE_RETURN_IF_ERROR(matmul(a.router, a.x, d, n, a.logits, n_routed, ActivationMode::Float));
    MOE_RETURN_IF_ERROR(route(a.route, a.logits, a.expert_bias, n, a.ids, a.weights));
    const float zero = 0.0f;
    MOE_RETURN_IF_ERROR(fill(a.y, 4, n * d, &zero, 4));
    if (!a.shared) return moe_ffn(a.experts, a.x, n, d, k, a.ids, a.weights, a.y);
    // The shared FFN joins the routed experts as expert n_routed with weight 1: one call, fewer parallel regions.
    MOE_RETURN_IF_ERROR(copy_rows(a.ids_all, (k + 1) * 4, a.ids, k * 4, k * 4, n));
    MOE_RETURN_IF_ERROR(copy_rows(a.weights_all, (k + 1) * 4, a.weights, k * 4, k * 4, n));
    const auto shared_id = static_cast<int32_t>(n_routed);
    const float one = 1.0f;
    MOE_RETURN_IF_ERROR(fill(a.ids_all + k, (k + 1) * 4, n, &shared_id, 4));
    MOE_RETURN_IF_ERROR(fill(a.weights_all + k, (k + 1) * 4, n, &one, 4));
    return moe_ffn(a.experts, a.x, n, d, k + 1, a.ids_all, a.weights_all, a.y);
}

Status Backend::route(const RouteParams& p, const float* logits, const float* bias, int64_t n, int32_t* ids,
                      float* weights) {
    route_experts_host(p, logits, bias, n, ids, weights);
    return {};
}

}  // namespace moe
