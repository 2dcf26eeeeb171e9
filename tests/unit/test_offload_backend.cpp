// OffloadBackend's logic without a GPU: a CPU backend stands in for the device (its "device memory" is host
// memory, so every path can run here): placed weights are translated to their copies, unplaced ones run on the
// CPU over staged copies (the hybrid layout), host vectors are uploaded on first use, and a device error marks
// the backend failed with a note. Results must equal the CPU backend's bit for bit. And a session whose model
// moves to the CPU (Model::switch_to_cpu, as after a GPU failure) rebuilds its cache and carries on.
#include "check.h"

#include "backend/offload_backend.h"
#include "formats/quants.h"
#include "model/model.h"
#include "runtime/session.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using namespace moe;

std::vector<float> randn(int64_t n, uint32_t seed) {
    std::mt19937 g(seed);
    std::normal_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(g);
    return v;
}

std::vector<uint8_t> q8_matrix(int64_t rows, int64_t cols, uint32_t seed) {
    const std::vector<float> w = randn(rows * cols, seed);
    std::vector<uint8_t> out(static_cast<size_t>(rows) * (cols / 32) * 34);
    for (int64_t r = 0; r < rows; ++r)
        if (!quantize_row(GgmlType::Q8_0, w.data() + r * cols, out.data() + r * (cols / 32) * 34, cols).ok())
            throw moe_test::AbortTest{};
    return out;
}

MatrixView view(const std::vector<uint8_t>& b, int64_t rows, int64_t cols) {
    return MatrixView{GgmlType::Q8_0, b.data(), cols, rows, static_cast<uint64_t>(cols / 32 * 34)};
}

// A CPU backend whose matmul fails once `fail` is set (a failed launch).
class FailingBackend final : public Backend {
public:
    bool fail = false;
    DeviceInfo info() const override { return m_cpu->info(); }
    bool supports(Op op, GgmlType t) const override { return m_cpu->supports(op, t); }
    Result<std::unique_ptr<Buffer>> alloc(uint64_t n) override { return m_cpu->alloc(n); }
    Status synchronize() override { return {}; }
    Status matmul(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y, int64_t ys,
                  ActivationMode mode) override {
        if (fail) return Status::error("gemv: an illegal memory access was encountered (cudaErrorIllegalAddress)");
        return m_cpu->matmul(w, x, xs, n, y, ys, mode);
    }
    Status matmul_transposed(const MatrixView& w, const float* x, int64_t xs, int64_t n, float* y,
                             int64_t ys) override {
        return m_cpu->matmul_transposed(w, x, xs, n, y, ys);
    }
    Status moe_ffn(std::span<const SwigluWeights> e, const float* x, int64_t n, int64_t d, int64_t k,
                   const int32_t* ids, const float* w, float* y) override {
        return m_cpu->moe_ffn(e, x, n, d, k, ids, w, y);
    }
    Status rms_norm(const float* x, int64_t xs, const float* w, int64_t n, int64_t nt, float eps, float* y,
                    int64_t ys) override {
        return m_cpu->rms_norm(x, xs, w, n, nt, eps, y, ys);
    }
    Status rope(float* x, int64_t xs, int64_t nt, int64_t nh, int64_t hs, const int32_t* pos,
                const RopeParams& p) override {
        return m_cpu->rope(x, xs, nt, nh, hs, pos, p);
    }
    Status mla_attention(const MlaAttentionArgs& a) override { return m_cpu->mla_attention(a); }
    Status mha_attention(const MhaAttentionArgs& a) override { return m_cpu->mha_attention(a); }
    Status add(float* y, const float* x, int64_t n) override { return m_cpu->add(y, x, n); }

private:
    std::unique_ptr<Backend> m_cpu = make_cpu_backend(1);
};

