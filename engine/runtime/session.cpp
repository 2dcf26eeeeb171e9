#include "runtime/session.h"

#include <algorithm>
#include <string>

namespace moe {

Result<std::unique_ptr<Session>> Session::create(Model& model, const SessionOptions& options) {
    std::unique_ptr<Session> s(new Session(model, options));
    auto cache = KvCache::create(model.backend(), model.hparams(), options.n_ctx, options.kv_type);
    if (!cache.ok() && std::string(model.device_kind()) == "cuda") {
        // No room for the cache on the GPU: the model moves to the CPU, where the cache is made instead.
        (void)model.switch_to_cpu("the KV cache does not fit on the GPU (" + cache.error() +
                                  "); the model moves to the CPU");
        cache = KvCache::create(model.backend(), model.hparams(), options.n_ctx, options.kv_type);
    }
    MOE_ASSIGN_OR_RETURN(s->m_cache, std::move(cache));
    s->m_trace.reset(static_cast<int32_t>(model.hparams().n_expert),
                     static_cast<int32_t>(model.hparams().n_expert_used), model.moe_layers());
    return s;
}

void Session::reset() {
    m_tokens.clear();
    m_cache->set_n_used(0);
    m_trace.truncate(0);
}

Status Session::run(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits) {
    const int64_t first = static_cast<int64_t>(m_tokens.size());
    if (first + static_cast<int64_t>(tokens.size()) > m_cache->n_ctx())
        return Status::error("the context is full: " + std::to_string(first + tokens.size()) +
                             " tokens do not fit in a context of " + std::to_string(m_cache->n_ctx()) + " tokens");
    // The model moved to another backend since the cache was made (a GPU failure): rebuild it there first.
    if (m_cache->backend() != &m_model.backend()) MOE_RETURN_IF_ERROR(rebuild_cache());
    RoutingCallback record;
    if (m_options.record_routing && !m_model.moe_layers().empty()) {
        m_trace.truncate(first);
        const int64_t row0 = m_trace.append_rows(tokens, static_cast<int32_t>(first));
        record = [this, row0](int32_t slot, int64_t begin, int64_t n, const int32_t* ids, const float* w) {
            m_trace.record(row0 + begin, n, slot, ids, w);
        };
    }
    const uint64_t generation = m_model.backend_generation();
    Status s =
        m_model.forward(*m_cache, tokens, static_cast<int32_t>(first), all_logits, logits, record ? &record : nullptr);
    if (!s.ok() && m_model.backend_generation() != generation) {
        // The model moved to the CPU (a GPU failure): rebuild the cache there, recompute the history, retry.
        s = rebuild_cache();
        if (s.ok())
            s = m_model.forward(*m_cache, tokens, static_cast<int32_t>(first), all_logits, logits,
                                record ? &record : nullptr);
    }
    if (!s.ok()) {
        // The cache rows past `first` are unusable; keep the state consistent with what it holds.
        m_cache->set_n_used(first);
        m_trace.truncate(first);
        return s;
    }
    m_tokens.insert(m_tokens.end(), tokens.begin(), tokens.end());
    return {};
}

Status Session::rebuild_cache() {
    MOE_ASSIGN_OR_RETURN(m_cache,
                         KvCache::create(m_model.backend(), m_model.hparams(), m_options.n_ctx, m_options.kv_type));
    if (m_tokens.empty()) return {};
    std::vector<float> logits;
    return m_model.forward(*m_cache, m_tokens, 0, false, logits);
}

Status Session::sync(std::span<const int32_t> tokens, std::vector<float>& logits, int64_t* reused) {
    if (tokens.empty()) return Status::error("the prompt is empty");
    if (static_cast<int64_t>(tokens.size()) > m_cache->n_ctx())
        return Status::error("the prompt has " + std::to_string(tokens.size()) + " tokens but the context holds " +
                             std::to_string(m_cache->n_ctx()));
    size_t common = 0;
    while (common < m_tokens.size() && common < tokens.size() && m_tokens[common] == tokens[common]) ++common;
    // The last prompt token is always computed: its logits are the answer.
    common = std::min(common, tokens.size() - 1);
    m_tokens.resize(common);
    m_cache->set_n_used(static_cast<int64_t>(common));
    if (reused) *reused = static_cast<int64_t>(common);
    return run(tokens.subspan(common), false, logits);
}

Status Session::append(int32_t token, std::vector<float>& logits) {
    const int32_t one[] = {token};
    return run(one, false, logits);
}

Status Session::append_all_logits(std::span<const int32_t> tokens, std::vector<float>& logits) {
    if (tokens.empty()) return Status::error("no tokens to evaluate");
    return run(tokens, true, logits);
}

}  // namespace moe
