// moewb info MODEL [--json] [--ctx N] [--kv f32|f16|bf16|q8_0]
#include "cli_args.h"
#include "commands.h"

#include "backend/backend_plugin.h"
#include "model/device_placement.h"
#include "model/model_source.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace moe::cli {

namespace {

using nlohmann::ordered_json;

std::string human_bytes(uint64_t n) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
    return buf;
}

std::string human_count(uint64_t n) {
    char buf[32];
    if (n >= 1000000000ull)
        std::snprintf(buf, sizeof buf, "%.3f B", static_cast<double>(n) / 1e9);
    else if (n >= 1000000ull)
        std::snprintf(buf, sizeof buf, "%.3f M", static_cast<double>(n) / 1e6);
    else if (n >= 1000ull)
        std::snprintf(buf, sizeof buf, "%.3f K", static_cast<double>(n) / 1e3);
    else
        std::snprintf(buf, sizeof buf, "%llu", static_cast<unsigned long long>(n));
    return buf;
}

ordered_json gating_json(const HParams& hp) {
    ordered_json g;
    g["function"] = gating_name(hp.gating);
    g["score_bias"] = hp.has_expert_bias;
    g["topk_method"] = hp.topk_method;
    g["groups"] = hp.n_group;
    g["groups_used"] = hp.n_group_used;
    g["normalize"] = hp.expert_weights_norm;
    g["scale"] = hp.expert_weights_scale;
    return g;
}

ordered_json attention_json(const HParams& hp) {
    ordered_json a;
    a["kind"] = hp.is_mla() ? "mla" : (hp.n_head_kv == hp.n_head ? "mha" : "gqa");
    a["heads"] = hp.n_head;
    if (hp.is_mla()) {
        a["q_lora_rank"] = hp.q_lora_rank;
        a["kv_lora_rank"] = hp.kv_lora_rank;
        a["qk_nope_head_dim"] = hp.qk_nope_head_dim;
        a["qk_rope_head_dim"] = hp.qk_rope_head_dim;
        a["v_head_dim"] = hp.v_head_dim;
    } else {
        a["kv_heads"] = hp.n_head_kv;
        a["head_dim"] = hp.head_dim;
    }
    a["kq_scale"] = hp.kq_scale();
    a["weight_layout"] = weight_layout_name(hp.layout);
    return a;
}

ordered_json rope_json(const HParams& hp) {
    ordered_json r;
    r["freq_base"] = hp.rope_freq_base;
    r["dim"] = hp.n_rot;
    r["interleaved_pairs"] = hp.rope_interleaved;
    ordered_json s;
    s["type"] = rope_scaling_name(hp.rope_scaling);
    if (hp.rope_scaling != RopeScaling::None) s["factor"] = hp.rope_factor;
    if (hp.rope_scaling == RopeScaling::Yarn) {
        s["original_context"] = hp.rope_original_ctx;
        s["beta_fast"] = hp.yarn_beta_fast;
        s["beta_slow"] = hp.yarn_beta_slow;
        s["mscale"] = hp.yarn_mscale;
        s["mscale_all_dim"] = hp.yarn_mscale_all_dim;
        s["attention_factor"] = hp.yarn_attn_mscale();
    }
    r["scaling"] = s;
    return r;
}

ordered_json model_json(const HParams& hp, const ModelDescription& d) {
    ordered_json j;
    j["parameters"] = {{"total", d.params.total}, {"active", d.params.active}, {"in_tensors", d.params_in_tensors}};
    j["embedding_length"] = hp.n_embd;
    j["vocab_size"] = hp.n_vocab;
    j["layers"] = {{"count", hp.n_layer},
                   {"leading_dense", hp.is_moe() ? hp.n_leading_dense : hp.n_layer},
                   {"moe", hp.n_moe_layers()}};
    j["feed_forward_length"] = hp.n_ff;
    if (hp.is_moe()) {
        j["moe"] = {{"routed_experts", hp.n_expert},
                    {"shared_experts", hp.n_expert_shared},
                    {"experts_per_token", hp.n_expert_used},
                    {"expert_feed_forward_length", hp.n_ff_exp},
                    {"gating", gating_json(hp)}};
    }
    j["attention"] = attention_json(hp);
    j["context_length"] = hp.n_ctx_train;
    j["rope"] = rope_json(hp);
    j["rms_norm_eps"] = hp.rms_eps;
    if (hp.num_nextn_predict_layers > 0) j["mtp_layers_ignored"] = hp.num_nextn_predict_layers;
    if (!hp.hf_quant_method.empty()) j["quantization"] = hp.hf_quant_method;
    return j;
}

