#include "runtime/kv_cache.h"

#include <string>

namespace moe {

Result<std::unique_ptr<KvCache>> KvCache::create(Backend& backend, const HParams& hp, int64_t n_ctx, KvType type) {
    if (type != KvType::F32 && type != KvType::F16)
        return Status::error(std::string("KV cache type ") + kv_type_name(type) + " is not supported (use f32 or f16)");
    if (n_ctx <= 0) return Status::error("context length must be positive, got " + std::to_string(n_ctx));
    auto cache = std::unique_ptr<KvCache>(new KvCache());
    cache->m_backend = &backend;
    cache->m_n_ctx = n_ctx;
    cache->m_type = type;
    cache->m_mla = hp.is_mla();
    if (cache->m_mla) {
        cache->m_k_width = hp.kv_lora_rank + hp.qk_rope_head_dim;
    } else {
        cache->m_k_width = hp.n_head_kv * hp.n_embd_head_k();
        cache->m_v_width = hp.n_head_kv * hp.n_embd_head_v();
    }
    const uint64_t elem = type == KvType::F16 ? 2 : 4;
    // Zeroed when made (as llama.cpp clears its KV buffer), so that host memory is in place before decoding rather
    // than faulted in a page at a time by the row writes: medium decode, 2 threads, KV row write 0.47 -> 0.08 us per
    // layer and token (a 4 KiB page fault every ~6 positions).
    const auto zeroed = [&](Buffer& b, uint64_t bytes) {
        const uint16_t zero = 0;
        return backend.fill(b.data(), 2, static_cast<int64_t>(bytes / 2), &zero, 2);
    };
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        const uint64_t kb = elem * static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(cache->m_k_width);
        auto k = backend.alloc(kb);
        if (!k.ok())
            return Status::error("KV cache of " + std::to_string(n_ctx) + " positions: " + k.status().message());
        MOE_RETURN_IF_ERROR(zeroed(*k.value(), kb));
        cache->m_k.push_back(std::move(k).value());
        cache->m_bytes += kb;
        if (!cache->m_mla) {
            const uint64_t vb = elem * static_cast<uint64_t>(n_ctx) * static_cast<uint64_t>(cache->m_v_width);
            auto v = backend.alloc(vb);
            if (!v.ok())
                return Status::error("KV cache of " + std::to_string(n_ctx) + " positions: " + v.status().message());
            MOE_RETURN_IF_ERROR(zeroed(*v.value(), vb));
            cache->m_v.push_back(std::move(v).value());
            cache->m_bytes += vb;
        }
    }
    return cache;
}

Status KvCache::write(std::vector<std::unique_ptr<Buffer>>& bufs, int64_t width, int64_t il, int64_t first_pos,
                      const int32_t* pos, const float* src, int64_t src_stride, int64_t n) {
    if (first_pos < 0 || first_pos + n > m_n_ctx)
        return Status::error("KV cache: positions [" + std::to_string(first_pos) + ", " +
                             std::to_string(first_pos + n) + ") exceed the context of " + std::to_string(m_n_ctx));
    return m_backend->write_rows(bufs[static_cast<size_t>(il)]->data(), is_f16(), width, pos, src, src_stride, n);
}

Status KvCache::write_k(int64_t il, int64_t first_pos, const int32_t* pos, const float* src, int64_t src_stride,
                        int64_t n) {
    return write(m_k, m_k_width, il, first_pos, pos, src, src_stride, n);
}

Status KvCache::write_v(int64_t il, int64_t first_pos, const int32_t* pos, const float* src, int64_t src_stride,
                        int64_t n) {
    if (m_mla) return Status::error("KV cache: an MLA cache has no V rows");
    return write(m_v, m_v_width, il, first_pos, pos, src, src_stride, n);
}

}  // namespace moe
