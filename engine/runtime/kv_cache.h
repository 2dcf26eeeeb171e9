// The KV cache of one sequence: per layer, one row per position.
//   MLA (deepseek2, absorbed): [n_ctx][kv_lora + rope] = the normalised latent c, then the rotated k_pe.
//   MHA/GQA: K [n_ctx][n_head_kv * head_dim_k] and V [n_ctx][n_head_kv * head_dim_v].
// Rows are F32 or F16. Row p holds position p; positions past n_used() are garbage.
#pragma once

#include "backend/backend.h"
#include "core/status.h"
#include "model/hparams.h"
#include "model/model_stats.h"

#include <cstdint>
#include <memory>
#include <vector>

namespace moe {

class KvCache {
public:
    // Allocates n_ctx positions of every layer in `backend` memory. Types: F32 or F16.
    static Result<std::unique_ptr<KvCache>> create(Backend& backend, const HParams& hp, int64_t n_ctx, KvType type);

    int64_t n_ctx() const { return m_n_ctx; }
    KvType type() const { return m_type; }
    bool is_f16() const { return m_type == KvType::F16; }
    bool is_mla() const { return m_mla; }
    uint64_t size_bytes() const { return m_bytes; }
    // Widths in elements of one row of the K (or MLA latent) and V parts.
    int64_t k_width() const { return m_k_width; }
    int64_t v_width() const { return m_v_width; }

    // Start of layer il's K (MLA: latent) / V rows; void* to be cast by is_f16().
    void* k(int64_t il) { return m_k[static_cast<size_t>(il)]->data(); }
    void* v(int64_t il) { return m_v.empty() ? nullptr : m_v[static_cast<size_t>(il)]->data(); }

    // Writes `n` float rows (stride `src_stride`, backend memory) into layer il's K (or V) rows pos[0..n) (backend
    // memory; the positions first_pos, first_pos + 1, ...), converting to the cache type, with the backend that
    // allocated the cache. Errors when first_pos + n exceeds n_ctx.
    Status write_k(int64_t il, int64_t first_pos, const int32_t* pos, const float* src, int64_t src_stride, int64_t n);
    Status write_v(int64_t il, int64_t first_pos, const int32_t* pos, const float* src, int64_t src_stride, int64_t n);

    // The backend whose memory holds the cache (the one given to create()).
    const Backend* backend() const { return m_backend; }

    int64_t n_used() const { return m_n_used; }
    void set_n_used(int64_t n) { m_n_used = n; }

private:
    Status write(std::vector<std::unique_ptr<Buffer>>& bufs, int64_t width, int64_t il, int64_t first_pos,
                 const int32_t* pos, const float* src, int64_t src_stride, int64_t n);

    Backend* m_backend = nullptr;

    int64_t m_n_ctx = 0;
    KvType m_type = KvType::F32;
    bool m_mla = false;
    int64_t m_k_width = 0;
    int64_t m_v_width = 0;
    uint64_t m_bytes = 0;
    int64_t m_n_used = 0;
    std::vector<std::unique_ptr<Buffer>> m_k;
    std::vector<std::unique_ptr<Buffer>> m_v;
};

}  // namespace moe
