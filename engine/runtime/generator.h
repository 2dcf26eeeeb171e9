// Generation: prompt processing through a Session, then sampling one token at a time. Each token is streamed
// through a callback as soon as it is sampled, with the text that became visible (UTF-8 completed, stop strings
// held back). Cancellation is checked between any two tokens. Timings are measured, not estimated.
#pragma once

#include "core/status.h"
#include "runtime/sampler.h"
#include "runtime/session.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace moe {

struct GenerateOptions {
    SamplerParams sampler;
    int32_t max_tokens = 256;            // <= 0: until EOS, a stop string or the context is full
    std::vector<std::string> stop;       // stop strings (not included in the output)
    bool stop_at_eog = true;             // stop at the EOS / end-of-generation tokens
    bool render_special = false;         // include control tokens' text in the streamed text
};

enum class FinishReason { Eos, Stop, Length, ContextFull, Cancelled };
const char* finish_reason_name(FinishReason reason);  // "eos", "stop", "length", "context_full", "cancelled"

struct TokenEvent {
    int32_t token = -1;
    std::string text;       // text that became visible with this token (may be empty)
    int64_t index = 0;      // 0 for the first generated token
    double latency_ms = 0;  // time since the previous token (for the first: since generate() started)
};
// Return false to stop generating (the same as cancelling).
using TokenCallback = std::function<bool(const TokenEvent&)>;

struct GenerateResult {
    std::vector<int32_t> tokens;   // generated ids (EOS not included)
    std::string text;              // the visible text
    FinishReason finish = FinishReason::Length;
    int64_t prompt_tokens = 0;
    int64_t prompt_tokens_reused = 0;  // taken from the cache (prefix reuse)
    double prompt_ms = 0;              // prompt processing of the tokens not reused
    double ttft_ms = 0;                // generate() start to the first token
    double generation_ms = 0;          // from the first token to the last
    std::vector<double> token_latencies_ms;
    double prompt_tokens_per_s() const;
    double tokens_per_s() const;       // generated tokens after the first / generation_ms
    double ms_per_token() const;
};

// Runs `prompt` (the whole conversation so far) through `session` and samples a reply.
// cancel (optional) is polled between tokens. Errors: the prompt does not fit, a failing forward pass.
Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                                const TokenCallback& on_token = {}, const std::atomic<bool>* cancel = nullptr);

}  // namespace moe
