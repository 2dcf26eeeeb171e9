// Attention over the KV cache on the device: multi-head / grouped-query attention and the absorbed MLA form
// (spec 2.2: MQA with one 576-wide key per position, value = its first kv_lora elements). Both decode (one
// token) and prompt batches (causal through pos: key s is visible to token t when s <= pos[t]).
// One block per (token, head); its 8 warps split the visible keys and each keeps an online softmax (running
// max, sum and the weighted value sum in registers), merged at the end, so no score buffer is needed at any
// context length. Head widths up to 1024.
#pragma once

#include "backend/backend.h"
#include "core/status.h"

#include <cuda_runtime.h>

namespace moe::cuda {

// Contract: MlaAttentionArgs (backend.h); every pointer is device memory (pos included).
Status mla_attention(const MlaAttentionArgs& a, cudaStream_t stream);
// Contract: MhaAttentionArgs (backend.h); every pointer is device memory.
Status mha_attention(const MhaAttentionArgs& a, cudaStream_t stream);

}  // namespace moe::cuda
