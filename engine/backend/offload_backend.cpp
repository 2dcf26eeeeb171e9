#include "backend/offload_backend.h"

#include <algorithm>
#include <map>
#include <vector>

namespace moe {

namespace {

constexpr uint64_t kReserveBytes = 1ull << 30;  // activations, scratch, KV caches, cuBLAS workspace

class Offload final : public OffloadBackend {
public:
    Offload(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu)
        : m_dev(std::move(device)), m_cpu(std::move(cpu)) {}

    DeviceInfo info() const override { return m_dev->info(); }
    bool supports(Op op, GgmlType type) const override {
        return m_dev->supports(op, type) || m_cpu->supports(op, type);
    }
    Result<std::unique_ptr<Buffer>> alloc(uint64_t n_bytes) override { return checked(m_dev->alloc(n_bytes)); }
    Status synchronize() override { return checked(m_dev->synchronize()); }

    Status place(const uint8_t* data, uint64_t n, const uint8_t* scales, uint64_t scale_bytes) override {
        MOE_RETURN_IF_ERROR(place_range(data, n));
        if (scales && scale_bytes) MOE_RETURN_IF_ERROR(place_range(scales, scale_bytes));
        m_placed_bytes += n + (scales ? scale_bytes : 0);
        return {};
    }
    uint64_t device_weight_bytes() const override { return m_placed_bytes; }
    uint64_t device_free_bytes() const override {
        const uint64_t free_b = m_dev->info().memory_free_bytes;
        return free_b > kReserveBytes ? free_b - kReserveBytes : 0;
    }
    std::string note() const override { return m_note; }
    bool failed() const override { return m_failed; }
    Backend& device() override { return *m_dev; }
    Result<double> measure_memory_bandwidth_gbs() override { return m_dev->measure_memory_bandwidth_gbs(); }
    Result<double> measure_gemm_peak_gflops() override { return m_dev->measure_gemm_peak_gflops(); }

