// TEMPORARY scalar implementation (replaced by the `kernels` branch): correct, slow.
#include "backend/cpu/cpu_matmul.h"

#include "backend/cpu/thread_pool.h"
#include "core/half.h"
#include "formats/quants.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

namespace moe::cpu {

bool matmul_supports(GgmlType type) { return can_dequantize(type) || type == GgmlType::F8_E4M3_B128; }

static void dequant_row(const MatrixView& w, int64_t r, float* out) {
    if (w.type == GgmlType::F8_E4M3_B128) {
        std::vector<float> scales(static_cast<size_t>(w.scale_cols));
        std::memcpy(scales.data(), w.block_scales + static_cast<uint64_t>((w.scale_row0 + r) / 128) * w.scale_cols * 4,
                    scales.size() * 4);
        dequantize_fp8_row(w.data + r * w.row_bytes, scales.data(), w.cols, out);
        return;
    }
    (void)dequantize_row(w.type, w.data + r * w.row_bytes, out, w.cols);
}

Status matmul(ThreadPool& pool, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
              int64_t y_stride, ActivationMode) {
    if (!matmul_supports(w.type)) return Status::error("matmul: unsupported type");
    pool.parallel_for(w.rows, 16, [&](int64_t r0, int64_t r1) {
        std::vector<float> row(static_cast<size_t>(w.cols));
        for (int64_t r = r0; r < r1; ++r) {
            dequant_row(w, r, row.data());
            for (int64_t t = 0; t < n_tokens; ++t) {
                const float* xt = x + t * x_stride;
                double s = 0;
                for (int64_t c = 0; c < w.cols; ++c) s += double(row[c]) * xt[c];
                y[t * y_stride + r] = float(s);
            }
        }
    });
    return {};
}

Status matmul_batch(ThreadPool& pool, std::span<const MatmulJob> jobs, int64_t n_tokens) {
    for (const MatmulJob& j : jobs) MOE_RETURN_IF_ERROR(matmul(pool, j.w, j.x, j.x_stride, n_tokens, j.y, j.y_stride, j.mode));
    return {};
}

Status matmul_transposed(ThreadPool&, const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                         int64_t y_stride) {
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t t = 0; t < n_tokens; ++t)
        for (int64_t c = 0; c < w.cols; ++c) y[t * y_stride + c] = 0;
    for (int64_t r = 0; r < w.rows; ++r) {
        dequant_row(w, r, row.data());
        for (int64_t t = 0; t < n_tokens; ++t)
            for (int64_t c = 0; c < w.cols; ++c) y[t * y_stride + c] += row[c] * x[t * x_stride + r];
    }
    return {};
}

Status moe_ffn(ThreadPool& pool, std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens,
               int64_t n_embd, int64_t k, const int32_t* ids, const float* weights, float* y) {
    for (int64_t t = 0; t < n_tokens; ++t) {
        for (int64_t j = 0; j < k; ++j) {
            const SwigluWeights& e = experts[static_cast<size_t>(ids[t * k + j])];
            const int64_t ff = e.gate.rows;
            std::vector<float> g(ff), u(ff), d(n_embd);
            MOE_RETURN_IF_ERROR(matmul(pool, e.gate, x + t * n_embd, n_embd, 1, g.data(), ff));
            MOE_RETURN_IF_ERROR(matmul(pool, e.up, x + t * n_embd, n_embd, 1, u.data(), ff));
            for (int64_t i = 0; i < ff; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            MOE_RETURN_IF_ERROR(matmul(pool, e.down, g.data(), ff, 1, d.data(), n_embd));
            const float wj = weights[t * k + j];
            for (int64_t i = 0; i < n_embd; ++i) y[t * n_embd + i] += wj * d[i];
        }
    }
    return {};
}

void sgemm_nt(ThreadPool&, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc, float alpha, float beta) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float s = 0;
            for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * b[j * ldb + p];
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
        }
}

void sgemm_nn(ThreadPool&, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
              float* c, int64_t ldc, float alpha, float beta) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float s = 0;
            for (int64_t p = 0; p < k; ++p) s += a[i * lda + p] * b[p * ldb + j];
            c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
        }
}

double measure_memory_bandwidth_gbs(ThreadPool&, uint64_t, int) { return 0; }

}  // namespace moe::cpu
