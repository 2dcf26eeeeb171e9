// Which weights of a model go to the GPU (OffloadBackend::place) and which stay in host memory. The order is
// the hybrid layout of llama.cpp's --cpu-moe / ktransformers: first everything a token always reads (attention,
// norms, routers, dense layers, shared experts, the output head), then the routed experts while the device has
// room (or none of them when experts_on_cpu). The token embedding goes too (a decode step then never leaves the
// device: it can be recorded as one CUDA graph).
#pragma once

#include "backend/offload_backend.h"
#include "core/status.h"
#include "model/model_source.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

struct DevicePlacement {
    uint64_t device_bytes = 0;
    uint64_t host_bytes = 0;
    int64_t device_tensors = 0;
    int64_t host_tensors = 0;
    bool experts_on_cpu = false;
};

// GGUF `blk.N.ffn_{gate,up,down}_exps.weight`, HF `model.layers.N.mlp.experts.M.*`.
bool is_routed_expert_tensor(const std::string& name);

// The plan for a device with `budget_bytes` for weights: placed[i] says whether tensors[i] goes to the device.
std::vector<bool> plan_device_placement(const std::vector<WeightTensor>& tensors, uint64_t budget_bytes,
                                        bool experts_on_cpu, DevicePlacement* summary);

// Places the planned tensors (with their FP8 scales). A tensor that fails to upload (out of memory) stays on
// the host and is counted there; only a device that stopped working is an error.
Status place_model_weights(OffloadBackend& backend, const ModelSource& source, bool experts_on_cpu,
                           DevicePlacement* summary);

}  // namespace moe
