// The tensors a model must hold, with the shapes its hyper-parameters imply, and the check of a file's
// tensor table against them. GGUF layouts use ggml ne order (ne[0] innermost: a matrix y = W x is
// {in, out}); the HuggingFace layout uses PyTorch order ([out, in]). Spec: deepseek.md 1.4, 2.5, 3.3, 6.4.
#pragma once

#include "core/status.h"
#include "model/hparams.h"

#include <cstdint>
#include <string>
#include <vector>

namespace moe {

class GgufFile;
class GgufModel;

struct ExpectedTensor {
    std::string name;
    std::vector<int64_t> shape;  // ne order (GGUF) or PyTorch order (HF)
    bool required = true;
    // What each dimension is, aligned with shape, for messages ("n_embd", "n_ff_exp", "n_expert").
    std::vector<const char*> dims;
};

// Name and shape of a tensor present in a file (shape in the same order as ExpectedTensor).
struct TensorShapeRef {
    std::string name;
    std::vector<int64_t> shape;
};

// Every tensor of the main model (MTP layers excluded). Optional entries: HF FP8 `*.weight_scale_inv`
// siblings ([ceil(out/128), ceil(in/128)]), llama `rope_freqs.weight`. The list for DeepSeek-V3 in the HF
// layout has ~95k entries (one per expert projection).
std::vector<ExpectedTensor> expected_tensors(const HParams& hp, WeightLayout layout);

// The tensor table of a GGUF file / split model as TensorShapeRef (ne order, n_dims entries).
std::vector<TensorShapeRef> tensor_shapes(const GgufFile& file);
std::vector<TensorShapeRef> tensor_shapes(const GgufModel& model);

// Checks `present` against expected_tensors(hp, layout):
//  - a missing required tensor is an error naming it and its expected shape;
//  - a shape that disagrees is an error: "f.gguf: tensor 'blk.3.ffn_up_exps.weight': shape [64, 32, 15]
//    disagrees with the hyper-parameters (expected [64, 32, 16] = [n_embd=64, n_ff_exp=32, n_expert=16])";
//  - unknown extra tensors are not errors: their names go to `warnings` (when given). HF tensors of the
//    MTP layers (model.layers.{n_layer..}.*) are ignored silently.
// GGUF shapes compare after dropping trailing 1s (ggml pads ne with 1).
Status validate_tensor_shapes(const HParams& hp, WeightLayout layout, const std::vector<TensorShapeRef>& present,
                              const std::string& file_name, std::vector<std::string>* warnings = nullptr);

// HF multi-token-prediction tensors: "model.layers.K.<rest>" with K >= n_layer (DeepSeek-V3 stores its MTP
// layer after the main ones). They are not part of the main model: not checked, counted or loaded.
bool is_hf_mtp_tensor(const std::string& name, int64_t n_layer);

// "[64, 32, 16]"
std::string format_shape(const std::vector<int64_t>& shape);

}  // namespace moe
