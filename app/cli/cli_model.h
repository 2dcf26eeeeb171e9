// What the model-running subcommands (run, chat, logits, routing, bench) share: loading a model with a thread
// count, reading the prompt (-p TEXT | --tokens 1,2,3 | --file PATH), and the sampling options.
#pragma once

#include "cli_args.h"

#include "core/status.h"
#include "model/model.h"
#include "model/model_stats.h"
#include "runtime/sampler.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace moe::cli {

// Options every model command accepts: -t/--threads, --ctx, --kv, --device cpu|cuda|auto (default cpu; the
// CPU with a note on stderr when CUDA is not available), --experts gpu|cpu (with a GPU: where routed experts live).
extern const std::set<std::string> k_model_options;
// Sampling options: --temp --top-k --top-p --min-p --repeat-penalty --repeat-last-n --frequency-penalty
// --presence-penalty --seed.
extern const std::set<std::string> k_sampling_options;
std::set<std::string> merge(std::set<std::string> a, const std::set<std::string>& b);

// `profile` (optional): every backend op is timed into it (moewb bench --profile).
Result<std::unique_ptr<Model>> load_model(const Args& args, const std::string& path, OpProfile* profile = nullptr);
// Context length (--ctx, default `fallback`) and KV type (--kv f32|f16, default f32).
Result<int64_t> context_length(const Args& args, int64_t fallback);
Result<KvType> kv_type(const Args& args);
Result<SamplerParams> sampler_params(const Args& args);
// The prompt's tokens: --tokens "1,2,3" as given; -p TEXT / --file PATH encoded with BOS as the model asks and
// special-token text parsed unless --no-special; with --chat the text is a user message rendered with the template.
Result<std::vector<int32_t>> prompt_tokens(const Args& args, const Model& model);
// Parses an integer option; errors name the option.
Result<int64_t> int_option(const Args& args, const std::string& name, int64_t fallback, int64_t min, int64_t max);

}  // namespace moe::cli
