// moewb run MODEL (-p TEXT | --tokens 1,2,3 | --file PATH) [-n N] [--chat] [--ids] [sampling] [--stop S]
// moewb chat MODEL [--system TEXT] [--drop-oldest] [sampling]: an interactive multi-turn chat on stdin/stdout.
#include "cli_args.h"
#include "cli_model.h"
#include "commands.h"

#include "runtime/chat.h"
#include "runtime/generator.h"
#include "runtime/session.h"

#include <cstdio>
#include <sys/resource.h>
#include <iostream>
#include <string>

namespace moe::cli {

namespace {

const char* k_sampling_help =
    "sampling: --temp T (0 = greedy, default 0.8)  --top-k K (40)  --top-p P (0.95)  --min-p P (0.05)\n"
    "          --repeat-penalty X (1.0)  --repeat-last-n N (64)  --frequency-penalty X  --presence-penalty X\n"
    "          --seed S (0)  --stop TEXT (stop string)\n"
    "model:    -t/--threads N  --ctx N (context, default 4096)  --kv f32|f16 (KV cache type)\n";

void print_run_usage(FILE* out) {
    std::fprintf(out,
                 "usage: moewb run MODEL (-p TEXT | --tokens 1,2,3 | --file PATH) [-n N] [--chat] [--ids]\n"
                 "  -n N        tokens to generate (default 128)\n"
                 "  --chat      apply the model's chat template to the prompt (a user message)\n"
                 "  --ids       print the generated token ids instead of the text\n"
                 "  --no-special  read special-token text in the prompt as plain text\n%s",
                 k_sampling_help);
}

// Peak resident memory of this process (weights are mapped: pages read count, nothing is copied).
double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) / 1024.0;
}

void print_stats(const GenerateResult& r) {
    std::fprintf(stderr,
                 "\n[prompt %lld tokens (%lld reused) in %.1f ms, %.1f tokens/s | first token after %.1f ms | "
                 "%zu tokens, %.2f tokens/s, %.2f ms/token | %s | peak RSS %.1f MB]\n",
                 (long long)r.prompt_tokens, (long long)r.prompt_tokens_reused, r.prompt_ms, r.prompt_tokens_per_s(),
                 r.ttft_ms, r.tokens.size(), r.tokens_per_s(), r.ms_per_token(), finish_reason_name(r.finish),
                 peak_rss_mb());
}

Result<GenerateOptions> generate_options(const Args& args, int64_t default_n) {
    GenerateOptions o;
    MOE_ASSIGN_OR_RETURN(o.sampler, sampler_params(args));
    MOE_ASSIGN_OR_RETURN(int64_t n, int_option(args, "-n", default_n, -1, 1 << 24));
    o.max_tokens = static_cast<int32_t>(n);
    if (const auto stop = args.value("--stop")) o.stop.push_back(*stop);
    return o;
}

int fail(const Status& s) {
    std::fprintf(stderr, "moewb: %s\n", s.message().c_str());
    return 1;
}

}  // namespace

int cmd_run(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--chat", "--ids", "--no-special", "--help", "-h"},
                    merge(merge({"-p", "--tokens", "--file", "-n", "--stop"}, k_model_options), k_sampling_options));
    if (args.flag("--help") || args.flag("-h")) {
        print_run_usage(stdout);
        return 0;
    }
    if (!args.error().empty() || args.positional().size() != 1) {
        if (!args.error().empty()) std::fprintf(stderr, "moewb run: %s\n", args.error().c_str());
        print_run_usage(stderr);
        return 2;
    }
    auto options = generate_options(args, 128);
    auto n_ctx = context_length(args, 4096);
    auto kv = kv_type(args);
    for (const Status& s : {options.status(), n_ctx.status(), kv.status()})
        if (!s.ok()) {
            std::fprintf(stderr, "moewb run: %s\n", s.message().c_str());
            return 2;
        }
    auto model = load_model(args, args.positional()[0]);
    if (!model.ok()) return fail(model.status());
    auto prompt = prompt_tokens(args, **model);
    if (!prompt.ok()) return fail(prompt.status());
    auto session = Session::create(**model, {*n_ctx, *kv, false});
    if (!session.ok()) return fail(session.status());
    const bool ids = args.flag("--ids");
    bool first = true;
    auto result = generate(**session, *prompt, *options, [&](const TokenEvent& ev) {
        if (ids) {
            if (ev.token >= 0) std::printf(first ? "%d" : " %d", ev.token);
            first = false;
        } else {
            std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
        }
        std::fflush(stdout);
        return true;
    });
    if (!result.ok()) return fail(result.status());
    std::printf("\n");
    print_stats(*result);
    return 0;
}

