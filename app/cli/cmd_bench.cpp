// moewb bench MODEL [-p 512] [-n 128] [-t THREADS] [-r REPS] [--kv f32|f16] [--json] [--db PATH | --no-db]
// moewb bench --membw [-t THREADS] [--json]
// Prompt processing and generation speed with the physical figures they are judged by: weight bytes read per
// generated token, achieved GB/s and its fraction of the measured memory bandwidth; prompt FLOP/s and its
// fraction of the measured float32 GEMM peak. Results are appended to SQLite (bench_db.h).
#include "bench_db.h"
#include "cli_args.h"
#include "cli_model.h"
#include "commands.h"

#include "backend/cpu/cpu_matmul.h"
#include "backend/cpu/thread_pool.h"
#include "backend/profiling_backend.h"
#include "core/mapped_file.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace moe::cli {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

struct MeanStd {
    double mean = 0;
    double std = 0;
};
MeanStd mean_std(const std::vector<double>& v) {
    MeanStd m;
    if (v.empty()) return m;
    for (double x : v) m.mean += x;
    m.mean /= double(v.size());
    for (double x : v) m.std += (x - m.mean) * (x - m.mean);
    m.std = v.size() > 1 ? std::sqrt(m.std / double(v.size() - 1)) : 0.0;
    return m;
}

// Float32 GEMM peak of this machine with the engine's own kernel: best of 3 products of 1024^3.
double measure_gemm_gflops(cpu::ThreadPool& pool) {
    const int64_t n = 1024;
    std::vector<float> a(n * n), b(n * n), c(n * n);
    for (int64_t i = 0; i < n * n; ++i) {
        a[i] = float((i * 7) % 13) * 0.01f;
        b[i] = float((i * 5) % 11) * 0.01f;
    }
    double best = 0;
    for (int r = 0; r < 3; ++r) {
        const auto t0 = Clock::now();
        cpu::sgemm_nt(pool, n, n, n, a.data(), n, b.data(), n, c.data(), n);
        best = std::max(best, 2.0 * double(n) * n * n / seconds_since(t0) / 1e9);
    }
    return best;
}

void print_usage(FILE* out) {
    std::fprintf(out,
                 "usage: moewb bench MODEL [-p 512] [-n 128] [-t THREADS] [-r 3] [--kv f32|f16] [--json]\n"
                 "                   [--db PATH | --no-db] [--profile] [--device cpu|cuda|auto] [--experts gpu|cpu]\n"
                 "       moewb bench --membw [-t THREADS] [--device cpu|cuda|auto] [--json]\n"
                 "  -p N     prompt tokens processed in one pass (0: skip)\n"
                 "  -n N     tokens generated one at a time after a 1-token prompt (0: skip)\n"
                 "  -r N     repetitions (mean and standard deviation)\n"
                 "  --membw  only measure the memory read bandwidth (GB/s) the fractions are taken of\n"
                 "  --profile  after the runs, time every op of one more generation and print where the time goes\n"
                 "  --device where the model runs (default cpu); with cuda the fractions are of the GPU's measured\n"
                 "           copy bandwidth and cuBLAS bf16 peak\n"
                 "  --experts with a GPU: keep the routed experts in host memory (cpu) or place them on the GPU\n"
                 "  --db     SQLite file for the results (default %s)\n",
                 default_bench_db_path().c_str());
}

int fail(const Status& s) {
    std::fprintf(stderr, "moewb bench: %s\n", s.message().c_str());
    return 1;
}

// Deterministic "random" prompt ids of the tokenizer's ordinary range.
std::vector<int32_t> bench_prompt(const Model& model, int64_t n) {
    std::vector<int32_t> ids;
    const int32_t bos = model.tokenizer().bos_id();
    if (bos >= 0) ids.push_back(bos);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    const uint64_t range = static_cast<uint64_t>(std::max(1, std::min<int32_t>(model.tokenizer().n_vocab(), 32000)));
    while (static_cast<int64_t>(ids.size()) < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ids.push_back(static_cast<int32_t>(x % range));
    }
    return ids;
}