ordered_json describe_json(const ModelDescription& d, const MemoryPlan& plan, KvType kv) {
    ordered_json j;
    j["path"] = d.path;
    j["format"] = model_format_name(d.format);
    j["name"] = d.name;
    j["architecture"] = d.hparams ? arch_name(d.hparams->arch) : d.architecture;
    j["source_architecture"] = d.architecture;
    j["has_weights"] = d.has_weights;
    if (d.hparams) j.update(model_json(*d.hparams, d));
    ordered_json types = ordered_json::array();
    for (const TensorTypeStats& t : d.tensor_types)
        types.push_back({{"type", t.type}, {"tensors", t.tensors}, {"elements", t.elements}, {"bytes", t.bytes}});
    j["tensor_types"] = types;
    if (d.tokenizer) {
        const TokenizerSummary& t = *d.tokenizer;
        j["tokenizer"] = {{"kind", t.kind},
                          {"pre", t.pre},
                          {"vocab_size", t.n_vocab},
                          {"merges", t.n_merges},
                          {"special_tokens", t.n_special},
                          {"bos_id", t.bos_id},
                          {"eos_id", t.eos_id},
                          {"add_bos", t.add_bos}};
    } else {
        j["tokenizer"] = nullptr;
    }
    j["chat_template"] = {{"present", d.has_chat_template}, {"builtin_fallback", d.builtin_template}};
    if (d.hparams) {
        j["memory"] = {{"weight_bytes", plan.weight_bytes},
                       {"kv_type", kv_type_name(kv)},
                       {"kv_bytes_per_token", plan.kv_bytes_per_token},
                       {"context", plan.n_ctx},
                       {"kv_bytes", plan.kv_bytes},
                       {"workspace_bytes", plan.workspace_bytes},
                       {"total_bytes", plan.total_bytes}};
        if (plan.kv_bytes_per_token_naive > 0) j["memory"]["kv_bytes_per_token_naive"] = plan.kv_bytes_per_token_naive;
    }
    j["file_bytes"] = d.file_bytes;
    j["warnings"] = d.warnings;
    return j;
}

void print_model_text(const HParams& hp, const ModelDescription& d) {
    std::printf("parameters      %s total, %s active per token (%s stored)\n", human_count(d.params.total).c_str(),
                human_count(d.params.active).c_str(), human_count(d.params_in_tensors).c_str());
    std::printf("layers          %lld (%lld leading dense, %lld MoE), hidden %lld, vocab %lld\n",
                static_cast<long long>(hp.n_layer),
                static_cast<long long>(hp.is_moe() ? hp.n_leading_dense : hp.n_layer),
                static_cast<long long>(hp.n_moe_layers()), static_cast<long long>(hp.n_embd),
                static_cast<long long>(hp.n_vocab));
    if (hp.is_moe()) {
        std::printf("experts         %lld routed (top-%lld, ff %lld) + %lld shared; dense ff %lld\n",
                    static_cast<long long>(hp.n_expert), static_cast<long long>(hp.n_expert_used),
                    static_cast<long long>(hp.n_ff_exp), static_cast<long long>(hp.n_expert_shared),
                    static_cast<long long>(hp.n_ff));
        std::printf("gating          %s%s, %s, groups %lld/%lld, %s, scale %g\n", gating_name(hp.gating),
                    hp.has_expert_bias ? " + score-correction bias" : "", hp.topk_method.c_str(),
                    static_cast<long long>(hp.n_group_used), static_cast<long long>(hp.n_group),
                    hp.expert_weights_norm ? "normalized" : "not normalized", hp.expert_weights_scale);
    } else {
        std::printf("feed-forward    dense, ff %lld\n", static_cast<long long>(hp.n_ff));
    }
    if (hp.is_mla())
        std::printf(
            "attention       MLA, %lld heads, q_lora %lld, kv_lora %lld, nope/rope/v %lld/%lld/%lld, "
            "kq_scale %.6f (%s)\n",
            static_cast<long long>(hp.n_head), static_cast<long long>(hp.q_lora_rank),
            static_cast<long long>(hp.kv_lora_rank), static_cast<long long>(hp.qk_nope_head_dim),
            static_cast<long long>(hp.qk_rope_head_dim), static_cast<long long>(hp.v_head_dim), hp.kq_scale(),
            weight_layout_name(hp.layout));
    else
        std::printf("attention       %s, %lld heads, %lld kv heads, head dim %lld\n",
                    hp.n_head_kv == hp.n_head ? "MHA" : "GQA", static_cast<long long>(hp.n_head),
                    static_cast<long long>(hp.n_head_kv), static_cast<long long>(hp.head_dim));
    std::printf("context         %lld; RoPE base %g, dim %lld, scaling %s", static_cast<long long>(hp.n_ctx_train),
                hp.rope_freq_base, static_cast<long long>(hp.n_rot), rope_scaling_name(hp.rope_scaling));
    if (hp.rope_scaling == RopeScaling::Yarn)
        std::printf(" (factor %g, original %lld, mscale_all_dim %g)", hp.rope_factor,
                    static_cast<long long>(hp.rope_original_ctx), hp.yarn_mscale_all_dim);
    std::printf("\n");
}

