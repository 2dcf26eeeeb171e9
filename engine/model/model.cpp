#include "model/model.h"

#include "backend/profiling_backend.h"
#include "model/architecture.h"
#include "runtime/kv_cache.h"
#include "template/chat_template.h"

#include <algorithm>
#include <string>

namespace moe {

namespace {

// Touches one byte per page of every tensor, in file order, reporting progress every 64 MiB.
Status prefault_weights(const ModelSource& source, const ModelLoadOptions& options) {
    uint64_t total = 0;
    for (const WeightTensor& t : source.tensors()) total += t.n_bytes;
    uint64_t done = 0;
    uint64_t next_report = 0;
    volatile uint8_t sink = 0;
    for (const WeightTensor& t : source.tensors()) {
        for (uint64_t off = 0; off < t.n_bytes; off += 4096) {
            sink = static_cast<uint8_t>(sink + t.data[off]);
            if (done + off >= next_report) {
                next_report = done + off + (64ull << 20);
                if (options.progress && !options.progress(done + off, total))
                    return Status::error(source.description().path + ": loading cancelled");
            }
        }
        done += t.n_bytes;
    }
    if (options.progress && !options.progress(total, total))
        return Status::error(source.description().path + ": loading cancelled");
    return {};
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const ModelLoadOptions& options) {
    MOE_ASSIGN_OR_RETURN(ModelSource source, ModelSource::open(path));
    const ModelDescription& desc = source.description();
    if (!desc.has_weights || !desc.hparams) return Status::error(path + ": holds a tokenizer but no model weights");
    if (!source.vocab()) return Status::error(path + ": no tokenizer found (tokenizer.ggml.* keys or tokenizer.json)");
    std::unique_ptr<Model> m(new Model(std::move(source)));
    m->m_options = options;
    m->m_hp = *m->m_source.description().hparams;
    const HParams& hp = m->m_hp;
    MOE_RETURN_IF_ERROR(validate_hparams(hp));
    const Status arch_ok = architecture_for(hp.arch).check(hp);
    if (!arch_ok.ok()) return Status::error(path + ": " + arch_ok.message());
    MOE_ASSIGN_OR_RETURN(m->m_weights, bind_model_weights(m->m_source, hp));
    MOE_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::create(*m->m_source.vocab()));
    m->m_tokenizer.emplace(std::move(tok));
    if (m->m_tokenizer->n_vocab() > m->n_vocab())
        return Status::error(path + ": the tokenizer has " + std::to_string(m->m_tokenizer->n_vocab()) +
                             " tokens but the output layer only " + std::to_string(m->n_vocab()));
    m->m_chat_template = m->m_tokenizer->chat_template();
    if (m->m_chat_template.empty()) {
        auto builtin = builtin_chat_template(m->m_source.description().builtin_template);
        if (builtin.ok()) m->m_chat_template = builtin.value();
    }
    if (options.prefault) {
        MOE_RETURN_IF_ERROR(prefault_weights(m->m_source, options));
    } else if (options.progress && !options.progress(1, 1)) {
        return Status::error(path + ": loading cancelled");
    }
    MOE_RETURN_IF_ERROR(m->select_backend(options));
    if (options.profile) m->m_backend = make_profiling_backend(std::move(m->m_backend), *options.profile);
    m->m_moe_slot.assign(static_cast<size_t>(hp.n_layer), -1);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        if (!hp.is_moe_layer(il)) continue;
        m->m_moe_slot[il] = static_cast<int32_t>(m->m_moe_layers.size());
        m->m_moe_layers.push_back(static_cast<int32_t>(il));
    }
    m->m_active = active_weights_per_token(m->m_weights, hp);
    return m;
}

Status Model::select_backend(const ModelLoadOptions& options) {
    BackendSelection sel = make_backend(options.device, options.n_threads);
    m_device_note = sel.note;
    if (sel.used != DeviceChoice::Cuda) {
        m_backend = std::move(sel.backend);
        m_device_name = m_backend->info().name;
        return {};
    }
    auto offload = make_offload_backend(std::move(sel.backend), make_cpu_backend(options.n_threads));
    const bool tied = m_weights.output.data == m_weights.tok_embd.data;
    MOE_RETURN_IF_ERROR(place_model_weights(*offload, m_source, options.experts_on_cpu, tied, &m_placement));
    m_device_name = offload->device().info().name;
    m_offload = offload.get();
    m_on_gpu = true;
    m_backend = std::move(offload);
    return {};
}

std::string Model::device_note() const {
    if (m_offload && !m_offload->note().empty()) return m_offload->note();
    return m_device_note;
}

Status Model::forward(KvCache& cache, std::span<const int32_t> tokens, int32_t first_pos, bool all_logits,
                      std::vector<float>& logits, const RoutingCallback* on_routing) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (tokens.empty()) return Status::error("forward: no tokens");
    if (first_pos < 0 || first_pos + static_cast<int64_t>(tokens.size()) > cache.n_ctx())
        return Status::error("the context is full: " + std::to_string(first_pos + tokens.size()) +
                             " tokens do not fit in a context of " + std::to_string(cache.n_ctx()));
    const Architecture& arch = architecture_for(m_hp.arch);
    const int64_t n_vocab = this->n_vocab();
    const int64_t total = static_cast<int64_t>(tokens.size());
    const int64_t ubatch = std::max<int64_t>(1, m_options.n_ubatch);
    logits.clear();
    if (all_logits) logits.reserve(static_cast<size_t>(total * n_vocab));
    for (int64_t begin = 0; begin < total; begin += ubatch) {
        const int64_t n = std::min(ubatch, total - begin);
        const int32_t batch_pos = first_pos + static_cast<int32_t>(begin);
        ForwardState st{*m_backend, m_hp,      m_weights,  cache, m_buffers,
                        n,          batch_pos, on_routing, begin, rope_params(m_hp, m_weights),
                        m_moe_slot};
        m_buffers.pos.resize(static_cast<size_t>(n));
        for (int64_t t = 0; t < n; ++t) m_buffers.pos[t] = st.first_pos + static_cast<int32_t>(t);
        MOE_RETURN_IF_ERROR(embed_tokens(st, tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(n))));
        for (int64_t il = 0; il < m_hp.n_layer; ++il) MOE_RETURN_IF_ERROR(arch.layer(st, il));
        const bool last_batch = begin + n == total;
        if (all_logits || last_batch) {
            MOE_RETURN_IF_ERROR(output_logits(st, all_logits, m_batch_logits));
            logits.insert(logits.end(), m_batch_logits.begin(), m_batch_logits.end());
        }
        cache.set_n_used(st.first_pos + n);
    }
    return m_backend->synchronize();
}

}  // namespace moe
