#include "backend/profiling_backend.h"

#include "formats/ggml_type.h"

#include <algorithm>
#include <cstdio>

namespace moe {

void OpProfile::add(const std::string& name, double seconds, uint64_t weight_bytes) {
    OpProfileEntry& e = m_entries[name];
    e.name = name;
    ++e.calls;
    e.seconds += seconds;
    e.weight_bytes += weight_bytes;
}

std::vector<OpProfileEntry> OpProfile::entries() const {
    std::vector<OpProfileEntry> out;
    for (const auto& [name, e] : m_entries) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.seconds > b.seconds; });
    return out;
}

double OpProfile::total_seconds() const {
    double s = 0.0;
    for (const auto& [name, e] : m_entries) s += e.seconds;
    return s;
}

std::string format_op_profile(const OpProfile& profile, int64_t per_tokens) {
    std::string out;
    char line[256];
    const double total = profile.total_seconds();
    const double tokens = static_cast<double>(std::max<int64_t>(1, per_tokens));
    std::snprintf(line, sizeof line, "%-28s %10s %12s %7s %12s %9s\n", "op", "calls/tok", "us/token", "share",
                  "MB/token", "GB/s");
    out += line;
    for (const OpProfileEntry& e : profile.entries()) {
        const double gbs = e.seconds > 0 ? static_cast<double>(e.weight_bytes) / e.seconds / 1e9 : 0.0;
        std::snprintf(line, sizeof line, "%-28s %10.1f %12.1f %6.1f%% %12.2f %9.2f\n", e.name.c_str(),
                      static_cast<double>(e.calls) / tokens, e.seconds * 1e6 / tokens,
                      total > 0 ? 100.0 * e.seconds / total : 0.0, static_cast<double>(e.weight_bytes) / 1e6 / tokens,
                      gbs);
        out += line;
    }
    std::snprintf(line, sizeof line, "%-28s %10s %12.1f\n", "total", "", total * 1e6 / tokens);
    out += line;
    return out;
}

namespace {

using Clock = std::chrono::steady_clock;

std::string with_type(const char* op, GgmlType t) {
    return std::string(op) + " " + ggml_type_name(t);
}

uint64_t matrix_bytes(const MatrixView& w) {
    return static_cast<uint64_t>(w.rows) * w.row_bytes;
}

class ProfilingBackend final : public Backend {
public:
    ProfilingBackend(std::unique_ptr<Backend> inner, OpProfile& profile)
        : m_inner(std::move(inner)), m_profile(profile), m_host_memory(m_inner->info().kind == "cpu") {}

    DeviceInfo info() const override { return m_inner->info(); }
    bool supports(Op op, GgmlType t) const override { return m_inner->supports(op, t); }
    bool host_memory() const override { return m_inner->host_memory(); }
    Result<std::unique_ptr<Buffer>> alloc(uint64_t n) override { return m_inner->alloc(n); }
    Status synchronize() override {
        return timed("synchronize", 0, [&] { return m_inner->synchronize(); });
    }

