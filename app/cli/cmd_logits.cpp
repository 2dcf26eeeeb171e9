// moewb logits MODEL (-p TEXT | --tokens 1,2,3) --out FILE.f32 [--all-positions] [--kv f32|f16]
// moewb routing MODEL (-p TEXT | --tokens 1,2,3) [-n N] [--json]
#include "cli_args.h"
#include "cli_model.h"
#include "commands.h"

#include "core/mapped_file.h"
#include "core/utf8.h"
#include "runtime/routing_trace.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace moe::cli {

namespace {

int fail(const char* cmd, const Status& s) {
    std::fprintf(stderr, "moewb %s: %s\n", cmd, s.message().c_str());
    return 1;
}

}  // namespace

int cmd_logits(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--all-positions", "--chat", "--no-special", "--help", "-h"},
                    merge({"-p", "--tokens", "--file", "--out"}, k_model_options));
    const bool help = args.flag("--help") || args.flag("-h");
    if (help || !args.error().empty() || args.positional().size() != 1 || !args.value("--out")) {
        if (!args.error().empty()) std::fprintf(stderr, "moewb logits: %s\n", args.error().c_str());
        std::fprintf(help ? stdout : stderr,
                     "usage: moewb logits MODEL (-p TEXT | --tokens 1,2,3 | --file PATH) --out FILE.f32\n"
                     "                    [--all-positions] [--kv f32|f16] [--ctx N] [-t THREADS]\n"
                     "  Writes raw little-endian float32 logits, row-major [positions][n_vocab]: the last position\n"
                     "  only, or every position with --all-positions (row i predicts token i+1).\n");
        return help ? 0 : 2;
    }
    auto kv = kv_type(args);
    if (!kv.ok()) return fail("logits", kv.status());
    auto model = load_model(args, args.positional()[0]);
    if (!model.ok()) return fail("logits", model.status());
    auto tokens = prompt_tokens(args, **model);
    if (!tokens.ok()) return fail("logits", tokens.status());
    auto n_ctx = context_length(args, std::max<int64_t>(16, static_cast<int64_t>(tokens->size())));
    if (!n_ctx.ok()) return fail("logits", n_ctx.status());
    auto session = Session::create(**model, {*n_ctx, *kv, false});
    if (!session.ok()) return fail("logits", session.status());
    std::vector<float> logits;
    const Status s = (*session)->append_all_logits(*tokens, logits);
    if (!s.ok()) return fail("logits", s);
    const int64_t n_vocab = (*model)->n_vocab();
    const bool all = args.flag("--all-positions");
    const float* begin = logits.data() + (all ? 0 : (static_cast<int64_t>(tokens->size()) - 1) * n_vocab);
    const size_t n_floats = all ? logits.size() : static_cast<size_t>(n_vocab);
    const Status w = write_file_atomic(*args.value("--out"), begin, n_floats * sizeof(float));
    if (!w.ok()) return fail("logits", w);
    std::fprintf(stderr, "wrote %s: %lld x %lld float32 (%zu tokens)\n", args.value("--out")->c_str(),
                 (long long)(all ? tokens->size() : 1), (long long)n_vocab, tokens->size());
    return 0;
}

int cmd_routing(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--json", "--chat", "--no-special", "--help", "-h"},
                    merge({"-p", "--tokens", "--file", "-n"}, k_model_options));
    const bool help = args.flag("--help") || args.flag("-h");
    if (help || !args.error().empty() || args.positional().size() != 1) {
        if (!args.error().empty()) std::fprintf(stderr, "moewb routing: %s\n", args.error().c_str());
        std::fprintf(help ? stdout : stderr,
                     "usage: moewb routing MODEL (-p TEXT | --tokens 1,2,3 | --file PATH) [-n N] [--json]\n"
                     "  The experts (descending selection score) and final gate weights of every token at every MoE\n"
                     "  layer, and per-layer load statistics. -n N also routes N greedy tokens after the prompt.\n");
        return help ? 0 : 2;
    }
    auto kv = kv_type(args);
    auto n_gen = int_option(args, "-n", 0, 0, 1 << 20);
    if (!kv.ok() || !n_gen.ok()) return fail("routing", kv.ok() ? n_gen.status() : kv.status());
    auto model = load_model(args, args.positional()[0]);
    if (!model.ok()) return fail("routing", model.status());
    if ((*model)->moe_layers().empty()) return fail("routing", Status::error(args.positional()[0] + ": not a mixture-of-experts model"));
    auto tokens = prompt_tokens(args, **model);
    if (!tokens.ok()) return fail("routing", tokens.status());
    auto n_ctx = context_length(args, static_cast<int64_t>(tokens->size()) + *n_gen + 1);
    if (!n_ctx.ok()) return fail("routing", n_ctx.status());
    auto session = Session::create(**model, {*n_ctx, *kv, true});
    if (!session.ok()) return fail("routing", session.status());
    std::vector<float> logits;
    Status s = (*session)->sync(*tokens, logits);
    for (int64_t i = 0; s.ok() && i < *n_gen; ++i)
        s = (*session)->append(
            greedy_token(std::span<const float>(logits).first(static_cast<size_t>((*model)->n_vocab()))), logits);
    if (!s.ok()) return fail("routing", s);
    const RoutingTrace& trace = (*session)->trace();
    if (args.flag("--json")) {
        std::printf("%s\n", routing_trace_to_json(trace, 0, trace.n_rows(), -1).c_str());
        return 0;
    }
    const Tokenizer& tok = (*model)->tokenizer();
    for (int64_t row = 0; row < trace.n_rows(); ++row) {
        std::printf("pos %d  token %d %s\n", trace.position(row), trace.token(row),
                    utf8_escape_invalid(tok.token_to_piece(trace.token(row), true)).c_str());
        for (int32_t slot = 0; slot < trace.n_slots(); ++slot) {
            std::printf("  layer %2d:", trace.moe_layers()[slot]);
            const auto ids = trace.experts(row, slot);
            const auto w = trace.weights(row, slot);
            for (size_t j = 0; j < ids.size(); ++j) std::printf(" %3d:%.4f", ids[j], w[j]);
            std::printf("\n");
        }
    }
    const RoutingAggregate agg = aggregate_routing(trace, 0, trace.n_rows());
    std::printf("\nlayer  entropy(bits)  normalised  cv     max/mean  unused\n");
    for (const LayerLoadStats& st : routing_load_stats(agg))
        std::printf("%5d  %13.3f  %10.3f  %5.3f  %8.3f  %6d\n", st.layer, st.entropy_bits, st.entropy_normalized, st.cv,
                    st.max_over_mean, st.unused_experts);
    return 0;
}

}  // namespace moe::cli
