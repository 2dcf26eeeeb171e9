// One sequence's state: the KV cache, the tokens it holds, and the routing trace of those tokens.
// sync() makes the cache hold a given token list, reusing the longest common prefix with what it holds (a
// multi-turn chat re-sends the whole conversation; only the new turn is computed).
#pragma once

#include "core/status.h"
#include "model/model.h"
#include "model/model_stats.h"
#include "runtime/kv_cache.h"
#include "runtime/routing_trace.h"

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace moe {

struct SessionOptions {
    int64_t n_ctx = 4096;  // positions of the KV cache
    KvType kv_type = KvType::F32;
    bool record_routing = true;  // keep the routing trace of every token
};

class Session {
public:
    static Result<std::unique_ptr<Session>> create(Model& model, const SessionOptions& options);

    Model& model() { return m_model; }
    const SessionOptions& options() const { return m_options; }
    int64_t n_ctx() const { return m_cache->n_ctx(); }
    const std::vector<int32_t>& tokens() const { return m_tokens; }
    const RoutingTrace& trace() const { return m_trace; }
    RoutingTrace& trace() { return m_trace; }
    void set_record_routing(bool on) { m_options.record_routing = on; }

    // Makes the cache hold exactly `tokens` and returns the logits after the last one ([n_vocab]).
    // reused (optional) receives how many leading tokens were already in the cache.
    // Errors: an empty list, or more tokens than the context holds ("the prompt has N tokens but the context
    // holds M").
    Status sync(std::span<const int32_t> tokens, std::vector<float>& logits, int64_t* reused = nullptr);
    // Appends one token (a generated one) and returns the logits after it.
    Status append(int32_t token, std::vector<float>& logits);
    // Logits of every position of `tokens` appended after what the cache holds ([n][n_vocab]).
    Status append_all_logits(std::span<const int32_t> tokens, std::vector<float>& logits);
    // Forgets everything (the next sync computes from scratch).
    void reset();

private:
    Session(Model& model, const SessionOptions& options) : m_model(model), m_options(options) {}
    Status run(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits);
    // A new cache on the model's (new) backend holding the tokens so far.
    Status rebuild_cache();

    Model& m_model;
    SessionOptions m_options;
    std::unique_ptr<KvCache> m_cache;
    std::vector<int32_t> m_tokens;
    RoutingTrace m_trace;
};

}  // namespace moe
