#include "runtime/generator.h"

#include "tokenizer/tokenizer.h"

#include <chrono>

namespace moe {

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}
}  // namespace

const char* finish_reason_name(FinishReason reason) {
    switch (reason) {
        case FinishReason::Eos: return "eos";
        case FinishReason::Stop: return "stop";
        case FinishReason::Length: return "length";
        case FinishReason::ContextFull: return "context_full";
        case FinishReason::Cancelled: return "cancelled";
    }
    return "?";
}

double GenerateResult::prompt_tokens_per_s() const {
    const int64_t n = prompt_tokens - prompt_tokens_reused;
    return prompt_ms > 0 ? 1000.0 * double(n) / prompt_ms : 0.0;
}
double GenerateResult::tokens_per_s() const {
    return generation_ms > 0 && tokens.size() > 1 ? 1000.0 * double(tokens.size() - 1) / generation_ms : 0.0;
}
double GenerateResult::ms_per_token() const {
    return tokens.size() > 1 ? generation_ms / double(tokens.size() - 1) : 0.0;
}

Result<GenerateResult> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& options,
                                const TokenCallback& on_token, const std::atomic<bool>* cancel) {
    MOE_RETURN_IF_ERROR(validate_sampler_params(options.sampler));
    const Tokenizer& tok = session.model().tokenizer();
    GenerateResult r;
    r.prompt_tokens = static_cast<int64_t>(prompt.size());
    const Clock::time_point t0 = Clock::now();
    std::vector<float> logits;
    MOE_RETURN_IF_ERROR(session.sync(prompt, logits, &r.prompt_tokens_reused));
    r.prompt_ms = ms_since(t0);

    Sampler sampler(options.sampler);
    StreamDecoder decoder(tok, options.render_special);
    StopStringMatcher stops(options.stop);
    std::vector<int32_t> history(prompt.begin(), prompt.end());
    Clock::time_point last = t0;
    Clock::time_point first_token_time = t0;
    const int64_t n_vocab_tok = tok.n_vocab();
    for (int64_t i = 0;; ++i) {
        if (cancel && cancel->load()) {
            r.finish = FinishReason::Cancelled;
            break;
        }
        // Rows past the tokenizer's vocabulary (padding of the embedding) are never sampled.
        const std::span<const float> row(logits.data(), static_cast<size_t>(n_vocab_tok));
        const int32_t id = sampler.sample(row, history);
        const Clock::time_point now = Clock::now();
        TokenEvent ev;
        ev.token = id;
        ev.index = i;
        ev.latency_ms = std::chrono::duration<double, std::milli>(now - last).count();
        last = now;
        if (i == 0) {
            r.ttft_ms = ms_since(t0);
            first_token_time = now;
        }
        r.token_latencies_ms.push_back(ev.latency_ms);
        if (options.stop_at_eog && tok.is_eog(id)) {
            r.finish = FinishReason::Eos;
            break;
        }
        r.tokens.push_back(id);
        history.push_back(id);
        const StopStringMatcher::Output out = stops.push(decoder.push(id));
        ev.text = out.text;
        r.text += out.text;
        const bool keep_going = on_token ? on_token(ev) : true;
        if (out.stopped) {
            r.finish = FinishReason::Stop;
            break;
        }
        if (!keep_going) {
            r.finish = FinishReason::Cancelled;
            break;
        }
        if (options.max_tokens > 0 && static_cast<int64_t>(r.tokens.size()) >= options.max_tokens) {
            r.finish = FinishReason::Length;
            break;
        }
        if (static_cast<int64_t>(session.tokens().size()) >= session.n_ctx()) {
            r.finish = FinishReason::ContextFull;
            break;
        }
        MOE_RETURN_IF_ERROR(session.append(id, logits));
    }
    if (r.finish != FinishReason::Stop) {
        std::string tail = stops.push(decoder.flush()).text;
        tail += stops.flush();
        if (!tail.empty()) {
            r.text += tail;
            if (on_token) {
                TokenEvent ev;
                ev.text = tail;
                ev.index = static_cast<int64_t>(r.tokens.size());
                on_token(ev);
            }
        }
    }
    r.generation_ms = r.tokens.empty() ? 0.0 : std::chrono::duration<double, std::milli>(last - first_token_time).count();
    return r;
}

}  // namespace moe