// One generation after a 1-token prompt, with the routing trace recorded for every other token: traced and
// untraced tokens alternate within the run, so the trace's cost is measured under the same conditions
// (context length, caches, clock) rather than by two runs one after the other.
struct TgRun {
    double traced_s = 0, untraced_s = 0;
    int64_t traced = 0, untraced = 0;
    double traced_rate() const { return traced_s > 0 ? double(traced) / traced_s : 0.0; }
    double untraced_rate() const { return untraced_s > 0 ? double(untraced) / untraced_s : 0.0; }
};

Status generate_timed(Session& s, const Model& m, int64_t n_tg, bool traced_first, std::vector<float>& logits,
                      TgRun& run) {
    s.set_record_routing(true);
    s.reset();
    MOE_RETURN_IF_ERROR(s.sync(bench_prompt(m, 1), logits));
    for (int64_t i = 0; i < n_tg; ++i) {
        const bool traced = (i % 2 == 0) == traced_first;
        s.set_record_routing(traced);
        const auto t0 = Clock::now();
        MOE_RETURN_IF_ERROR(s.append(greedy_token(logits), logits));
        const double dt = seconds_since(t0);
        (traced ? run.traced_s : run.untraced_s) += dt;
        (traced ? run.traced : run.untraced) += 1;
    }
    s.set_record_routing(true);
    return {};
}

}  // namespace