MOE_TEST(placed_and_unplaced_products_equal_the_cpu) {
    auto cpu = make_cpu_backend(1);
    auto off = make_offload_backend(make_cpu_backend(1), make_cpu_backend(1));
    const int64_t rows = 40, cols = 96, n = 3, xs = 100, ys = 45;
    const std::vector<uint8_t> placed = q8_matrix(rows, cols, 1), kept = q8_matrix(rows, cols, 2);
    REQUIRE_OK(off->place(placed.data(), placed.size()));
    CHECK(off->device_weight_bytes() == placed.size());
    const std::vector<float> x = randn(n * xs, 3);
    for (const std::vector<uint8_t>* m : {&placed, &kept}) {
        std::vector<float> want(static_cast<size_t>(n * ys), 7.0f), got = want;
        REQUIRE_OK(cpu->matmul(view(*m, rows, cols), x.data(), xs, n, want.data(), ys));
        REQUIRE_OK(off->matmul(view(*m, rows, cols), x.data(), xs, n, got.data(), ys));
        CHECK(got == want);  // the gaps of the strided output (7.0) are kept too
        // A slice of a placed tensor is found inside its region.
        std::vector<float> ws(static_cast<size_t>(n * ys), 0.0f), gs = ws;
        const MatrixView slice = view(*m, rows, cols).rows_slice(10, 20);
        REQUIRE_OK(cpu->matmul(slice, x.data(), xs, n, ws.data(), ys));
        REQUIRE_OK(off->matmul(slice, x.data(), xs, n, gs.data(), ys));
        CHECK(gs == ws);
    }
    // Batches: all placed (the device's batch) or mixed (product by product).
    for (const std::vector<uint8_t>* second : {&placed, &kept}) {
        std::vector<float> want(static_cast<size_t>(2 * rows), 0.0f), got = want;
        const MatmulJob jc[] = {{view(placed, rows, cols), x.data(), xs, want.data(), 2 * rows},
                                {view(*second, rows, cols), x.data(), xs, want.data() + rows, 2 * rows}};
        const MatmulJob jo[] = {{view(placed, rows, cols), x.data(), xs, got.data(), 2 * rows},
                                {view(*second, rows, cols), x.data(), xs, got.data() + rows, 2 * rows}};
        REQUIRE_OK(cpu->matmul_batch(jc, 1));
        REQUIRE_OK(off->matmul_batch(jo, 1));
        CHECK(got == want);
    }
    CHECK(!off->failed());
}

MOE_TEST(experts_in_host_memory_run_on_the_cpu) {
    auto cpu = make_cpu_backend(1);
    const int64_t d = 64, ff = 32, n_exp = 4, k = 2, n = 3;
    std::vector<std::vector<uint8_t>> bytes;
    std::vector<SwigluWeights> experts;
    for (int64_t e = 0; e < n_exp; ++e) {
        bytes.push_back(q8_matrix(ff, d, uint32_t(10 + 3 * e)));
        bytes.push_back(q8_matrix(ff, d, uint32_t(11 + 3 * e)));
        bytes.push_back(q8_matrix(d, ff, uint32_t(12 + 3 * e)));
    }
    for (int64_t e = 0; e < n_exp; ++e)
        experts.push_back({view(bytes[3 * e], ff, d), view(bytes[3 * e + 1], ff, d), view(bytes[3 * e + 2], d, ff)});
    const std::vector<float> x = randn(n * d, 5), y0 = randn(n * d, 6);
    const std::vector<int32_t> ids = {0, 3, 1, 2, 3, 0};
    const std::vector<float> w = {0.6f, 0.4f, 0.5f, 0.5f, 0.9f, 0.1f};
    std::vector<float> want = y0;
    REQUIRE_OK(cpu->moe_ffn(experts, x.data(), n, d, k, ids.data(), w.data(), want.data()));
    for (bool place : {false, true}) {
        auto off = make_offload_backend(make_cpu_backend(1), make_cpu_backend(1));
        if (place)
            for (const auto& b : bytes) REQUIRE_OK(off->place(b.data(), b.size()));
        std::vector<float> got = y0;
        REQUIRE_OK(off->moe_ffn(experts, x.data(), n, d, k, ids.data(), w.data(), got.data()));
        CHECK(got == want);
    }
}

