// One decoder architecture: how a layer is composed from the shared blocks of forward.h, and the checks of
// hyper-parameters this engine relies on. One file per architecture (deepseek2.cpp, deepseek.cpp, llama.cpp).
#pragma once

#include "core/status.h"
#include "model/forward.h"
#include "model/hparams.h"

namespace moe {

struct Architecture {
    const char* name = "";
    // Hyper-parameter checks beyond validate_hparams() (message names the field).
    Status (*check)(const HParams& hp) = nullptr;
    // Runs layer il on st.buf.x (the residual stream) in place.
    Status (*layer)(ForwardState& st, int64_t il) = nullptr;
};

const Architecture& deepseek2_architecture();
const Architecture& deepseek_architecture();
const Architecture& llama_architecture();
const Architecture& architecture_for(Arch arch);

// The pre-norm decoder layer every architecture here shares:
//   x += attention(rmsnorm(x) * attn_norm);  x += ffn(rmsnorm(x) * ffn_norm)
// with ffn = the MoE block on MoE layers and the dense SwiGLU elsewhere.
Status pre_norm_layer(ForwardState& st, int64_t il, Status (*attention)(ForwardState&, int64_t));

}  // namespace moe
