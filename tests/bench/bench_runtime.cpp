// Per-token runtime costs next to a ~10 ms decode step: Sampler::sample() over a DeepSeek-V3-sized vocabulary
// (129280) for several chains, and RoutingTrace::record() per (token, MoE layer) as the forward pass calls it.
#include "runtime/routing_trace.h"
#include "runtime/sampler.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <time.h>
#include <vector>

using namespace moe;

namespace {

constexpr int32_t k_vocab = 129280;
int64_t g_sink = 0;  // printed at the end, so the results stay alive

double thread_seconds() {  // CPU time of this thread: the machine is shared
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Logits shaped like a language model's: a few strong candidates over a broad normal background.
std::vector<float> make_logits(std::mt19937& gen) {
    std::normal_distribution<float> dist(0.0f, 2.5f);
    std::vector<float> logits(k_vocab);
    for (float& l : logits) l = dist(gen);
    for (int i = 0; i < 8; ++i) logits[gen() % k_vocab] = 14.0f - static_cast<float>(i);
    return logits;
}

void bench_sample(const char* name, const SamplerParams& params) {
    std::mt19937 gen(1);
    std::vector<std::vector<float>> logits;
    for (int i = 0; i < 8; ++i) logits.push_back(make_logits(gen));
    std::vector<int32_t> history;
    for (int i = 0; i < 512; ++i) history.push_back(static_cast<int32_t>(gen() % k_vocab));
    Sampler sampler(params);
    const int n_calls = 400;
    for (int i = 0; i < 8; ++i) g_sink += sampler.sample(logits[i], history);  // warm the buffers
    const double t0 = thread_seconds();
    for (int i = 0; i < n_calls; ++i) g_sink += sampler.sample(logits[i % 8], history);
    const double us = (thread_seconds() - t0) / n_calls * 1e6;
    std::printf("  %-44s %8.1f us/token  (%.2f%% of a 10 ms step)\n", name, us, us / 100.0);
}

// A decode step appends one row and records each MoE layer; prefill records a batch of rows per layer.
void bench_record(int32_t n_layers, int32_t n_expert, int32_t k, int64_t batch) {
    std::vector<int32_t> moe_layers(static_cast<size_t>(n_layers));
    for (int32_t i = 0; i < n_layers; ++i) moe_layers[static_cast<size_t>(i)] = i + 1;
    RoutingTrace trace;
    trace.reset(n_expert, k, moe_layers);
    const int64_t n_rows = 8192;
    trace.reserve(n_rows);
    std::vector<int32_t> ids(static_cast<size_t>(batch * k));
    std::vector<float> w(static_cast<size_t>(batch * k));
    for (size_t i = 0; i < ids.size(); ++i) {
        ids[i] = static_cast<int32_t>(i % static_cast<size_t>(n_expert));
        w[i] = 1.0f / static_cast<float>(k);
    }
    const std::vector<int32_t> tokens(static_cast<size_t>(batch), 1);
    const double t0 = thread_seconds();
    int64_t n_records = 0;
    for (int64_t row0 = 0; row0 + batch <= n_rows; row0 += batch) {
        const int64_t row = trace.append_rows(tokens, static_cast<int32_t>(row0));
        for (int32_t slot = 0; slot < n_layers; ++slot) trace.record(row, batch, slot, ids.data(), w.data());
        n_records += batch * n_layers;
    }
    const double s = thread_seconds() - t0;
    const double ns = s / static_cast<double>(n_records) * 1e9;
    const double per_token_us = ns * n_layers / 1e3;
    std::printf("  record E=%-3d k=%d layers=%-2d batch=%-4lld %6.2f ns per (token, layer), %6.3f us per token "
                "(append included; %.4f%% of a 10 ms step)\n",
                n_expert, k, n_layers, static_cast<long long>(batch), ns, per_token_us, per_token_us / 100.0);
    g_sink += trace.experts(n_rows - 1, n_layers - 1)[0];
}

}  // namespace

int main() {
    std::printf("Sampler::sample, n_vocab %d, 512 tokens of history (thread CPU time)\n", k_vocab);
    SamplerParams def;  // temperature .8, top_k 40, top_p .95, min_p .05
    bench_sample("default chain (k 40, p .95, min_p .05)", def);
    SamplerParams pen = def;
    pen.repeat_penalty = 1.1f;
    pen.frequency_penalty = 0.1f;
    pen.presence_penalty = 0.1f;
    bench_sample("default + all penalties (last 64)", pen);
    SamplerParams greedy;
    greedy.temperature = 0.0f;
    bench_sample("greedy", greedy);
    SamplerParams no_k = def;
    no_k.top_k = 0;
    bench_sample("top_k off (p .95, min_p .05)", no_k);
    SamplerParams nucleus = no_k;
    nucleus.min_p = 0.0f;
    bench_sample("top_k and min_p off (p .95 only)", nucleus);
    SamplerParams pure = nucleus;
    pure.top_p = 1.0f;
    bench_sample("full softmax (no truncation)", pure);

    std::printf("RoutingTrace::record\n");
    bench_record(26, 64, 6, 1);     // DeepSeek-V2-Lite decode
    bench_record(58, 256, 8, 1);    // DeepSeek-V3 decode
    bench_record(58, 256, 8, 512);  // DeepSeek-V3 prefill batch
    std::printf("(checksum %lld)\n", static_cast<long long>(g_sink));
    return 0;
}
