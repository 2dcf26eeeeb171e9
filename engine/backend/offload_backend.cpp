#include "backend/offload_backend.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>

namespace moe {

namespace {

constexpr uint64_t kReserveBytes = 1ull << 30;  // activations, scratch, KV mirrors, cuBLAS workspace

// A device copy of a host byte range.
struct Region {
    uint64_t size = 0;
    std::unique_ptr<Buffer> buf;
};

class Offload final : public OffloadBackend {
public:
    Offload(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu)
        : m_dev(std::move(device)), m_cpu(std::move(cpu)) {}

    DeviceInfo info() const override { return m_dev->info(); }
    bool supports(Op op, GgmlType type) const override {
        return m_dev->supports(op, type) || m_cpu->supports(op, type);
    }
    Result<std::unique_ptr<Buffer>> alloc(uint64_t n_bytes) override {
        auto b = m_cpu->alloc(n_bytes);
        if (b.ok()) m_host_allocs[reinterpret_cast<uintptr_t>(b.value()->data())] = n_bytes;
        return b;
    }
    Status synchronize() override {
        if (!m_failed) fail_on(m_dev->synchronize());
        return m_cpu->synchronize();
    }

    Status place(const uint8_t* data, uint64_t n, const uint8_t* scales, uint64_t scale_bytes) override {
        MOE_RETURN_IF_ERROR(place_range(data, n));
        if (scales && scale_bytes) MOE_RETURN_IF_ERROR(place_range(scales, scale_bytes));
        return {};
    }
    uint64_t device_weight_bytes() const override { return m_placed_bytes; }
    uint64_t device_free_bytes() const override {
        const uint64_t free_b = m_dev->info().memory_free_bytes;
        return free_b > kReserveBytes ? free_b - kReserveBytes : 0;
    }
    std::string note() const override { return m_note; }
    Result<double> measure_memory_bandwidth_gbs() override { return m_dev->measure_memory_bandwidth_gbs(); }
    Result<double> measure_gemm_peak_gflops() override { return m_dev->measure_gemm_peak_gflops(); }
    Backend& device() override { return *m_dev; }

    Status matmul(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                  ActivationMode mode) override {
        MatrixView dw;
        if (!on_device(w, Op::Matmul, &dw)) return m_cpu->matmul(w, x, xs, n, y, ys, mode);
        const Status s = run_matmul(dw, x, xs, n, w.cols, y, ys, w.rows, false, mode);
        return s.ok() ? s : fallback(s, [&] { return m_cpu->matmul(w, x, xs, n, y, ys, mode); });
    }
    Status matmul_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        for (const MatmulJob& j : jobs) MOE_RETURN_IF_ERROR(matmul(j.w, j.x, j.x_stride, n, j.y, j.y_stride, j.mode));
        return {};
    }
    Status matmul_transposed(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y,
                             int64_t ys) override {
        MatrixView dw;
        if (!on_device(w, Op::MatmulTransposed, &dw)) return m_cpu->matmul_transposed(w, x, xs, n, y, ys);
        const Status s = run_matmul(dw, x, xs, n, w.rows, y, ys, w.cols, true, ActivationMode::Float);
        return s.ok() ? s : fallback(s, [&] { return m_cpu->matmul_transposed(w, x, xs, n, y, ys); });
    }
    Status matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        for (const MatmulJob& j : jobs)
            MOE_RETURN_IF_ERROR(matmul_transposed(j.w, j.x, j.x_stride, n, j.y, j.y_stride));
        return {};
    }
    Status moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n, int64_t n_embd, int64_t k,
                   const int32_t* ids, const float* weights, float* y) override;
    Status rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                    int64_t ys) override;
    Status rope(float* x, int64_t xs, int64_t n_tokens, int64_t n_heads, int64_t hs, const int32_t* pos,
                const RopeParams& p) override;
    Status mla_attention(const MlaAttentionArgs& a) override;
    Status mha_attention(const MhaAttentionArgs& a) override;
    Status add(float* y, const float* x, int64_t n) override {
        if (m_failed || n <= 0) return m_cpu->add(y, x, n);
        const Status s = [&]() -> Status {
            MOE_ASSIGN_OR_RETURN(float* dy, stage(0, y, uint64_t(n) * 4, true));
            MOE_ASSIGN_OR_RETURN(float* dx, stage(1, x, uint64_t(n) * 4, true));
            MOE_RETURN_IF_ERROR(m_dev->add(dy, dx, n));
            return download(y, dy, uint64_t(n) * 4);
        }();
        return s.ok() ? s : fallback(s, [&] { return m_cpu->add(y, x, n); });
    }