int cmd_chat(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--drop-oldest", "--help", "-h"},
                    merge(merge({"--system", "-n", "--stop"}, k_model_options), k_sampling_options));
    if (args.flag("--help") || args.flag("-h") || !args.error().empty() || args.positional().size() != 1) {
        if (!args.error().empty()) std::fprintf(stderr, "moewb chat: %s\n", args.error().c_str());
        std::fprintf(args.flag("--help") ? stdout : stderr,
                     "usage: moewb chat MODEL [--system TEXT] [-n N] [--drop-oldest] [sampling]\n"
                     "  Type a message and press Enter. /reset starts over, /exit (or end of input) quits.\n"
                     "  --drop-oldest  when the conversation outgrows the context, drop the oldest turns\n%s",
                     k_sampling_help);
        return args.flag("--help") ? 0 : 2;
    }
    auto options = generate_options(args, 512);
    auto n_ctx = context_length(args, 4096);
    auto kv = kv_type(args);
    for (const Status& s : {options.status(), n_ctx.status(), kv.status()})
        if (!s.ok()) {
            std::fprintf(stderr, "moewb chat: %s\n", s.message().c_str());
            return 2;
        }
    auto model = load_model(args, args.positional()[0]);
    if (!model.ok()) return fail(model.status());
    auto session = Session::create(**model, {*n_ctx, *kv, false});
    if (!session.ok()) return fail(session.status());
    std::vector<ChatMessage> messages;
    if (const auto sys = args.value("--system")) messages.push_back({"system", *sys});
    const size_t n_fixed = messages.size();
    std::fprintf(stderr, "%s loaded (%s). /reset starts over, /exit quits.\n", (*model)->description().name.c_str(),
                 (*model)->backend().info().name.c_str());
    std::string line;
    for (;;) {
        std::fprintf(stderr, "> ");
        if (!std::getline(std::cin, line) || line == "/exit") break;
        if (line == "/reset") {
            messages.resize(n_fixed);
            (*session)->reset();
            continue;
        }
        if (line.empty()) continue;
        messages.push_back({"user", line});
        const int64_t reserve = options->max_tokens > 0 ? options->max_tokens : 0;
        auto fit = fit_chat_to_context(**model, messages, *n_ctx, reserve, args.flag("--drop-oldest"));
        if (!fit.ok()) {
            std::fprintf(stderr, "moewb chat: %s\n", fit.status().message().c_str());
            messages.pop_back();
            continue;
        }
        if (fit->dropped_messages > 0)
            std::fprintf(stderr, "[dropped the %d oldest messages to fit the context]\n", fit->dropped_messages);
        auto result = generate(**session, fit->tokens, *options, [](const TokenEvent& ev) {
            std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
            std::fflush(stdout);
            return true;
        });
        if (!result.ok()) {
            std::fprintf(stderr, "\nmoewb chat: %s\n", result.status().message().c_str());
            messages.pop_back();
            continue;
        }
        messages.push_back({"assistant", result->text});
        print_stats(*result);
    }
    return 0;
}

}  // namespace moe::cli
