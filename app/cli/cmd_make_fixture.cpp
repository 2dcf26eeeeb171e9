// moewb make-fixture --arch A [--preset P] [size options] --type T --format F --seed N OUT
#include "cli_args.h"
#include "commands.h"

#include "model/fixture_writer.h"

#include <charconv>
#include <cstdio>
#include <string>

namespace moe::cli {

namespace {

void print_usage(FILE* out) {
    std::fprintf(out,
                 "usage: moewb make-fixture --arch deepseek2|deepseek|llama [--preset NAME] [size options]\n"
                 "                          [--type T] [--format gguf|safetensors] [--seed N] OUT\n"
                 "Writes a random-weight model, deterministic by seed, with a working tokenizer: a GGUF file\n"
                 "OUT, or a Hugging Face folder OUT (config.json, safetensors, tokenizer.json).\n"
                 "  --preset P        tiny (default; every arch), medium, v2-lite, v3 (deepseek2 only)\n"
                 "  --type T          f32 (default), f16, bf16, q8_0, q4_k (safetensors: f32, f16, bf16)\n"
                 "  --format F        gguf (default) or safetensors\n"
                 "  --seed N          random seed (default 1); the values do not depend on type or format\n"
                 "  --mla-layout L    deepseek2 GGUF: legacy (attn_kv_b, default) or split (attn_k_b/attn_v_b)\n"
                 "  --split-mb N      GGUF: write gguf-split shards of at most N MB\n"
                 "  --shard-mb N      safetensors: shards of at most N MB (default 2000) + index\n"
                 "  --threads N       generation threads (default: all)\n"
                 "  --name S          general.name\n"
                 "  --quiet           no progress on stderr\n"
                 "size options (override the preset):\n"
                 "  --layers --embd --heads --heads-kv --ff --ff-exp --experts --experts-used --shared\n"
                 "  --dense-layers --q-lora (0: none) --kv-lora --nope --rope --v-dim --vocab --ctx\n"
                 "  --groups --groups-used N\n"
                 "  --gating softmax|sigmoid   (also sets --expert-bias to on for sigmoid, off for softmax)\n"
                 "  --expert-bias on|off  --norm on|off  --scale X  --yarn on|off\n");
}

struct IntOption {
    const char* name;
    int64_t FixtureSpec::*field;
};

constexpr IntOption k_int_options[] = {
    {"--layers", &FixtureSpec::n_layer},        {"--embd", &FixtureSpec::n_embd},
    {"--heads", &FixtureSpec::n_head},          {"--heads-kv", &FixtureSpec::n_head_kv},
    {"--ff", &FixtureSpec::n_ff},               {"--ff-exp", &FixtureSpec::n_ff_exp},
    {"--experts", &FixtureSpec::n_expert},      {"--experts-used", &FixtureSpec::n_expert_used},
    {"--shared", &FixtureSpec::n_expert_shared}, {"--dense-layers", &FixtureSpec::n_leading_dense},
    {"--q-lora", &FixtureSpec::q_lora_rank},    {"--kv-lora", &FixtureSpec::kv_lora_rank},
    {"--nope", &FixtureSpec::qk_nope_head_dim}, {"--rope", &FixtureSpec::qk_rope_head_dim},
    {"--v-dim", &FixtureSpec::v_head_dim},      {"--vocab", &FixtureSpec::n_vocab},
    {"--ctx", &FixtureSpec::n_ctx},             {"--groups", &FixtureSpec::n_group},
    {"--groups-used", &FixtureSpec::n_group_used},
};

Status parse_int(const std::string& option, const std::string& text, int64_t& out) {
    int64_t v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v < 0)
        return Status::error(option + " '" + text + "': expected a non-negative integer");
    out = v;
    return {};
}

Status parse_switch(const std::string& option, const std::string& text, bool& out) {
    if (text == "on" || text == "true" || text == "1") out = true;
    else if (text == "off" || text == "false" || text == "0") out = false;
    else return Status::error(option + " '" + text + "': expected on or off");
    return {};
}

Status parse_double(const std::string& option, const std::string& text, double& out) {
    try {
        size_t used = 0;
        out = std::stod(text, &used);
        if (used == text.size()) return {};
    } catch (const std::exception&) {
    }
    return Status::error(option + " '" + text + "': expected a number");
}

std::set<std::string> option_names() {
    std::set<std::string> names = {"--arch", "--preset", "--type", "--format", "--seed", "--mla-layout",
                                   "--split-mb", "--shard-mb", "--threads", "--name", "--gating",
                                   "--expert-bias", "--norm", "--scale", "--yarn"};
    for (const IntOption& o : k_int_options) names.insert(o.name);
    return names;
}

Result<Arch> parse_arch(const std::string& s) {
    if (s == "deepseek2") return Arch::Deepseek2;
    if (s == "deepseek") return Arch::Deepseek;
    if (s == "llama") return Arch::Llama;
    return Status::error("--arch '" + s + "': expected deepseek2, deepseek or llama");
}

// Preset, then the options that override it.
Status apply_options(const Args& a, FixtureSpec& s) {
    for (const IntOption& o : k_int_options)
        if (auto v = a.value(o.name)) MOE_RETURN_IF_ERROR(parse_int(o.name, *v, s.*(o.field)));
    if (auto v = a.value("--heads"); v && !a.value("--heads-kv") && s.arch == Arch::Deepseek) s.n_head_kv = s.n_head;
    if (auto v = a.value("--gating")) {
        if (*v != "softmax" && *v != "sigmoid") return Status::error("--gating '" + *v + "': expected softmax or sigmoid");
        s.gating = *v == "sigmoid" ? Gating::Sigmoid : Gating::Softmax;
        s.expert_bias = s.gating == Gating::Sigmoid;
    }
    if (auto v = a.value("--expert-bias")) MOE_RETURN_IF_ERROR(parse_switch("--expert-bias", *v, s.expert_bias));
    if (auto v = a.value("--norm")) MOE_RETURN_IF_ERROR(parse_switch("--norm", *v, s.expert_weights_norm));
    if (auto v = a.value("--yarn")) MOE_RETURN_IF_ERROR(parse_switch("--yarn", *v, s.yarn));
    if (auto v = a.value("--scale")) MOE_RETURN_IF_ERROR(parse_double("--scale", *v, s.expert_weights_scale));
    if (auto v = a.value("--type")) {
        const auto t = ggml_type_from_name(*v);
        if (!t) return Status::error("--type '" + *v + "': expected f32, f16, bf16, q8_0 or q4_k");
        s.type = *t;
    }
    if (auto v = a.value("--format")) {
        if (*v != "gguf" && *v != "safetensors") return Status::error("--format '" + *v + "': expected gguf or safetensors");
        s.format = *v == "gguf" ? FixtureFormat::Gguf : FixtureFormat::Safetensors;
    }
    if (auto v = a.value("--mla-layout")) {
        if (*v != "legacy" && *v != "split") return Status::error("--mla-layout '" + *v + "': expected legacy or split");
        s.mla_layout = *v == "split" ? MlaLayout::Split : MlaLayout::Legacy;
    }
    int64_t n = 0;
    if (auto v = a.value("--seed")) {
        MOE_RETURN_IF_ERROR(parse_int("--seed", *v, n));
        s.seed = static_cast<uint64_t>(n);
    }
    if (auto v = a.value("--split-mb")) {
        MOE_RETURN_IF_ERROR(parse_int("--split-mb", *v, n));
        s.split_max_bytes = static_cast<uint64_t>(n) << 20;
    }
    if (auto v = a.value("--shard-mb")) {
        MOE_RETURN_IF_ERROR(parse_int("--shard-mb", *v, n));
        s.shard_max_bytes = static_cast<uint64_t>(n) << 20;
    }
    if (auto v = a.value("--threads")) {
        MOE_RETURN_IF_ERROR(parse_int("--threads", *v, n));
        s.n_threads = static_cast<int>(std::min<int64_t>(n, 1024));
    }
    if (auto v = a.value("--name")) s.name = *v;
    return {};
}

std::string human_count(uint64_t n) {
    char buf[32];
    if (n >= 1'000'000'000ull) std::snprintf(buf, sizeof buf, "%.3fB", static_cast<double>(n) / 1e9);
    else if (n >= 1'000'000ull) std::snprintf(buf, sizeof buf, "%.3fM", static_cast<double>(n) / 1e6);
    else std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
}

}  // namespace

int cmd_make_fixture(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--help", "-h", "--quiet"}, option_names());
    if (args.flag("--help") || args.flag("-h")) {
        print_usage(stdout);
        return 0;
    }
    if (!args.error().empty() || args.positional().size() != 1 || !args.value("--arch")) {
        const char* what = !args.error().empty()          ? args.error().c_str()
                           : !args.value("--arch")        ? "--arch is required"
                           : args.positional().empty()    ? "expected the output path OUT"
                                                          : "expected one output path";
        std::fprintf(stderr, "moewb make-fixture: %s\n", what);
        print_usage(stderr);
        return 2;
    }
    auto arch = parse_arch(*args.value("--arch"));
    auto spec = arch ? fixture_preset(*arch, args.value("--preset").value_or("tiny")) : Result<FixtureSpec>(arch.status());
    Status st = spec ? apply_options(args, *spec) : spec.status();
    if (st.ok()) st = validate_fixture_spec(*spec);
    if (!st.ok()) {
        std::fprintf(stderr, "moewb make-fixture: %s\n", st.message().c_str());
        return 2;
    }
    const bool quiet = args.flag("--quiet");
    if (!quiet)
        for (const std::string& note : fixture_compat_notes(*spec)) std::fprintf(stderr, "moewb make-fixture: note: %s\n", note.c_str());
    int last_percent = -1;
    const FixtureProgress progress = [&](uint64_t done, uint64_t total) {
        if (quiet || total < (256u << 20)) return;
        const int percent = static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
        if (percent == last_percent) return;
        last_percent = percent;
        std::fprintf(stderr, "\rmoewb make-fixture: %3d%% of %.2f GB", percent, static_cast<double>(total) / 1e9);
        if (done == total) std::fprintf(stderr, "\n");
    };
    const std::string& out = args.positional()[0];
    auto result = write_fixture(*spec, out, progress);
    if (!result) {
        std::fprintf(stderr, "moewb make-fixture: %s\n", result.error().c_str());
        return 1;
    }
    const double mb_per_s = static_cast<double>(result->n_bytes) / 1e6 / std::max(result->seconds, 1e-9);
    std::printf("%s: %s %s %s, %s params, %llu bytes in %zu file%s, %.2f s (%.0f MB/s)\n", out.c_str(),
                arch_name(spec->arch), ggml_type_name(spec->type),
                spec->format == FixtureFormat::Gguf ? "gguf" : "safetensors", human_count(result->n_params).c_str(),
                static_cast<unsigned long long>(result->n_bytes), result->files.size(),
                result->files.size() == 1 ? "" : "s", result->seconds, mb_per_s);
    return 0;
}

}  // namespace moe::cli