MOE_TEST(host_vectors_are_uploaded_once_and_embeddings_work_either_way) {
    auto cpu = make_cpu_backend(1);
    auto off = make_offload_backend(make_cpu_backend(1), make_cpu_backend(1));
    const int64_t width = 64, n = 2;
    const std::vector<float> x = randn(n * width, 8), norm = randn(width, 9);
    std::vector<float> want(x.size()), got(x.size());
    REQUIRE_OK(cpu->rms_norm(x.data(), width, norm.data(), width, n, 1e-6f, want.data(), width));
    REQUIRE_OK(off->rms_norm(x.data(), width, norm.data(), width, n, 1e-6f, got.data(), width));
    CHECK(got == want);
    const std::vector<uint8_t> table = q8_matrix(10, width, 4);
    const std::vector<int32_t> ids = {9, 2};
    std::vector<float> we(static_cast<size_t>(n * width)), ge = we;
    REQUIRE_OK(cpu->embed(view(table, 10, width), ids.data(), n, we.data(), width));
    REQUIRE_OK(off->embed(view(table, 10, width), ids.data(), n, ge.data(), width));
    CHECK(ge == we);
    REQUIRE_OK(off->place(table.data(), table.size()));
    std::fill(ge.begin(), ge.end(), 0.0f);
    REQUIRE_OK(off->embed(view(table, 10, width), ids.data(), n, ge.data(), width));
    CHECK(ge == we);
}

MOE_TEST(a_device_error_marks_the_backend_failed) {
    auto dev = std::make_unique<FailingBackend>();
    FailingBackend* raw = dev.get();
    auto off = make_offload_backend(std::move(dev), make_cpu_backend(1));
    const std::vector<uint8_t> m = q8_matrix(8, 32, 1);
    REQUIRE_OK(off->place(m.data(), m.size()));
    const std::vector<float> x = randn(32, 2);
    std::vector<float> y(8);
    REQUIRE_OK(off->matmul(view(m, 8, 32), x.data(), 32, 1, y.data(), 8));
    CHECK(!off->failed());
    raw->fail = true;
    const Status s = off->matmul(view(m, 8, 32), x.data(), 32, 1, y.data(), 8);
    CHECK(!s.ok());
    CHECK(off->failed());
    CHECK(off->note().find("illegal memory access") != std::string::npos);
}

}  // namespace

namespace {

// After the model moves to the CPU (what a GPU failure does), a session rebuilds its cache from its tokens and
// continues with the same logits as a session that never moved.
MOE_TEST(sessions_survive_the_model_moving_to_the_cpu) {
    const std::string path = moe_test::shared_fixture("models/fx-ds2-lite-f32.gguf");
    if (path.empty()) MOE_SKIP("fixture fx-ds2-lite-f32 not found");
    auto a = Model::load(path, {1, 512});
    auto b = Model::load(path, {1, 512});
    REQUIRE_OK(a);
    REQUIRE_OK(b);
    auto sa = Session::create(**a, {64, KvType::F32, true});
    auto sb = Session::create(**b, {64, KvType::F32, true});
    REQUIRE_OK(sa);
    REQUIRE_OK(sb);
    const std::vector<int32_t> prompt = {1, 20, 30, 40, 50};
    std::vector<float> la, lb;
    REQUIRE_OK((*sa)->sync(prompt, la));
    REQUIRE_OK((*sb)->sync(prompt, lb));
    const uint64_t gen = (*b)->backend_generation();
    CHECK(!(*b)->switch_to_cpu("test: the GPU failed").ok());
    CHECK((*b)->backend_generation() == gen + 1);
    CHECK((*b)->device_note() == "test: the GPU failed");
    for (int32_t t : {7, 8, 9}) {
        REQUIRE_OK((*sa)->append(t, la));
        REQUIRE_OK((*sb)->append(t, lb));
        CHECK(la == lb);
    }
}

}  // namespace