    // ---- products: on the device when their weights are there, else on the CPU over host copies ----
    Status matmul(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                  ActivationMode mode) override {
        MatrixView dw;
        if (on_device(w, Op::Matmul, &dw)) return checked(m_dev->matmul(dw, x, xs, n, y, ys, mode));
        return on_cpu(x, rows_bytes(n, xs, w.cols), y, rows_bytes(n, ys, w.rows),
                      [&](const float* hx, float* hy) { return m_cpu->matmul(w, hx, xs, n, hy, ys, mode); });
    }
    Status matmul_transposed(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y,
                             int64_t ys) override {
        MatrixView dw;
        if (on_device(w, Op::MatmulTransposed, &dw)) return checked(m_dev->matmul_transposed(dw, x, xs, n, y, ys));
        return on_cpu(x, rows_bytes(n, xs, w.rows), y, rows_bytes(n, ys, w.cols),
                      [&](const float* hx, float* hy) { return m_cpu->matmul_transposed(w, hx, xs, n, hy, ys); });
    }
    // A batch whose weights are all on the device goes there whole (the CUDA backend runs a decode step's
    // per-head products as one launch); otherwise product by product.
    Status matmul_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        if (!device_jobs(jobs, Op::Matmul)) return Backend::matmul_batch(jobs, n);
        return checked(m_dev->matmul_batch(m_jobs, n));
    }
    Status matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        if (!device_jobs(jobs, Op::MatmulTransposed)) return Backend::matmul_transposed_batch(jobs, n);
        return checked(m_dev->matmul_transposed_batch(m_jobs, n));
    }
    Status moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n, int64_t n_embd, int64_t k,
                   const int32_t* ids, const float* weights, float* y) override;
    Status embed(const MatrixView& table, const int32_t* ids, int64_t n, float* out, int64_t os) override;

    // ---- the other ops: always on the device (host vectors translated) ----
    Status rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                    int64_t ys) override {
        MOE_ASSIGN_OR_RETURN(const float* dw, small_vector(w, n));
        return checked(m_dev->rms_norm(x, xs, dw, n, n_tokens, eps, y, ys));
    }
    Status rope(float* x, int64_t xs, int64_t n_tokens, int64_t n_heads, int64_t hs, const int32_t* pos,
                const RopeParams& p) override {
        return checked(m_dev->rope(x, xs, n_tokens, n_heads, hs, pos, p));  // the device uploads freq_factors
    }
    Status mla_attention(const MlaAttentionArgs& a) override { return checked(m_dev->mla_attention(a)); }
    Status mha_attention(const MhaAttentionArgs& a) override { return checked(m_dev->mha_attention(a)); }
    Status add(float* y, const float* x, int64_t n) override { return checked(m_dev->add(y, x, n)); }
    Status upload(void* dst, const void* src, uint64_t n) override { return checked(m_dev->upload(dst, src, n)); }
    Status download(void* dst, const void* src, uint64_t n) override { return checked(m_dev->download(dst, src, n)); }
    Status upload_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t w, int64_t n) override {
        return checked(m_dev->upload_rows(dst, ds, src, ss, w, n));
    }
    Status download_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t w, int64_t n) override {
        return checked(m_dev->download_rows(dst, ds, src, ss, w, n));
    }
    Status round_like(GgmlType t, float* x, int64_t stride, int64_t width, int64_t n) override {
        return checked(m_dev->round_like(t, x, stride, width, n));
    }
    Status copy_rows(void* dst, int64_t ds, const void* src, int64_t ss, int64_t rb, int64_t n) override {
        return checked(m_dev->copy_rows(dst, ds, src, ss, rb, n));
    }
    Status fill(void* dst, int64_t stride, int64_t n, const void* value, int64_t vb) override {
        return checked(m_dev->fill(dst, stride, n, value, vb));
    }
    Status add_bias(float* y, int64_t stride, int64_t n, const float* bias, int64_t width) override {
        MOE_ASSIGN_OR_RETURN(const float* db, small_vector(bias, width));
        return checked(m_dev->add_bias(y, stride, n, db, width));
    }
    Status write_rows(void* dst, bool f16, int64_t width, const int32_t* pos, const float* src, int64_t ss,
                      int64_t n) override {
        return checked(m_dev->write_rows(dst, f16, width, pos, src, ss, n));
    }
    Status route(const RouteParams& p, const float* logits, const float* bias, int64_t n, int32_t* ids,
                 float* weights) override {
        const float* db = nullptr;
        if (bias) {
            MOE_ASSIGN_OR_RETURN(db, small_vector(bias, p.n_expert));
        }
        return checked(m_dev->route(p, logits, db, n, ids, weights));
    }
    bool replay(uint64_t key) override { return !m_failed && m_dev->replay(key); }
    bool begin_record(uint64_t key) override { return !m_failed && m_dev->begin_record(key); }
    Status end_record() override { return m_dev->end_record(); }

