// Fuzz target: hparams_from_hf_json on arbitrary bytes. An accepted config must also survive everything a
// caller does next: parameter counts, the memory plan, kq_scale and (when small) the expected tensor list
// and its validation against itself.
#include "model/hparams.h"
#include "model/model_stats.h"
#include "model/tensor_layout.h"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    moe::Result<moe::HParams> hp = moe::hparams_from_hf_json(text, "fuzz.json");
    if (!hp.ok()) return 0;
    const moe::ParamCounts counts = moe::count_params(*hp);
    if (counts.active > counts.total) __builtin_trap();
    (void)moe::plan_memory(*hp, counts.total, moe::KvType::Q8_0, hp->n_ctx_train);
    (void)hp->kq_scale();
    // The HF list has one entry per expert projection; keep the fuzzer fast on huge configs.
    if (hp->n_layer * (hp->n_expert + 1) > 4096) return 0;
    for (moe::WeightLayout layout : {moe::WeightLayout::HuggingFace, moe::WeightLayout::GgufLegacyMla}) {
        std::vector<moe::TensorShapeRef> present;
        for (const moe::ExpectedTensor& t : moe::expected_tensors(*hp, layout))
            if (t.required) present.push_back({t.name, t.shape});
        if (!moe::validate_tensor_shapes(*hp, layout, present, "fuzz").ok()) __builtin_trap();
        if (moe::count_params(present, &*hp) != counts.total) __builtin_trap();
    }
    return 0;
}
