#include "model/device_placement.h"

namespace moe {

namespace {

uint64_t scale_bytes(const WeightTensor& t) {
    if (!t.block_scales || t.ne.size() < 2) return 0;
    return uint64_t((t.ne[1] + 127) / 128) * uint64_t((t.ne[0] + 127) / 128) * 4;
}

}  // namespace

bool is_routed_expert_tensor(const std::string& name) {
    return name.find("_exps.") != std::string::npos || name.find(".mlp.experts.") != std::string::npos;
}

std::vector<bool> plan_device_placement(const std::vector<WeightTensor>& tensors, uint64_t budget, bool experts_on_cpu,
                                        DevicePlacement* summary) {
    std::vector<bool> placed(tensors.size(), false);
    DevicePlacement s;
    s.experts_on_cpu = experts_on_cpu;
    uint64_t used = 0;
    // Pass 0: what every token reads; pass 1: the routed experts.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < tensors.size(); ++i) {
            const WeightTensor& t = tensors[i];
            const bool expert = is_routed_expert_tensor(t.name);
            if (expert != (pass == 1) || (expert && experts_on_cpu)) continue;
            const uint64_t bytes = t.n_bytes + scale_bytes(t);
            if (used + bytes > budget) continue;
            used += bytes;
            placed[i] = true;
        }
    }
    for (size_t i = 0; i < tensors.size(); ++i) {
        const uint64_t bytes = tensors[i].n_bytes + scale_bytes(tensors[i]);
        if (placed[i]) {
            s.device_bytes += bytes;
            ++s.device_tensors;
        } else {
            s.host_bytes += bytes;
            ++s.host_tensors;
        }
    }
    if (summary) *summary = s;
    return placed;
}

Status place_model_weights(OffloadBackend& backend, const ModelSource& source, bool experts_on_cpu,
                           DevicePlacement* summary) {
    const std::vector<WeightTensor>& tensors = source.tensors();
    DevicePlacement plan;
    const std::vector<bool> placed = plan_device_placement(tensors, backend.device_free_bytes(), experts_on_cpu, &plan);
    DevicePlacement s;
    s.experts_on_cpu = experts_on_cpu;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const WeightTensor& t = tensors[i];
        const uint64_t bytes = t.n_bytes + scale_bytes(t);
        bool ok = placed[i];
        if (ok) {
            const Status st = backend.place(t.data, t.n_bytes, t.block_scales, scale_bytes(t));
            if (!st.ok() && !backend.note().empty()) return st;
            ok = st.ok();
        }
        (ok ? s.device_bytes : s.host_bytes) += bytes;
        ++(ok ? s.device_tensors : s.host_tensors);
    }
    if (summary) *summary = s;
    return {};
}

}  // namespace moe