private:
    // A device error marks the backend failed (the model then moves to the CPU).
    Status checked(Status s) {
        if (!s.ok() && !m_failed) {
            m_failed = true;
            m_note = "the CUDA device failed (" + s.message() + "); the model moves to the CPU";
        }
        return s;
    }
    template <class T>
    Result<T> checked(Result<T> r) {
        if (!r.ok()) (void)checked(r.status());
        return r;
    }

    Status place_range(const uint8_t* data, uint64_t n) {
        if (!data || n == 0 || find(data, n)) return {};
        MOE_ASSIGN_OR_RETURN(std::unique_ptr<Buffer> b, m_dev->alloc(n));
        MOE_RETURN_IF_ERROR(checked(m_dev->upload(b->data(), data, n)));
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
    Result<const float*> small_vector(const float* host, int64_t n) {
        if (const uint8_t* d = find(host, uint64_t(n) * 4)) return reinterpret_cast<const float*>(d);
        MOE_RETURN_IF_ERROR(checked(place_range(reinterpret_cast<const uint8_t*>(host), uint64_t(n) * 4)));
        return reinterpret_cast<const float*>(find(host, uint64_t(n) * 4));
    }
    bool on_device(const MatrixView& w, Op op, MatrixView* out) const {
        if (!m_dev->supports(op, w.type)) return false;
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
    // m_jobs = jobs with device weights; false when one of them is not on the device.
    bool device_jobs(std::span<const MatmulJob> jobs, Op op) {
        m_jobs.assign(jobs.begin(), jobs.end());
        for (MatmulJob& j : m_jobs)
            if (!on_device(j.w, op, &j.w)) return false;
        return true;
    }
    static uint64_t rows_bytes(int64_t n, int64_t stride, int64_t width) {
        return n <= 0 ? 0 : uint64_t((n - 1) * stride + width) * 4;
    }
    // Runs `op` on the CPU over host copies: x (x_bytes) comes down; so does y (y_bytes: the op may accumulate,
    // and a strided output's gaps hold other data), which goes back up afterwards.
    template <class F>
    Status on_cpu(const void* x, uint64_t x_bytes, float* y, uint64_t y_bytes, F&& op) {
        m_hx.resize(x_bytes / 4 + 1);
        m_hy.resize(y_bytes / 4 + 1);
        MOE_RETURN_IF_ERROR(checked(m_dev->download(m_hx.data(), x, x_bytes)));
        MOE_RETURN_IF_ERROR(checked(m_dev->download(m_hy.data(), y, y_bytes)));
        MOE_RETURN_IF_ERROR(op(m_hx.data(), m_hy.data()));
        return checked(m_dev->upload(y, m_hy.data(), y_bytes));
    }

    struct Region {
        uint64_t size = 0;
        std::unique_ptr<Buffer> buf;
    };

    std::unique_ptr<Backend> m_dev;
    std::unique_ptr<Backend> m_cpu;
    std::map<uintptr_t, Region> m_regions;
    std::map<const void*, std::vector<SwigluWeights>> m_device_experts;  // per expert list: device views, or empty
    std::vector<float> m_hx, m_hy, m_haux;                               // host staging of the CPU products
    std::vector<int32_t> m_route;                                        // host copies of expert ids / token ids
    std::vector<float> m_route_w;                                        // host copy of the routing weights
    std::vector<MatmulJob> m_jobs;                                       // a batch with device weights
    uint64_t m_placed_bytes = 0;
    bool m_failed = false;
    std::string m_note;
};

Status Offload::moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n, int64_t n_embd, int64_t k,
                        const int32_t* ids, const float* weights, float* y) {
    // The device list of these experts, built once per list (the model's lists live as long as it does); empty
    // when one of them stays in host memory: then the layer's whole FFN runs on the CPU.
    auto it = m_device_experts.find(experts.data());
    if (it == m_device_experts.end() || (!it->second.empty() && it->second.size() != experts.size())) {
        std::vector<SwigluWeights> d(experts.size());
        bool all = true;
        for (size_t e = 0; e < experts.size() && all; ++e) {
            const SwigluWeights& h = experts[e];
            all = on_device(h.gate, Op::MoeFfn, &d[e].gate) && on_device(h.up, Op::MoeFfn, &d[e].up) &&
                  on_device(h.down, Op::MoeFfn, &d[e].down);
        }
        if (!all) d.clear();
        it = m_device_experts.insert_or_assign(experts.data(), std::move(d)).first;
    }
    if (!it->second.empty()) return checked(m_dev->moe_ffn(it->second, x, n, n_embd, k, ids, weights, y));
    // Routing (ids then weights, n * k each) comes down with x; y accumulates.
    const uint64_t nk = uint64_t(n * k) * 4;
    m_route.resize(size_t(n * k));
    m_route_w.resize(size_t(n * k));
    MOE_RETURN_IF_ERROR(checked(m_dev->download(m_route.data(), ids, nk)));
    MOE_RETURN_IF_ERROR(checked(m_dev->download(m_route_w.data(), weights, nk)));
    return on_cpu(x, uint64_t(n * n_embd) * 4, y, uint64_t(n * n_embd) * 4, [&](const float* hx, float* hy) {
        return m_cpu->moe_ffn(experts, hx, n, n_embd, k, m_route.data(), m_route_w.data(), hy);
    });
}

Status Offload::embed(const MatrixView& table, const int32_t* ids, int64_t n, float* out, int64_t os) {
    MatrixView dt;
    if (on_device(table, Op::Matmul, &dt)) return checked(m_dev->embed(dt, ids, n, out, os));
    m_route.resize(size_t(n));
    MOE_RETURN_IF_ERROR(checked(m_dev->download(m_route.data(), ids, uint64_t(n) * 4)));
    return on_cpu(ids, 0, out, rows_bytes(n, os, table.cols),
                  [&](const float*, float* hy) { return m_cpu->embed(table, m_route.data(), n, hy, os); });
}

}  // namespace

std::unique_ptr<OffloadBackend> make_offload_backend(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu) {
    return std::make_unique<Offload>(std::move(device), std::move(cpu));
}

}  // namespace moe