    Status matmul(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                  ActivationMode mode) override {
        return timed(with_type(n == 1 ? "gemv" : "gemm", w.type), matrix_bytes(w),
                     [&] { return m_inner->matmul(w, x, xs, n, y, ys, mode); });
    }
    Status matmul_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        uint64_t bytes = 0;
        for (const MatmulJob& j : jobs) bytes += matrix_bytes(j.w);
        const GgmlType t = jobs.empty() ? GgmlType::F32 : jobs[0].w.type;
        return timed(with_type(n == 1 ? "gemv batch" : "gemm batch", t), bytes,
                     [&] { return m_inner->matmul_batch(jobs, n); });
    }
    void announce_product(std::span<const MatrixView> weights) override { m_inner->announce_product(weights); }
    void announce_mla_absorbed(const MlaAbsorbedArgs& a) override { m_inner->announce_mla_absorbed(a); }
    Status matmul_transposed(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y,
                             int64_t ys) override {
        return timed(with_type("matmul_t", w.type), matrix_bytes(w),
                     [&] { return m_inner->matmul_transposed(w, x, xs, n, y, ys); });
    }
    Status matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n) override {
        uint64_t bytes = 0;
        for (const MatmulJob& j : jobs) bytes += matrix_bytes(j.w);
        const GgmlType t = jobs.empty() ? GgmlType::F32 : jobs[0].w.type;
        return timed(with_type("matmul_t batch", t), bytes, [&] { return m_inner->matmul_transposed_batch(jobs, n); });
    }
    // Weight bytes: each distinct selected expert once (a batch reads an expert's matrices once). (Routing in
    // device memory cannot be read here: GPU profiles count no expert bytes.)
    uint64_t expert_bytes(std::span<const SwigluWeights> experts, const int32_t* ids, int64_t n_ids) const {
        std::vector<char> used(experts.size(), 0);
        uint64_t bytes = 0;
        for (int64_t i = 0; m_host_memory && i < n_ids; ++i) {
            const auto e = static_cast<size_t>(ids[i]);
            if (e >= experts.size() || used[e]) continue;
            used[e] = 1;
            bytes += matrix_bytes(experts[e].gate) + matrix_bytes(experts[e].up) + matrix_bytes(experts[e].down);
        }
        return bytes;
    }
    Status moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n, int64_t d, int64_t k,
                   const int32_t* ids, const float* weights, float* y) override {
        const GgmlType t = experts.empty() ? GgmlType::F32 : experts[0].gate.type;
        return timed(with_type("moe_ffn", t), expert_bytes(experts, ids, n * k),
                     [&] { return m_inner->moe_ffn(experts, x, n, d, k, ids, weights, y); });
    }
    // An MoE layer's router, routing and FFN as one op ("moe_routed"): the router's, the selected experts' and the
    // shared FFN's bytes (the routing is known only after the call).
    Status moe_routed(const MoeRoutedArgs& a) override {
        const auto t0 = Clock::now();
        Status s = m_inner->moe_routed(a);
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        uint64_t bytes = matrix_bytes(a.router);
        if (s.ok()) bytes += expert_bytes(a.experts, a.ids, a.n_tokens * a.route.k);
        if (s.ok() && a.shared && !a.experts.empty()) {
            const SwigluWeights& sh = a.experts.back();
            bytes += matrix_bytes(sh.gate) + matrix_bytes(sh.up) + matrix_bytes(sh.down);
        }
        const GgmlType t = a.experts.empty() ? GgmlType::F32 : a.experts[0].gate.type;
        m_profile.add(with_type("moe_routed", t), secs, bytes);
        return s;
    }
    Status rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t nt, float eps, float* y,
                    int64_t ys) override {
        return timed("rms_norm", 0, [&] { return m_inner->rms_norm(x, xs, w, n, nt, eps, y, ys); });
    }
    Status rope(float* x, int64_t xs, int64_t nt, int64_t nh, int64_t hs, const int32_t* pos,
                const RopeParams& p) override {
        return timed("rope", 0, [&] { return m_inner->rope(x, xs, nt, nh, hs, pos, p); });
    }
    Status mla_attention(const MlaAttentionArgs& a) override {
        return timed("mla_attention", 0, [&] { return m_inner->mla_attention(a); });
    }
    Status mla_absorbed(const MlaAbsorbedArgs& a) override {
        uint64_t bytes = 0;
        for (const MatrixView& w : a.uk) bytes += matrix_bytes(w);
        for (const MatrixView& w : a.uv) bytes += matrix_bytes(w);
        if (!a.wo.empty()) bytes += matrix_bytes(a.wo);
        const GgmlType t = a.uk.empty() ? GgmlType::F32 : a.uk[0].type;
        return timed(with_type("mla_absorbed", t), bytes, [&] { return m_inner->mla_absorbed(a); });
    }
    Status mha_attention(const MhaAttentionArgs& a) override {
        return timed("mha_attention", 0, [&] { return m_inner->mha_attention(a); });
    }
    Status add(float* y, const float* x, int64_t n) override {
        return timed("add", 0, [&] { return m_inner->add(y, x, n); });
    }

    Status upload(void* d, const void* h, uint64_t n) override { return m_inner->upload(d, h, n); }
    Status download(void* h, const void* d, uint64_t n) override { return m_inner->download(h, d, n); }
    Status upload_rows(float* d, int64_t ds, const float* h, int64_t hs, int64_t w, int64_t n) override {
        return m_inner->upload_rows(d, ds, h, hs, w, n);
    }
    Status download_rows(float* h, int64_t hs, const float* d, int64_t ds, int64_t w, int64_t n) override {
        return m_inner->download_rows(h, hs, d, ds, w, n);
    }
    Status embed(const MatrixView& t, const int32_t* ids, int64_t n, float* out, int64_t os) override {
        return timed("embed", 0, [&] { return m_inner->embed(t, ids, n, out, os); });
    }
    Status round_like(GgmlType t, float* x, int64_t stride, int64_t w, int64_t n) override {
        return timed("round_like", 0, [&] { return m_inner->round_like(t, x, stride, w, n); });
    }
    Status copy_rows(void* d, int64_t ds, const void* s, int64_t ss, int64_t rb, int64_t n) override {
        return timed("copy_rows", 0, [&] { return m_inner->copy_rows(d, ds, s, ss, rb, n); });
    }
    Status fill(void* d, int64_t stride, int64_t n, const void* v, int64_t vb) override {
        return timed("fill", 0, [&] { return m_inner->fill(d, stride, n, v, vb); });
    }
    Status add_bias(float* y, int64_t stride, int64_t n, const float* b, int64_t w) override {
        return timed("add_bias", 0, [&] { return m_inner->add_bias(y, stride, n, b, w); });
    }
    Status write_rows(void* d, bool f16, int64_t w, const int32_t* pos, const float* s, int64_t ss,
                      int64_t n) override {
        return timed("kv write", 0, [&] { return m_inner->write_rows(d, f16, w, pos, s, ss, n); });
    }
    Status route(const RouteParams& p, const float* l, const float* b, int64_t n, int32_t* ids, float* w) override {
        return timed("route", 0, [&] { return m_inner->route(p, l, b, n, ids, w); });
    }
    Result<double> measure_memory_bandwidth_gbs() override { return m_inner->measure_memory_bandwidth_gbs(); }
    Result<double> measure_gemm_peak_gflops() override { return m_inner->measure_gemm_peak_gflops(); }

private:
    template <class F>
    Status timed(const std::string& name, uint64_t bytes, F&& f) {
        const auto t0 = Clock::now();
        Status s = f();
        m_profile.add(name, std::chrono::duration<double>(Clock::now() - t0).count(), bytes);
        return s;
    }

    std::unique_ptr<Backend> m_inner;
    OpProfile& m_profile;
    bool m_host_memory = true;  // the inner backend's buffers are host memory (routing can be read)
};

}  // namespace

std::unique_ptr<Backend> make_profiling_backend(std::unique_ptr<Backend> inner, OpProfile& profile) {
    return std::make_unique<ProfilingBackend>(std::move(inner), profile);
}

}  // namespace moe
