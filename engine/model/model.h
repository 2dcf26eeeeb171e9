// A loaded model: the memory-mapped source, its hyper-parameters, the bound weights, the tokenizer and chat
// template, and the backend that runs it. forward() runs a batch of tokens through the model at given positions,
// writing the KV cache and returning logits. Generation, sampling and conversations live in runtime/.
#pragma once

#include "backend/backend.h"
#include "backend/backend_plugin.h"
#include "core/status.h"
#include "model/device_placement.h"
#include "model/forward.h"
#include "model/hparams.h"
#include "model/model_source.h"
#include "model/model_weights.h"
#include "tokenizer/tokenizer.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

namespace moe {

class KvCache;
class OpProfile;

struct ModelLoadOptions {
    int n_threads = 0;       // CPU threads; <= 0: one per hardware thread
    int64_t n_ubatch = 512;  // tokens per forward micro-batch (bounds the workspace)
    // Read every weight page once while loading (so the first reply does not wait on the disk), reporting
    // progress(done_bytes, total_bytes); returning false cancels the load ("loading cancelled"). Without it
    // pages are read on first use.
    bool prefault = false;
    std::function<bool(uint64_t done_bytes, uint64_t total_bytes)> progress;
    // When set, every backend op is timed into it (must outlive the model): `moewb bench --profile`.
    OpProfile* profile = nullptr;
    // Where the model runs. Cuda / Auto: the CUDA plugin when it loads and finds a GPU (weights placed by
    // device_placement.h, the rest on the CPU), else the CPU with device_note() saying why.
    DeviceChoice device = DeviceChoice::Cpu;
    bool experts_on_cpu = false;  // with a GPU: keep the routed experts in host memory (hybrid layout)
};

// Routing of one MoE layer for one micro-batch: slot = index among the MoE layers; the batch is tokens
// [first, first + n) of the forward() call; ids/weights [n][k], experts in descending order of selection score.
using RoutingCallback =
    std::function<void(int32_t slot, int64_t first, int64_t n, const int32_t* ids, const float* weights)>;

class Model {
public:
    // Opens `path` (GGUF, split GGUF or HF folder), binds the weights and the tokenizer. Errors name the file.
    static Result<std::unique_ptr<Model>> load(const std::string& path, const ModelLoadOptions& options = {});

    const HParams& hparams() const { return m_hp; }
    const ModelDescription& description() const { return m_source.description(); }
    const ModelSource& source() const { return m_source; }
    const ModelWeights& weights() const { return m_weights; }
    // The tokenizer (every loadable model has one: a source without a vocabulary is refused).
    const Tokenizer& tokenizer() const { return *m_tokenizer; }
    // The model's own chat template, else the built-in one for its family.
    const std::string& chat_template() const { return m_chat_template; }
    Backend& backend() { return *m_backend; }
    // "cpu" or "cuda": where the ops run (with cuda, ops on weights left in host memory still run on the CPU).
    const char* device_kind() const { return m_on_gpu ? "cuda" : "cpu"; }
    std::string device_name() const { return m_device_name; }
    // Why the CPU is used although a GPU was asked for, or why the GPU stopped being used; empty otherwise.
    std::string device_note() const;
    // With a GPU: which weight bytes are in device memory and which stay in host memory.
    const DevicePlacement& placement() const { return m_placement; }
    // Bumped when the model moves to another backend (after a GPU failure it continues on the CPU): KV caches made
    // with the old one must be made again (forward() refuses them).
    uint64_t backend_generation() const { return m_backend_generation; }
    // Moves the model to the CPU (a GPU failure, or a caller that wants it); returns an error Status with `why`.
    Status switch_to_cpu(const std::string& why);
    int64_t n_vocab() const { return m_weights.output.rows; }
    // Model layer index of each MoE layer, ascending.
    const std::vector<int32_t>& moe_layers() const { return m_moe_layers; }
    // What one decoded token reads and multiplies (see active_weights_per_token).
    const ActiveWeights& active_weights() const { return m_active; }

    // Runs `tokens` at positions first_pos, first_pos+1, ... (the cache must hold positions < first_pos).
    // logits: [n_out][n_vocab] with n_out = tokens.size() when all_logits, else 1 (the last token).
    // on_routing (optional) sees every MoE layer's routing of every micro-batch, in order.
    Status forward(KvCache& cache, std::span<const int32_t> tokens, int32_t first_pos, bool all_logits,
                   std::vector<float>& logits, const RoutingCallback* on_routing = nullptr);

private:
    Model(ModelSource source) : m_source(std::move(source)) {}
    // The backend for options.device (see ModelLoadOptions::device); weights placed when it is a GPU.
    Status select_backend(const ModelLoadOptions& options);
    Status switch_to_cpu_locked(const std::string& why);
    Status forward_batches(KvCache& cache, std::span<const int32_t> tokens, int32_t first_pos, bool all_logits,
                           std::vector<float>& logits, const RoutingCallback* on_routing);
    Status run_batch(ForwardState& st, std::span<const int32_t> tokens, bool logits_needed, bool all_logits);
    Status run_decode_step(ForwardState& st, std::span<const int32_t> tokens, const KvCache& cache);

    ModelSource m_source;
    HParams m_hp;
    ModelWeights m_weights;
    std::optional<Tokenizer> m_tokenizer;
    std::string m_chat_template;
    std::unique_ptr<Backend> m_backend;
    OffloadBackend* m_offload = nullptr;  // m_backend (or the backend it profiles) when on a GPU
    bool m_on_gpu = false;
    std::string m_device_name;
    std::string m_device_note;
    DevicePlacement m_placement;
    uint64_t m_backend_generation = 0;
    std::vector<std::unique_ptr<Backend>> m_retired_backends;
    std::set<uint64_t> m_record_warm, m_record_failed;  // decode steps run once / that cannot be recorded
    ModelLoadOptions m_options;
    std::vector<int32_t> m_moe_layers;
    std::vector<int32_t> m_moe_slot;
    ActiveWeights m_active;
    std::mutex m_mutex;  // one forward at a time (the buffers are shared)
    ForwardBuffers m_buffers;
};

}  // namespace moe
