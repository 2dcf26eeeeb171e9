// The CPU implementation of the Backend interface: host buffers, the thread pool, the matrix kernels of
// cpu_matmul.h and the ops of cpu_ops.h.
#include "backend/backend.h"
#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/cpu_ops.h"
#include "backend/cpu/thread_pool.h"

#include <cstdlib>
#include <fstream>
#include <new>
#include <string>

namespace moe {

namespace {

class CpuBuffer final : public Buffer {
public:
    CpuBuffer(void* data, uint64_t n_bytes) : m_data(data), m_size(n_bytes) {}
    ~CpuBuffer() override { std::free(m_data); }
    void* data() override { return m_data; }
    uint64_t size_bytes() const override { return m_size; }

private:
    void* m_data = nullptr;
    uint64_t m_size = 0;
};

std::string cpu_model_name() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    }
    return "CPU";
}

// MemTotal / MemAvailable from /proc/meminfo, in bytes (0 when unknown).
void read_meminfo(uint64_t& total, uint64_t& available) {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit) {
        if (key == "MemTotal:") total = kb * 1024;
        if (key == "MemAvailable:") available = kb * 1024;
    }
}

std::string simd_features() {
    std::string f;
#if defined(__AVX512F__)
    f += " AVX512";
#endif
#if defined(__AVX2__)
    f += " AVX2";
#endif
#if defined(__FMA__)
    f += " FMA";
#endif
#if defined(__F16C__)
    f += " F16C";
#endif
    return f.empty() ? " scalar" : f;
}

class CpuBackend final : public Backend {
public:
    explicit CpuBackend(int n_threads) : m_pool(n_threads) {}

    DeviceInfo info() const override {
        DeviceInfo d;
        d.kind = "cpu";
        d.name = cpu_model_name() + " (" + std::to_string(m_pool.size()) +
                 (m_pool.size() == 1 ? " thread," : " threads,") + simd_features() + ")";
        read_meminfo(d.memory_total_bytes, d.memory_free_bytes);
        d.n_threads = m_pool.size();
        return d;
    }
    bool host_memory() const override { return true; }
    bool supports(Op op, GgmlType type) const override {
        if (op == Op::Matmul || op == Op::MatmulTransposed || op == Op::MoeFfn) return cpu::matmul_supports(type);
        return true;
    }
    Result<std::unique_ptr<Buffer>> alloc(uint64_t n_bytes) override {
        const uint64_t rounded = (n_bytes + 63) / 64 * 64;
        void* p = std::aligned_alloc(64, rounded == 0 ? 64 : rounded);
        if (!p) return Status::error("out of memory: could not allocate " + std::to_string(n_bytes) + " bytes");
        return std::unique_ptr<Buffer>(new CpuBuffer(p, n_bytes));
    }
    Status synchronize() override { return {}; }

    Status matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y, int64_t y_stride,
                  ActivationMode mode) override {
        return cpu::matmul(m_pool, w, x, x_stride, n_tokens, y, y_stride, mode);
    }
    Status matmul_batch(std::span<const MatmulJob> jobs, int64_t n_tokens) override {
        return cpu::matmul_batch(m_pool, jobs, n_tokens);
    }
    void announce_product(std::span<const MatrixView> weights) override { cpu::announce_product(m_pool, weights); }
    void announce_mla_absorbed(const MlaAbsorbedArgs& args) override {
        if (args.attention.n_tokens == 1) cpu::announce_mla_absorbed(m_pool, args);
    }
    Status matmul_transposed(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                             int64_t y_stride) override {
        return cpu::matmul_transposed(m_pool, w, x, x_stride, n_tokens, y, y_stride);
    }
    Status matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n_tokens) override {
        return cpu::matmul_transposed_batch(m_pool, jobs, n_tokens);
    }
    Status moe_routed(const MoeRoutedArgs& args) override {
        if (args.n_tokens != 1) return Backend::moe_routed(args);
        return cpu::moe_routed_decode(m_pool, args);
    }
    Status moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens, int64_t n_embd, int64_t k,
                   const int32_t* ids, const float* weights, float* y) override {
        return cpu::moe_ffn(m_pool, experts, x, n_tokens, n_embd, k, ids, weights, y);
    }
    Status rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps, float* y,
                    int64_t y_stride) override {
        cpu::rms_norm(x, x_stride, w, n, n_tokens, eps, y, y_stride);
        return {};
    }
    Status rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride, const int32_t* pos,
                const RopeParams& params) override {
        if (params.n_rot <= 0 || params.n_rot % 2 != 0)
            return Status::error("rope: n_rot must be positive and even, got " + std::to_string(params.n_rot));
        cpu::rope(x, x_stride, n_tokens, n_heads, head_stride, pos, params);
        return {};
    }
    Status mla_attention(const MlaAttentionArgs& args) override { return cpu::mla_attention(m_pool, args); }
    Status mha_attention(const MhaAttentionArgs& args) override { return cpu::mha_attention(m_pool, args); }
    Status mla_absorbed(const MlaAbsorbedArgs& args) override {
        if (args.attention.n_tokens != 1) return Backend::mla_absorbed(args);
        return cpu::mla_absorbed_decode(m_pool, args);
    }
    Status add(float* y, const float* x, int64_t n) override {
        cpu::add(y, x, n);
        return {};
    }

    cpu::ThreadPool& pool() { return m_pool; }

private:
    cpu::ThreadPool m_pool;
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(int n_threads) { return std::make_unique<CpuBackend>(n_threads); }

}  // namespace moe