int cmd_bench(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--membw", "--json", "--no-db", "--profile", "--help", "-h"},
                    merge({"-p", "-n", "-r", "--db"}, k_model_options));
    const bool help = args.flag("--help") || args.flag("-h");
    const bool membw_only = args.flag("--membw");
    if (help || !args.error().empty() || args.positional().size() != (membw_only ? 0u : 1u)) {
        if (!args.error().empty()) std::fprintf(stderr, "moewb bench: %s\n", args.error().c_str());
        print_usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    auto n_pp = int_option(args, "-p", 512, 0, 1 << 20);
    auto n_tg = int_option(args, "-n", 128, 0, 1 << 20);
    auto reps = int_option(args, "-r", 3, 1, 1000);
    auto threads = args.value("-t") ? int_option(args, "-t", 0, 1, 1024) : int_option(args, "--threads", 0, 1, 1024);
    auto kv = kv_type(args);
    for (const Status& s : {n_pp.status(), n_tg.status(), reps.status(), threads.status(), kv.status()})
        if (!s.ok()) {
            std::fprintf(stderr, "moewb bench: %s\n", s.message().c_str());
            return 2;
        }
    nlohmann::ordered_json j;
    j["commit"] = current_commit();
    j["machine"] = machine_name();
    auto device = parse_device_choice(args.value("--device").value_or("cpu"));
    if (!device.ok()) return fail(device.status());
    cpu::ThreadPool pool(static_cast<int>(*threads));
    j["threads"] = pool.size();
    if (membw_only) {
        BackendSelection sel = make_backend(*device, pool.size());
        if (!sel.note.empty()) std::fprintf(stderr, "moewb bench: %s\n", sel.note.c_str());
        j["device"] = sel.backend->info().name;
        auto dev_bw = sel.backend->measure_memory_bandwidth_gbs();
        const double membw = dev_bw.ok() ? *dev_bw : cpu::measure_memory_bandwidth_gbs(pool);
        j["membw_gb_per_s"] = membw;
        if (args.flag("--json")) {
            std::printf("%s\n", j.dump().c_str());
        } else {
            std::printf("memory %s bandwidth: %.2f GB/s (%s)\n", dev_bw.ok() ? "copy" : "read", membw,
                        j["device"].get<std::string>().c_str());
        }
        return 0;
    }

    OpProfile profile;
    auto model = load_model(args, args.positional()[0], args.flag("--profile") ? &profile : nullptr);
    if (!model.ok()) return fail(model.status());
    Model& m = **model;
    // The limits the speeds are judged by, measured on the device the model runs on: the GPU's memory
    // bandwidth (device-to-device copy) and cuBLAS peak, or the CPU's read bandwidth and float32 GEMM peak.
    // The CPU's bandwidth is read again next to every generation run (before and after it, the larger reading
    // counts): on a shared machine it moves between levels over seconds (here 43-50 and 74-83 GB/s), and a run
    // is judged against what the memory gave while it ran.
    double membw = 0, gemm_peak = 0;
    auto dev_bw = m.backend().measure_memory_bandwidth_gbs();
    auto dev_gemm = m.backend().measure_gemm_peak_gflops();
    std::unique_ptr<cpu::BandwidthProbe> probe;
    if (dev_bw.ok() && dev_gemm.ok()) {
        membw = *dev_bw;
        gemm_peak = *dev_gemm;
    } else {
        std::fprintf(stderr, "measuring memory bandwidth (%d threads)...\n", pool.size());
        probe = std::make_unique<cpu::BandwidthProbe>(pool, cpu::kBandwidthProbeBytes);
        membw = probe->measure(5);
        gemm_peak = measure_gemm_gflops(pool);
    }
    const auto bandwidth_now = [&] { return probe ? probe->measure(3) : membw; };
    j["gemm_peak_gflop_per_s"] = gemm_peak;
    j["device"] = m.device_name();
    j["device_kind"] = m.device_kind();
    if (std::string(m.device_kind()) == "cuda") {
        j["weights_on_device_bytes"] = m.placement().device_bytes;
        j["weights_on_host_bytes"] = m.placement().host_bytes;
    }
    j["model"] = m.description().name.empty() ? args.positional()[0] : m.description().name;
    j["model_path"] = args.positional()[0];
    j["kv"] = kv_type_name(*kv);
    const ActiveWeights& active = m.active_weights();
    auto session = Session::create(m, {std::max<int64_t>(*n_pp, 1) + *n_tg + 8, *kv, true});
    if (!session.ok()) return fail(session.status());
    Session& s = **session;

    std::vector<double> pp_rates, tg_rates, tg_rates_untraced, tg_bw;
    std::vector<float> logits;
    const std::vector<int32_t> prompt = bench_prompt(m, *n_pp);
    // One untimed warm-up pass pages the weights in.
    {
        const std::vector<int32_t> warm = bench_prompt(m, std::min<int64_t>(std::max<int64_t>(*n_pp, 1), 16));
        s.reset();
        if (Status st = s.sync(warm, logits); !st.ok()) return fail(st);
    }
    for (int64_t r = 0; r < *reps; ++r) {
        if (*n_pp > 0) {
            s.reset();
            const auto t0 = Clock::now();
            if (Status st = s.sync(prompt, logits); !st.ok()) return fail(st);
            pp_rates.push_back(double(*n_pp) / seconds_since(t0));
        }
        if (*n_tg > 0) {
            TgRun run;
            const double before = bandwidth_now();
            if (Status st = generate_timed(s, m, *n_tg, r % 2 == 0, logits, run); !st.ok()) return fail(st);
            tg_bw.push_back(std::max(before, bandwidth_now()));
            tg_rates.push_back(run.traced_rate());
            tg_rates_untraced.push_back(run.untraced_rate());
        }
    }
    if (args.flag("--profile") && *n_pp > 0) {
        profile.clear();
        s.reset();
        const auto t0 = Clock::now();
        if (Status st = s.sync(prompt, logits); !st.ok()) return fail(st);
        const double wall = seconds_since(t0);
        std::fprintf(stderr, "where a %lld-token prompt's time goes (%.1f ms in all, %.1f ms outside the ops):\n%s",
                     (long long)*n_pp, wall * 1e3, (wall - profile.total_seconds()) * 1e3,
                     format_op_profile(profile, 1).c_str());
    }
    if (args.flag("--profile") && *n_tg > 0) {
        profile.clear();
        TgRun run;
        const double before = bandwidth_now();
        const auto t0 = Clock::now();
        if (Status st = generate_timed(s, m, *n_tg, true, logits, run); !st.ok()) return fail(st);
        const double wall = seconds_since(t0);
        std::fprintf(stderr,
                     "where one generated token's time goes (%lld tokens, %.1f us/token in all, %.1f us outside the "
                     "ops; memory bandwidth %.1f GB/s):\n%s",
                     (long long)*n_tg, wall * 1e6 / double(*n_tg),
                     (wall - profile.total_seconds()) * 1e6 / double(*n_tg), std::max(before, bandwidth_now()),
                     format_op_profile(profile, *n_tg).c_str());
    }
    const MeanStd pp = mean_std(pp_rates);
    const MeanStd tg = mean_std(tg_rates);
    const MeanStd tg_untraced = mean_std(tg_rates_untraced);
    // Prompt FLOPs: every matrix for every token except the output head, which runs for the last token only.
    const double flops_per_prompt =
        *n_pp > 0
            ? 2.0 * (double(active.elements - active.output_elements) * double(*n_pp) + double(active.output_elements))
            : 0.0;
    const double pp_gflops = pp.mean > 0 ? flops_per_prompt * pp.mean / double(*n_pp) / 1e9 : 0.0;
    const double tg_gbs = tg.mean * double(active.bytes) / 1e9;
    // Each run's GB/s over the bandwidth read next to it, averaged; the bandwidth reported is their mean.
    std::vector<double> fractions;
    for (size_t r = 0; r < tg_rates.size(); ++r)
        if (tg_bw[r] > 0) fractions.push_back(tg_rates[r] * double(active.bytes) / 1e9 / tg_bw[r]);
    if (!tg_bw.empty()) membw = mean_std(tg_bw).mean;
    j["membw_gb_per_s"] = membw;
    j["membw_gb_per_s_runs"] = tg_bw;
    if (probe) j["membw_probe_bytes"] = cpu::kBandwidthProbeBytes;  // 256 MiB before 1b5e958 (partly cached)
    j["tg_tokens_per_s_runs"] = tg_rates;
    j["n_prompt"] = *n_pp;
    j["n_gen"] = *n_tg;
    j["repetitions"] = *reps;
    j["pp_tokens_per_s"] = pp.mean;
    j["pp_tokens_per_s_std"] = pp.std;
    j["pp_gflop_per_s"] = pp_gflops;
    j["pp_gemm_peak_fraction"] = gemm_peak > 0 ? pp_gflops / gemm_peak : 0.0;
    j["tg_tokens_per_s"] = tg.mean;
    j["tg_tokens_per_s_std"] = tg.std;
    j["tg_tokens_per_s_untraced"] = tg_untraced.mean;
    j["routing_trace_overhead_fraction"] = tg.mean > 0 ? tg_untraced.mean / tg.mean - 1.0 : 0.0;
    j["bytes_per_token"] = active.bytes;
    j["tg_gb_per_s"] = tg_gbs;
    j["tg_membw_fraction"] = fractions.empty() ? (membw > 0 ? tg_gbs / membw : 0.0) : mean_std(fractions).mean;
    // How the weights are mapped: the streams run markedly slower through 4 KiB pages (a page cache left in small
    // folios: see core/mapped_file.cpp), so the figures say how much of the map had 2 MiB pages.
    const MappedFile::Residency residency = MappedFile::residency(args.positional()[0]);
    const double huge_fraction =
        residency.resident_bytes > 0 ? double(residency.huge_page_bytes) / double(residency.resident_bytes) : 0.0;
    if (residency.resident_bytes >= 0) {
        j["weights_resident_bytes"] = residency.resident_bytes;
        j["weights_huge_page_fraction"] = huge_fraction;
    }
    // The weights themselves read with the probe's method (tensors of 64 KiB and more): the memory behind a cached
    // file can be slower than a fresh buffer's. On a VM whose free 2 MiB blocks are reported to the host, a page cache
    // later rebuilt in 2 MiB folios streamed at 12 GB/s per core where a fresh buffer read 18-19 (and medium Q8_0
    // decoded at 150 instead of 210 tok/s), so this says when the figures above are the memory's and not the engine's.
    double weights_gbs = 0.0;
    if (probe) {
        std::vector<cpu::ReadRange> ranges;
        for (const WeightTensor& t : m.source().tensors())
            if (t.n_bytes >= (64u << 10)) ranges.push_back({t.data, t.n_bytes});
        weights_gbs = cpu::measure_read_gbs(pool, ranges, 2);
        j["weights_read_gb_per_s"] = weights_gbs;
    }
    if (!args.flag("--no-db")) {
        const std::string db = args.value("--db").value_or(default_bench_db_path());
        const Status st =
            append_bench_record(db, {j["commit"], j["machine"], j["device"], j["model"], "moewb bench", j.dump()});
        if (!st.ok())
            std::fprintf(stderr, "moewb bench: result not stored: %s\n", st.message().c_str());
        else
            j["db"] = db;
    }
    if (args.flag("--json")) {
        std::printf("%s\n", j.dump().c_str());
        return 0;
    }
    std::printf("model %s | %s | kv %s\n", j["model"].get<std::string>().c_str(),
                j["device"].get<std::string>().c_str(), kv_type_name(*kv));
    if (std::string(m.device_kind()) == "cuda")
        std::printf(
            "GPU memory bandwidth %.2f GB/s (device copy), cuBLAS bf16 peak %.1f GFLOP/s; weights %.2f GB on "
            "the GPU, %.2f GB on the host\n",
            membw, gemm_peak, double(m.placement().device_bytes) / 1e9, double(m.placement().host_bytes) / 1e9);
    else if (tg_bw.size() > 1)
        std::printf(
            "memory bandwidth %.2f GB/s (read next to each generation run: %.1f-%.1f), f32 GEMM peak %.1f "
            "GFLOP/s\n",
            membw, *std::min_element(tg_bw.begin(), tg_bw.end()), *std::max_element(tg_bw.begin(), tg_bw.end()),
            gemm_peak);
    else
        std::printf("memory bandwidth %.2f GB/s, f32 GEMM peak %.1f GFLOP/s\n", membw, gemm_peak);
    if (residency.resident_bytes > 0 && std::string(m.device_kind()) != "cuda")
        std::printf(
            "weights mapped: %.1f MB resident, %.0f%% of it in 2 MiB pages, read at %.1f GB/s (%.0f%% of the "
            "probe)\n",
            double(residency.resident_bytes) / 1e6, 100.0 * huge_fraction, weights_gbs,
            membw > 0 ? 100.0 * weights_gbs / membw : 0.0);
    // Under 75%: the weights read at 61-66% of the probe when medium Q8_0 decoded at 70-74%, at 77% when it decoded at
    // 99% again (part of its pages still slow), at 95-103% from a fresh copy.
    if (weights_gbs > 0 && membw > 0 && weights_gbs < 0.75 * membw)
        std::printf(
            "  (the model's cached pages read slower than a fresh buffer: the memory behind them is slower, as on a "
            "VM that returned it to its host; a fresh copy of the file may run faster)\n");
    if (*n_pp > 0)
        std::printf("pp%-5lld %8.2f +- %6.2f tokens/s   %7.1f GFLOP/s = %.0f%% of GEMM peak\n", (long long)*n_pp,
                    pp.mean, pp.std, pp_gflops, 100.0 * j["pp_gemm_peak_fraction"].get<double>());
    if (*n_tg > 0)
        std::printf("tg%-5lld %8.2f +- %6.2f tokens/s   %.1f MB/token, %.2f GB/s = %.0f%% of memory bandwidth\n",
                    (long long)*n_tg, tg.mean, tg.std, double(active.bytes) / 1e6, tg_gbs,
                    100.0 * j["tg_membw_fraction"].get<double>());
    if (*n_tg > 0 && j["tg_membw_fraction"].get<double>() > 1.0)
        std::printf("  (over 100%%: the last-level cache served part of the weights' reads, memory the rest)\n");
    if (*n_tg > 0)
        std::printf("routing trace: %.2f tokens/s without it, cost %+.2f%% of decode time\n", tg_untraced.mean,
                    100.0 * j["routing_trace_overhead_fraction"].get<double>());
    return 0;
}

}  // namespace moe::cli