private:
    // ---- device state ----
    template <class F>
    Status fallback(const Status& why, F&& cpu_op) {
        fail_on(why);
        return cpu_op();
    }
    void fail_on(const Status& s) {
        if (s.ok() || m_failed) return;
        m_failed = true;
        m_note = "the CUDA device failed (" + s.message() + "); running on the CPU from now on";
    }

    Status place_range(const uint8_t* data, uint64_t n) {
        if (!data || n == 0 || find(data, n)) return {};
        if (m_failed) return Status::error(m_note);
        MOE_ASSIGN_OR_RETURN(std::unique_ptr<Buffer> b, m_dev->alloc(n));
        MOE_RETURN_IF_ERROR(m_dev->upload(b->data(), data, n));
        m_placed_bytes += n;
        m_regions[reinterpret_cast<uintptr_t>(data)] = Region{n, std::move(b)};
        return {};
    }
    // The device address of host bytes [p, p + n) when a placed region holds them all.
    const uint8_t* find(const void* p, uint64_t n) const {
        const auto a = reinterpret_cast<uintptr_t>(p);
        auto it = m_regions.upper_bound(a);
        if (it == m_regions.begin()) return nullptr;
        --it;
        if (a + n > it->first + it->second.size) return nullptr;
        return static_cast<const uint8_t*>(it->second.buf->data()) + (a - it->first);
    }
    // Device copy of a long-lived float vector (norm weights, rope factors), uploaded on first use.
    Result<const float*> small_vector(const float* host, int64_t n) {
        if (const uint8_t* d = find(host, uint64_t(n) * 4)) return reinterpret_cast<const float*>(d);
        MOE_RETURN_IF_ERROR(place_range(reinterpret_cast<const uint8_t*>(host), uint64_t(n) * 4));
        m_placed_bytes -= uint64_t(n) * 4;
        return reinterpret_cast<const float*>(find(host, uint64_t(n) * 4));
    }
    bool on_device(const MatrixView& w, Op op, MatrixView* out) const {
        if (m_failed || !m_dev->supports(op, w.type)) return false;
        const uint8_t* d = find(w.data, uint64_t(w.rows) * w.row_bytes);
        if (!d) return false;
        *out = w;
        out->data = d;
        if (w.block_scales) {
            const int64_t sr = (w.scale_row0 + w.rows + 127) / 128;
            const uint8_t* s = find(w.block_scales, uint64_t(sr * w.scale_cols) * 4);
            if (!s) return false;
            out->block_scales = s;
        }
        return true;
    }

    // ---- staging: slot i is a device scratch area reused by every op ----
    Result<float*> scratch(int slot, uint64_t n_bytes) {
        auto& b = m_scratch[slot];
        if (!b || b->size_bytes() < n_bytes) {
            b.reset();
            MOE_ASSIGN_OR_RETURN(b, m_dev->alloc(std::max<uint64_t>(n_bytes, 1 << 16) * 5 / 4));
        }
        return static_cast<float*>(b->data());
    }
    // Copies host bytes to scratch slot `slot` (when `copy`), returning the device address.
    Result<float*> stage(int slot, const void* host, uint64_t n_bytes, bool copy) {
        MOE_ASSIGN_OR_RETURN(float* d, scratch(slot, n_bytes));
        if (copy) MOE_RETURN_IF_ERROR(m_dev->upload(d, host, n_bytes));
        return d;
    }
    Status download(void* host, const void* dev, uint64_t n_bytes) { return m_dev->download(host, dev, n_bytes); }
    static uint64_t rows_bytes(int64_t n, int64_t stride, int64_t width) {
        return n <= 0 ? 0 : uint64_t((n - 1) * stride + width) * 4;
    }

    Status run_matmul(const MatrixView& dw, const float* x, int64_t xs, int64_t n, int64_t in_w, float* y, int64_t ys,
                      int64_t out_w, bool transposed, ActivationMode mode) {
        if (n <= 0) return {};
        // The GEMV wants 16-byte aligned activation rows: stage x with a stride that is a multiple of 4.
        const int64_t dxs = (in_w + 3) / 4 * 4;
        MOE_ASSIGN_OR_RETURN(float* dx, stage(0, nullptr, uint64_t(n * dxs) * 4, false));
        MOE_RETURN_IF_ERROR(m_dev->upload_rows(dx, dxs, x, xs, in_w, n));
        MOE_ASSIGN_OR_RETURN(float* dy, stage(1, nullptr, rows_bytes(n, ys, out_w), false));
        MOE_RETURN_IF_ERROR(transposed ? m_dev->matmul_transposed(dw, dx, dxs, n, dy, ys)
                                       : m_dev->matmul(dw, dx, dxs, n, dy, ys, mode));
        return m_dev->download_rows(y, ys, dy, ys, out_w, n);
    }

    Status kv_mirror(const void* host, uint64_t row_bytes, const int32_t* pos, int64_t n, const void** dev);

    std::unique_ptr<Backend> m_dev;
    std::unique_ptr<Backend> m_cpu;
    std::map<uintptr_t, Region> m_regions;
    std::map<uintptr_t, uint64_t> m_host_allocs;  // alloc()ed host buffers (KV caches) and their sizes
    std::unique_ptr<Buffer> m_scratch[6];
    std::map<const void*, std::vector<SwigluWeights>> m_device_experts;
    uint64_t m_placed_bytes = 0;
    bool m_failed = false;
    std::string m_note;
};