void print_text(const ModelDescription& d, const MemoryPlan& plan, KvType kv) {
    std::printf("%s\n", d.path.c_str());
    std::printf("format          %s, %s\n", model_format_name(d.format), human_bytes(d.file_bytes).c_str());
    std::printf("name            %s\n", d.name.c_str());
    const std::string arch = d.hparams ? arch_name(d.hparams->arch) : d.architecture;
    std::printf("architecture    %s%s\n", arch.empty() ? "none" : arch.c_str(),
                d.has_weights ? "" : " (tokenizer only, no weights)");
    if (d.hparams) print_model_text(*d.hparams, d);
    for (size_t i = 0; i < d.tensor_types.size(); ++i) {
        const TensorTypeStats& t = d.tensor_types[i];
        std::printf("%-16s%-24s %6llu tensors %12s  %s params\n", i == 0 ? "tensor types" : "", t.type.c_str(),
                    static_cast<unsigned long long>(t.tensors), human_bytes(t.bytes).c_str(),
                    human_count(t.elements).c_str());
    }
    if (d.tokenizer)
        std::printf("tokenizer       %s, pre-tokenizer %s, %lld tokens, %lld merges, bos %d, eos %d%s\n",
                    d.tokenizer->kind.c_str(), d.tokenizer->pre.c_str(), static_cast<long long>(d.tokenizer->n_vocab),
                    static_cast<long long>(d.tokenizer->n_merges), d.tokenizer->bos_id, d.tokenizer->eos_id,
                    d.tokenizer->add_bos ? " (adds bos)" : "");
    else
        std::printf("tokenizer       none\n");
    std::printf("chat template   %s\n",
                d.has_chat_template ? "present" : ("none (built-in fallback: " + d.builtin_template + ")").c_str());
    if (d.hparams)
        std::printf(
            "memory plan     weights %s; KV cache (%s) %s per token, %s for %lld tokens; workspace %s; "
            "total %s\n",
            human_bytes(plan.weight_bytes).c_str(), kv_type_name(kv), human_bytes(plan.kv_bytes_per_token).c_str(),
            human_bytes(plan.kv_bytes).c_str(), static_cast<long long>(plan.n_ctx),
            human_bytes(plan.workspace_bytes).c_str(), human_bytes(plan.total_bytes).c_str());
    for (const std::string& w : d.warnings) std::printf("warning         %s\n", w.c_str());
}

// Each device's share of the memory plan when the model would run on a GPU: the weights placed as
// device_placement.h places them (within the GPU's free memory less 1 GiB for activations and scratch), the KV
// cache and workspace on the GPU (mirrored in host memory), the rest of the weights in host memory.
struct DevicePlanView {
    std::string device;  // device name, or why the CPU would be used
    bool gpu = false;
    uint64_t free_bytes = 0;
    DevicePlacement placement;
};

DevicePlanView device_plan(const ModelSource& src, DeviceChoice choice, bool experts_on_cpu) {
    DevicePlanView v;
    BackendSelection sel = make_backend(choice, 1);
    v.device = sel.used == DeviceChoice::Cuda ? sel.backend->info().name : "cpu (" + sel.note + ")";
    v.gpu = sel.used == DeviceChoice::Cuda;
    if (!v.gpu) return v;
    v.free_bytes = sel.backend->info().memory_free_bytes;
    const uint64_t budget = v.free_bytes > (1ull << 30) ? v.free_bytes - (1ull << 30) : 0;
    plan_device_placement(src.tensors(), budget, experts_on_cpu, &v.placement);
    return v;
}

void print_device_plan(const DevicePlanView& v, const MemoryPlan& plan) {
    std::printf("device          %s\n", v.device.c_str());
    if (!v.gpu) return;
    std::printf(
        "device plan     GPU (%s free): weights %s (%lld tensors) + KV %s + workspace %s; host: weights %s "
        "(%lld tensors%s)\n",
        human_bytes(v.free_bytes).c_str(), human_bytes(v.placement.device_bytes).c_str(),
        static_cast<long long>(v.placement.device_tensors), human_bytes(plan.kv_bytes).c_str(),
        human_bytes(plan.workspace_bytes).c_str(), human_bytes(v.placement.host_bytes).c_str(),
        static_cast<long long>(v.placement.host_tensors),
        v.placement.experts_on_cpu ? ", routed experts kept on the CPU" : "");
}

