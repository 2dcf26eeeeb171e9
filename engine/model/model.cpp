#include "model/model.h"

#include "backend/profiling_backend.h"
#include "core/mapped_file.h"
#include "model/architecture.h"
#include "runtime/kv_cache.h"
#include "template/chat_template.h"

#include <algorithm>
#include <string>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace moe {

namespace {

// Hands the heap's free memory back to the system (glibc keeps what was freed mapped, and resident).
void release_free_heap() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

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
    // The tokenizer first, from the vocabulary moved out of the source, and the heap its construction used and freed
    // handed back to the system, before the weights come in: the copies it makes of ~100k token strings would
    // otherwise add to the peak resident memory while generating (medium Q8_0, --ctx 256, an 825 MiB file: 912 ->
    // 903 MiB; with the GGUF metadata freed by ModelSource and the tokenizer's tables viewing the token texts: 866).
    {
        MOE_ASSIGN_OR_RETURN(Tokenizer tok, Tokenizer::create(std::move(*m->m_source.take_vocab())));
        m->m_tokenizer.emplace(std::move(tok));
    }
    release_free_heap();
    // Prefaulted before the weights are bound: binding reads the small vectors (norms, biases) scattered through the
    // file, and the read-ahead around them left the blocks after them in small folios when the prefault came after
    // (medium Q8_0 from a cold cache: 21 of 412 blocks of 2 MiB mapped with 4 KiB pages; prefaulted first: none).
    // Read once more in order when part of the map still came with 4 KiB pages (MappedFile::refresh_small_pages).
    if (options.prefault) {
        MOE_RETURN_IF_ERROR(prefault_weights(m->m_source, options));
        if (MappedFile::refresh_small_pages(path)) MOE_RETURN_IF_ERROR(prefault_weights(m->m_source, options));
    } else if (options.progress && !options.progress(1, 1)) {
        return Status::error(path + ": loading cancelled");
    }
    MOE_ASSIGN_OR_RETURN(m->m_weights, bind_model_weights(m->m_source, hp));
    if (m->m_tokenizer->n_vocab() > m->n_vocab())
        return Status::error(path + ": the tokenizer has " + std::to_string(m->m_tokenizer->n_vocab()) +
                             " tokens but the output layer only " + std::to_string(m->n_vocab()));
    m->m_chat_template = m->m_tokenizer->chat_template();
    if (m->m_chat_template.empty()) {
        auto builtin = builtin_chat_template(m->m_source.description().builtin_template);
        if (builtin.ok()) m->m_chat_template = builtin.value();
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
    MOE_RETURN_IF_ERROR(place_model_weights(*offload, m_source, options.experts_on_cpu, &m_placement));
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

Status Model::switch_to_cpu(const std::string& why) {
    std::lock_guard<std::mutex> lock(m_mutex);
    return switch_to_cpu_locked(why);
}

Status Model::switch_to_cpu_locked(const std::string& why) {
    m_retired_backends.push_back(std::move(m_backend));  // caches made by it may still hold its buffers
    m_backend = make_cpu_backend(m_options.n_threads);
    if (m_options.profile) m_backend = make_profiling_backend(std::move(m_backend), *m_options.profile);
    m_buffers.clear();
    m_device_note = why;
    m_device_name = m_backend->info().name;
    m_offload = nullptr;
    m_on_gpu = false;
    ++m_backend_generation;
    return Status::error(why);
}

Status Model::run_batch(ForwardState& st, std::span<const int32_t> tokens, bool logits_needed, bool all_logits) {
    const Architecture& arch = architecture_for(m_hp.arch);
    MOE_RETURN_IF_ERROR(embed_tokens(st, tokens));
    for (int64_t il = 0; il < m_hp.n_layer; ++il) MOE_RETURN_IF_ERROR(arch.layer(st, il));
    return logits_needed ? output_logits(st, all_logits) : Status();
}

// A one-token step whose logits are wanted: replayed when recorded (CUDA graph), recorded on its second run
// (the first sizes every buffer), run plainly when the backend cannot record it.
Status Model::run_decode_step(ForwardState& st, std::span<const int32_t> tokens, const KvCache& cache) {
    const uint64_t key = reinterpret_cast<uintptr_t>(&cache) ^ (m_buffers.generation * 0x9E3779B97F4A7C15ull);
    if (m_record_failed.count(key)) return run_batch(st, tokens, true, false);
    if (m_backend->replay(key)) return {};
    if (m_record_warm.insert(key).second) return run_batch(st, tokens, true, false);
    if (!m_backend->begin_record(key)) {
        m_record_failed.insert(key);
        return run_batch(st, tokens, true, false);
    }
    const uint64_t generation = m_buffers.generation;
    const Status s = run_batch(st, tokens, true, false);
    const Status recorded = m_backend->end_record();
    if (s.ok() && recorded.ok() && generation == m_buffers.generation && m_backend->replay(key)) return {};
    m_record_failed.insert(key);  // ops recorded are not run: run the step now
    return run_batch(st, tokens, true, false);
}

Status Model::forward(KvCache& cache, std::span<const int32_t> tokens, int32_t first_pos, bool all_logits,
                      std::vector<float>& logits, const RoutingCallback* on_routing) {
    std::lock_guard<std::mutex> lock(m_mutex);
    if (tokens.empty()) return Status::error("forward: no tokens");
    if (first_pos < 0 || first_pos + static_cast<int64_t>(tokens.size()) > cache.n_ctx())
        return Status::error("the context is full: " + std::to_string(first_pos + tokens.size()) +
                             " tokens do not fit in a context of " + std::to_string(cache.n_ctx()));
    if (cache.backend() != m_backend.get())
        return Status::error(
            "this KV cache was made with another backend than the model's (the model moved to "
            "the CPU after a GPU failure?): create a new one");
    const Status s = forward_batches(cache, tokens, first_pos, all_logits, logits, on_routing);
    if (!s.ok() && m_offload && m_offload->failed()) return switch_to_cpu_locked(m_offload->note());
    return s;
}

Status Model::forward_batches(KvCache& cache, std::span<const int32_t> tokens, int32_t first_pos, bool all_logits,
                              std::vector<float>& logits, const RoutingCallback* on_routing) {
    const int64_t n_vocab = this->n_vocab();
    const int64_t total = static_cast<int64_t>(tokens.size());
    const int64_t ubatch = std::max<int64_t>(1, m_options.n_ubatch);
    const int64_t k = m_hp.n_expert_used;
    const int64_t n_moe = static_cast<int64_t>(m_moe_layers.size());
    const bool record_routing = on_routing && *on_routing && n_moe > 0;
    // One row (the last token's) is written over whatever the vector holds: a decode step's 400 KB (a 100k
    // vocabulary) is not zeroed first. All rows are appended.
    if (all_logits) {
        logits.clear();
        logits.reserve(static_cast<size_t>(total * n_vocab));
    } else {
        logits.resize(static_cast<size_t>(n_vocab));
    }
    std::vector<int32_t> host_pos, host_ids;
    std::vector<float> host_weights;
    for (int64_t begin = 0; begin < total; begin += ubatch) {
        const int64_t n = std::min(ubatch, total - begin);
        const int32_t batch_pos = first_pos + static_cast<int32_t>(begin);
        const std::span<const int32_t> batch = tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(n));
        ForwardState st{*m_backend, m_hp,      m_weights,  cache, m_buffers,
                        n,          batch_pos, on_routing, begin, rope_params(m_hp, m_weights),
                        m_moe_slot};
        // The batch's inputs in backend memory: positions, token ids; room for every MoE layer's routing.
        host_pos.resize(static_cast<size_t>(n));
        for (int64_t t = 0; t < n; ++t) host_pos[t] = batch_pos + static_cast<int32_t>(t);
        MOE_ASSIGN_OR_RETURN(int32_t * pos, grow(st, m_buffers.pos, n));
        MOE_ASSIGN_OR_RETURN(int32_t * ids, grow(st, m_buffers.tokens, n));
        if (n_moe > 0) {
            MOE_RETURN_IF_ERROR(grow(st, m_buffers.ids, n_moe * n * k).status());
            MOE_RETURN_IF_ERROR(grow(st, m_buffers.weights, n_moe * n * k).status());
        }
        MOE_RETURN_IF_ERROR(m_backend->upload(pos, host_pos.data(), static_cast<uint64_t>(n) * 4));
        MOE_RETURN_IF_ERROR(m_backend->upload(ids, batch.data(), static_cast<uint64_t>(n) * 4));
        const bool last_batch = begin + n == total;
        const bool logits_needed = all_logits || last_batch;
        const int64_t rows = all_logits ? n : 1;
        const size_t at = all_logits ? logits.size() : 0;
        if (logits_needed && all_logits) logits.resize(at + static_cast<size_t>(rows * n_vocab));
        // In host memory the head writes the caller's rows itself: medium Q8_0 decode, 2 threads, tokens alternating
        // within a run, -10 / -17 us per token against the copy (A/A -6 / 0).
        const bool direct = logits_needed && m_backend->host_memory();
        st.logits_out = direct ? logits.data() + at : nullptr;
        if (total == 1 && !all_logits && !direct) {
            MOE_RETURN_IF_ERROR(run_decode_step(st, batch, cache));
        } else {
            MOE_RETURN_IF_ERROR(run_batch(st, batch, logits_needed, all_logits));
        }
        if (logits_needed && !direct)
            MOE_RETURN_IF_ERROR(m_backend->download(logits.data() + at, m_buffers.logits.data(),
                                                    static_cast<uint64_t>(rows * n_vocab) * 4));
        if (record_routing) {
            host_ids.resize(static_cast<size_t>(n_moe * n * k));
            host_weights.resize(host_ids.size());
            MOE_RETURN_IF_ERROR(m_backend->download(host_ids.data(), m_buffers.ids.data(), host_ids.size() * 4));
            MOE_RETURN_IF_ERROR(
                m_backend->download(host_weights.data(), m_buffers.weights.data(), host_ids.size() * 4));
            for (int64_t slot = 0; slot < n_moe; ++slot)
                (*on_routing)(static_cast<int32_t>(slot), begin, n, host_ids.data() + slot * n * k,
                              host_weights.data() + slot * n * k);
        }
        cache.set_n_used(batch_pos + n);
    }
    return m_backend->synchronize();
}

}  // namespace moe
