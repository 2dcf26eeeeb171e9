#include "cli_model.h"

#include "core/mapped_file.h"
#include "runtime/chat.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace moe::cli {

const std::set<std::string> k_model_options = {"-t", "--threads", "--ctx", "--kv", "--device", "--experts"};
const std::set<std::string> k_sampling_options = {"--temp",
                                                  "--top-k",
                                                  "--top-p",
                                                  "--min-p",
                                                  "--repeat-penalty",
                                                  "--repeat-last-n",
                                                  "--frequency-penalty",
                                                  "--presence-penalty",
                                                  "--seed"};

std::set<std::string> merge(std::set<std::string> a, const std::set<std::string>& b) {
    a.insert(b.begin(), b.end());
    return a;
}

namespace {

Result<double> real_option(const Args& args, const std::string& name, double fallback) {
    const auto v = args.value(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double d = std::strtod(v->c_str(), &end);
    if (end == v->c_str() || *end != '\0') return Status::error(name + ": '" + *v + "' is not a number");
    return d;
}

}  // namespace

Result<int64_t> int_option(const Args& args, const std::string& name, int64_t fallback, int64_t min, int64_t max) {
    const auto v = args.value(name);
    if (!v) return fallback;
    char* end = nullptr;
    const long long n = std::strtoll(v->c_str(), &end, 10);
    if (end == v->c_str() || *end != '\0') return Status::error(name + ": '" + *v + "' is not an integer");
    if (n < min || n > max)
        return Status::error(name + ": " + *v + " is outside [" + std::to_string(min) + ", " + std::to_string(max) +
                             "]");
    return static_cast<int64_t>(n);
}

Result<std::unique_ptr<Model>> load_model(const Args& args, const std::string& path, OpProfile* profile) {
    ModelLoadOptions opt;
    opt.profile = profile;
    // Every weight page mapped before the first token (timings then never include page faults).
    opt.prefault = true;
    auto t = args.value("-t") ? int_option(args, "-t", 0, 1, 1024) : int_option(args, "--threads", 0, 1, 1024);
    if (!t.ok()) return t.status();
    opt.n_threads = static_cast<int>(*t);
    auto device = parse_device_choice(args.value("--device").value_or("cpu"));
    if (!device.ok()) return device.status();
    opt.device = *device;
    const std::string experts = args.value("--experts").value_or("gpu");
    if (experts != "gpu" && experts != "cpu") return Status::error("--experts: '" + experts + "' is not gpu or cpu");
    opt.experts_on_cpu = experts == "cpu";
    auto model = Model::load(path, opt);
    if (model.ok() && !(*model)->device_note().empty())
        std::fprintf(stderr, "moewb: %s\n", (*model)->device_note().c_str());
    return model;
}

Result<int64_t> context_length(const Args& args, int64_t fallback) {
    return int_option(args, "--ctx", fallback, 1, 1 << 24);
}

Result<KvType> kv_type(const Args& args) {
    const std::string v = args.value("--kv").value_or("f32");
    if (v == "f32") return KvType::F32;
    if (v == "f16") return KvType::F16;
    return Status::error("--kv: '" + v + "' is not a KV cache type (f32, f16)");
}

Result<SamplerParams> sampler_params(const Args& args) {
    SamplerParams p;
    MOE_ASSIGN_OR_RETURN(double temp, real_option(args, "--temp", p.temperature));
    MOE_ASSIGN_OR_RETURN(int64_t top_k, int_option(args, "--top-k", p.top_k, -1, 1 << 30));
    MOE_ASSIGN_OR_RETURN(double top_p, real_option(args, "--top-p", p.top_p));
    MOE_ASSIGN_OR_RETURN(double min_p, real_option(args, "--min-p", p.min_p));
    MOE_ASSIGN_OR_RETURN(double rep, real_option(args, "--repeat-penalty", p.repeat_penalty));
    MOE_ASSIGN_OR_RETURN(int64_t last_n, int_option(args, "--repeat-last-n", p.repeat_last_n, -1, 1 << 30));
    MOE_ASSIGN_OR_RETURN(double freq, real_option(args, "--frequency-penalty", p.frequency_penalty));
    MOE_ASSIGN_OR_RETURN(double pres, real_option(args, "--presence-penalty", p.presence_penalty));
    MOE_ASSIGN_OR_RETURN(int64_t seed, int_option(args, "--seed", 0, 0, INT64_MAX));
    p.temperature = static_cast<float>(temp);
    p.top_k = static_cast<int32_t>(top_k);
    p.top_p = static_cast<float>(top_p);
    p.min_p = static_cast<float>(min_p);
    p.repeat_penalty = static_cast<float>(rep);
    p.repeat_last_n = static_cast<int32_t>(last_n);
    p.frequency_penalty = static_cast<float>(freq);
    p.presence_penalty = static_cast<float>(pres);
    p.seed = static_cast<uint64_t>(seed);
    MOE_RETURN_IF_ERROR(validate_sampler_params(p));
    return p;
}

Result<std::vector<int32_t>> prompt_tokens(const Args& args, const Model& model) {
    const int sources = (args.value("-p") ? 1 : 0) + (args.value("--tokens") ? 1 : 0) + (args.value("--file") ? 1 : 0);
    if (sources != 1)
        return Status::error("give the prompt with exactly one of -p TEXT, --tokens 1,2,3 or --file PATH");
    if (const auto list = args.value("--tokens")) {
        std::vector<int32_t> ids;
        size_t pos = 0;
        while (pos <= list->size()) {
            const size_t comma = std::min(list->find(',', pos), list->size());
            const std::string item = list->substr(pos, comma - pos);
            char* end = nullptr;
            const long v = std::strtol(item.c_str(), &end, 10);
            if (item.empty() || *end != '\0') return Status::error("--tokens: '" + item + "' is not a token id");
            if (v < 0 || v >= model.n_vocab())
                return Status::error("--tokens: id " + item + " is outside the vocabulary (0.." +
                                     std::to_string(model.n_vocab() - 1) + ")");
            ids.push_back(static_cast<int32_t>(v));
            pos = comma + 1;
        }
        return ids;
    }
    std::string text;
    if (const auto p = args.value("-p")) {
        text = *p;
    } else {
        MOE_ASSIGN_OR_RETURN(text, read_text_file(*args.value("--file")));
    }
    if (args.flag("--chat")) return chat_prompt_tokens(model, {{"user", text}}, true);
    return model.tokenizer().encode(text, true, !args.flag("--no-special"));
}

}  // namespace moe::cli