bool parse_kv_type(const std::string& s, KvType& out) {
    if (s == "f32")
        out = KvType::F32;
    else if (s == "f16")
        out = KvType::F16;
    else if (s == "bf16")
        out = KvType::BF16;
    else if (s == "q8_0")
        out = KvType::Q8_0;
    else
        return false;
    return true;
}

}  // namespace

int cmd_info(int argc, char** argv) {
    const Args args(argc, argv, 2, {"--json", "--help", "-h"}, {"--ctx", "--kv", "--device", "--experts"});
    if (args.flag("--help") || args.flag("-h")) {
        std::printf(
            "usage: moewb info MODEL [--json] [--ctx N] [--kv f32|f16|bf16|q8_0]\n"
            "  MODEL  a GGUF file (any shard of a split model), a Hugging Face model folder,\n"
            "         or a tokenizer alone (vocab-only GGUF, tokenizer.json)\n"
            "  --ctx  context length of the memory plan (default: min(4096, trained context))\n"
            "  --kv   KV-cache type of the memory plan (default f32, what run, chat and bench use)\n"
            "  --device cpu|cuda|auto  also show each device's share of the plan (default cpu)\n"
            "  --experts gpu|cpu       with a GPU: plan the routed experts on it or in host memory\n");
        return 0;
    }
    if (!args.error().empty() || args.positional().size() != 1) {
        std::fprintf(stderr, "moewb info: %s\nusage: moewb info MODEL [--json] [--ctx N] [--kv TYPE]\n",
                     args.error().empty() ? "expected one MODEL" : args.error().c_str());
        return 2;
    }
    KvType kv = KvType::F32;  // the KV cache run, chat and bench make unless told otherwise
    if (auto s = args.value("--kv"); s && !parse_kv_type(*s, kv)) {
        std::fprintf(stderr, "moewb info: --kv must be f32, f16, bf16 or q8_0, not '%s'\n", s->c_str());
        return 2;
    }
    auto src = ModelSource::open(args.positional()[0]);
    if (!src) {
        std::fprintf(stderr, "moewb info: %s\n", src.error().c_str());
        return 1;
    }
    const ModelDescription& d = src->description();
    int64_t n_ctx = d.hparams && d.hparams->n_ctx_train > 0 ? std::min<int64_t>(4096, d.hparams->n_ctx_train) : 4096;
    if (auto s = args.value("--ctx")) {
        char* end = nullptr;
        n_ctx = std::strtoll(s->c_str(), &end, 10);
        if (end == s->c_str() || *end != '\0' || n_ctx <= 0) {
            std::fprintf(stderr, "moewb info: --ctx must be a positive integer, not '%s'\n", s->c_str());
            return 2;
        }
    }
    const MemoryPlan plan = plan_model_memory(d, kv, n_ctx);
    auto device = parse_device_choice(args.value("--device").value_or("cpu"));
    const std::string experts = args.value("--experts").value_or("gpu");
    if (!device.ok() || (experts != "gpu" && experts != "cpu")) {
        std::fprintf(stderr, "moewb info: %s\n",
                     device.ok() ? "--experts must be gpu or cpu" : device.status().message().c_str());
        return 2;
    }
    const bool show_device = *device != DeviceChoice::Cpu && d.has_weights;
    DevicePlanView dev;
    if (show_device) dev = device_plan(*src, *device, experts == "cpu");
    if (args.flag("--json")) {
        ordered_json j = describe_json(d, plan, kv);
        if (show_device) {
            j["device"] = dev.device;
            if (dev.gpu)
                j["device_plan"] = {{"gpu_free_bytes", dev.free_bytes},
                                    {"gpu_weight_bytes", dev.placement.device_bytes},
                                    {"gpu_kv_bytes", plan.kv_bytes},
                                    {"gpu_workspace_bytes", plan.workspace_bytes},
                                    {"host_weight_bytes", dev.placement.host_bytes},
                                    {"experts_on_cpu", dev.placement.experts_on_cpu}};
        }
        // Paths, names and tensor names are bytes, not necessarily UTF-8: replace what is not (U+FFFD)
        // instead of letting dump() throw.
        std::printf("%s\n", j.dump(2, ' ', false, ordered_json::error_handler_t::replace).c_str());
    } else {
        print_text(d, plan, kv);
        if (show_device) print_device_plan(dev, plan);
    }
    return 0;
}

}  // namespace moe::cli
