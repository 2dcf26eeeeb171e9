#include "model/architecture.h"

namespace moe {

const Architecture& architecture_for(Arch arch) {
    switch (arch) {
        case Arch::Deepseek2: return deepseek2_architecture();
        case Arch::Deepseek: return deepseek_architecture();
        case Arch::Llama: return llama_architecture();
    }
    return llama_architecture();
}

Status pre_norm_layer(ForwardState& st, int64_t il, Status (*attention)(ForwardState&, int64_t)) {
    const LayerWeights& l = st.w.layers[static_cast<size_t>(il)];
    MOE_RETURN_IF_ERROR(norm_into_cur(st, l.attn_norm));
    MOE_RETURN_IF_ERROR(attention(st, il));
    MOE_RETURN_IF_ERROR(add_out_to_residual(st));
    MOE_RETURN_IF_ERROR(norm_into_cur(st, l.ffn_norm));
    MOE_RETURN_IF_ERROR(l.is_moe ? moe_ffn_block(st, il) : dense_ffn_block(st, il));
    return add_out_to_residual(st);
}

}  // namespace moe