Status Offload::kv_mirror(const void* host, uint64_t row_bytes, const int32_t* pos, int64_t n, const void** dev) {
    const auto a = reinterpret_cast<uintptr_t>(host);
    auto it = m_host_allocs.upper_bound(a);
    if (it == m_host_allocs.begin()) return Status::error("attention: the KV cache was not allocated by this backend");
    --it;
    const uint64_t size = it->second;
    auto& mirror = m_regions[it->first];
    if (!mirror.buf) {
        MOE_ASSIGN_OR_RETURN(mirror.buf, m_dev->alloc(size));
        mirror.size = size;
    }
    const int32_t lo = *std::min_element(pos, pos + n), hi = *std::max_element(pos, pos + n);
    const uint64_t off = (a - it->first) + uint64_t(lo) * row_bytes, len = uint64_t(hi - lo + 1) * row_bytes;
    if (off + len > size) return Status::error("attention: positions beyond the KV cache");
    auto* base = static_cast<uint8_t*>(mirror.buf->data());
    MOE_RETURN_IF_ERROR(m_dev->upload(base + off, reinterpret_cast<const uint8_t*>(it->first) + off, len));
    *dev = base + (a - it->first);
    return {};
}

Status Offload::moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n, int64_t n_embd, int64_t k,
                        const int32_t* ids, const float* weights, float* y) {
    const auto cpu = [&] { return m_cpu->moe_ffn(experts, x, n, n_embd, k, ids, weights, y); };
    if (m_failed || n <= 0) return cpu();
    // The device list of these experts, built once per list (the model's lists live as long as it does).
    auto it = m_device_experts.find(experts.data());
    if (it == m_device_experts.end() || it->second.size() != experts.size()) {
        std::vector<SwigluWeights> d(experts.size());
        for (size_t e = 0; e < experts.size(); ++e) {
            const SwigluWeights& h = experts[e];
            if (!on_device(h.gate, Op::MoeFfn, &d[e].gate) || !on_device(h.up, Op::MoeFfn, &d[e].up) ||
                !on_device(h.down, Op::MoeFfn, &d[e].down))
                return cpu();  // an expert on the CPU (hybrid placement): the whole layer's FFN runs there
        }
        it = m_device_experts.insert_or_assign(experts.data(), std::move(d)).first;
    }
    const Status s = [&]() -> Status {
        MOE_ASSIGN_OR_RETURN(float* dx, stage(0, x, uint64_t(n * n_embd) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dy, stage(1, y, uint64_t(n * n_embd) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dids, stage(2, ids, uint64_t(n * k) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dw, stage(3, weights, uint64_t(n * k) * 4, true));
        MOE_RETURN_IF_ERROR(
            m_dev->moe_ffn(it->second, dx, n, n_embd, k, reinterpret_cast<const int32_t*>(dids), dw, dy));
        return download(y, dy, uint64_t(n * n_embd) * 4);
    }();
    return s.ok() ? s : fallback(s, cpu);
}

Status Offload::rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                         int64_t ys) {
    const auto cpu = [&] { return m_cpu->rms_norm(x, xs, w, n, n_tokens, eps, y, ys); };
    if (m_failed || n_tokens <= 0) return cpu();
    const Status s = [&]() -> Status {
        MOE_ASSIGN_OR_RETURN(const float* dw, small_vector(w, n));
        MOE_ASSIGN_OR_RETURN(float* dx, stage(0, x, rows_bytes(n_tokens, xs, n), true));
        float* dy = dx;
        if (y != x || ys != xs) {
            MOE_ASSIGN_OR_RETURN(dy, stage(1, nullptr, rows_bytes(n_tokens, ys, n), false));
        }
        MOE_RETURN_IF_ERROR(m_dev->rms_norm(dx, xs, dw, n, n_tokens, eps, dy, ys));
        return m_dev->download_rows(y, ys, dy, ys, n, n_tokens);
    }();
    return s.ok() ? s : fallback(s, cpu);
}

Status Offload::rope(float* x, int64_t xs, int64_t n_tokens, int64_t n_heads, int64_t hs, const int32_t* pos,
                     const RopeParams& p) {
    const auto cpu = [&] { return m_cpu->rope(x, xs, n_tokens, n_heads, hs, pos, p); };
    if (m_failed || n_tokens <= 0 || n_heads <= 0) return cpu();
    const Status s = [&]() -> Status {
        const uint64_t bytes = rows_bytes(n_tokens, xs, (n_heads - 1) * hs + p.n_rot);
        MOE_ASSIGN_OR_RETURN(float* dx, stage(0, x, bytes, true));
        MOE_ASSIGN_OR_RETURN(float* dpos, stage(1, pos, uint64_t(n_tokens) * 4, true));
        // Only the rotated elements change: the others are copied back unchanged (one contiguous copy).
        MOE_RETURN_IF_ERROR(m_dev->rope(dx, xs, n_tokens, n_heads, hs, reinterpret_cast<const int32_t*>(dpos), p));
        return download(x, dx, bytes);
    }();
    return s.ok() ? s : fallback(s, cpu);
}

Status Offload::mla_attention(const MlaAttentionArgs& a) {
    const auto cpu = [&] { return m_cpu->mla_attention(a); };
    if (m_failed || a.n_tokens <= 0) return cpu();
    const Status s = [&]() -> Status {
        const int64_t row = a.kv_lora + a.n_rope;
        MlaAttentionArgs d = a;
        const void* cache = nullptr;
        MOE_RETURN_IF_ERROR(kv_mirror(a.cache ? static_cast<const void*>(a.cache) : a.cache_f16,
                                      uint64_t(row) * (a.cache ? 4 : 2), a.pos, a.n_tokens, &cache));
        if (a.cache)
            d.cache = static_cast<const float*>(cache);
        else
            d.cache_f16 = static_cast<const uint16_t*>(cache);
        MOE_ASSIGN_OR_RETURN(float* dq, stage(0, a.q, uint64_t(a.n_tokens * a.n_head * row) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dpos, stage(1, a.pos, uint64_t(a.n_tokens) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dout, stage(2, nullptr, uint64_t(a.n_tokens * a.n_head * a.kv_lora) * 4, false));
        d.q = dq;
        d.pos = reinterpret_cast<const int32_t*>(dpos);
        d.out = dout;
        MOE_RETURN_IF_ERROR(m_dev->mla_attention(d));
        return download(a.out, dout, uint64_t(a.n_tokens * a.n_head * a.kv_lora) * 4);
    }();
    return s.ok() ? s : fallback(s, cpu);
}

Status Offload::mha_attention(const MhaAttentionArgs& a) {
    const auto cpu = [&] { return m_cpu->mha_attention(a); };
    if (m_failed || a.n_tokens <= 0) return cpu();
    const Status s = [&]() -> Status {
        MhaAttentionArgs d = a;
        const bool f16 = a.k == nullptr;
        const uint64_t elem = f16 ? 2 : 4;
        const void* k = nullptr;
        const void* v = nullptr;
        MOE_RETURN_IF_ERROR(kv_mirror(f16 ? static_cast<const void*>(a.k_f16) : a.k,
                                      uint64_t(a.n_head_kv * a.head_dim_k) * elem, a.pos, a.n_tokens, &k));
        MOE_RETURN_IF_ERROR(kv_mirror(f16 ? static_cast<const void*>(a.v_f16) : a.v,
                                      uint64_t(a.n_head_kv * a.head_dim_v) * elem, a.pos, a.n_tokens, &v));
        if (f16) {
            d.k_f16 = static_cast<const uint16_t*>(k);
            d.v_f16 = static_cast<const uint16_t*>(v);
        } else {
            d.k = static_cast<const float*>(k);
            d.v = static_cast<const float*>(v);
        }
        MOE_ASSIGN_OR_RETURN(float* dq, stage(0, a.q, uint64_t(a.n_tokens * a.n_head * a.head_dim_k) * 4, true));
        MOE_ASSIGN_OR_RETURN(float* dpos, stage(1, a.pos, uint64_t(a.n_tokens) * 4, true));
        const uint64_t out_bytes = uint64_t(a.n_tokens * a.n_head * a.head_dim_v) * 4;
        MOE_ASSIGN_OR_RETURN(float* dout, stage(2, nullptr, out_bytes, false));
        d.q = dq;
        d.pos = reinterpret_cast<const int32_t*>(dpos);
        d.out = dout;
        MOE_RETURN_IF_ERROR(m_dev->mha_attention(d));
        return download(a.out, dout, out_bytes);
    }();
    return s.ok() ? s : fallback(s, cpu);
}

}  // namespace

std::unique_ptr<OffloadBackend> make_offload_backend(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu) {
    return std::make_unique<Offload>(std::move(device), std::move(cpu));
}

}  // namespace moe
