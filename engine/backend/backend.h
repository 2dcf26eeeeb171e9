// The compute backend interface: what the model code calls for every op of its blocks. The CPU backend
// (backend/cpu) implements all of it; the CUDA plugin (kernels/, issue 5) implements the same interface and
// answers supports() == false for what it lacks, which the engine then runs on the CPU backend.
//
// Conventions:
//  - Activations are float32, row-major [n_tokens][width] with an explicit row stride (in floats).
//  - Pointers are device pointers of this backend: host memory for the CPU; for CUDA, buffers from alloc().
//    Weights are MatrixViews in their stored type (memory-mapped on the CPU).
//  - Every op returns a Status: a bad shape or an unsupported type is an error value, never an abort.
//  - Ops may run asynchronously; synchronize() waits and reports the first deferred error.
//  - Training (LoRA) adds backward ops next to these (matmul_backward_x, rms_norm_backward, ...); the forward
//    code keeps the activations it needs in named buffers so a backward pass can read them.
#pragma once

#include "backend/matrix_view.h"
#include "core/status.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace moe {

struct DeviceInfo {
    std::string kind;  // "cpu" | "cuda"
    std::string name;  // "AMD EPYC (2 threads, AVX2 FMA F16C)"
    uint64_t memory_total_bytes = 0;
    uint64_t memory_free_bytes = 0;
    int n_threads = 1;  // CPU worker threads (CUDA: 0)
};

// Memory owned by a backend. The CPU buffer is 64-byte aligned host memory.
class Buffer {
public:
    virtual ~Buffer() = default;
    virtual void* data() = 0;
    virtual uint64_t size_bytes() const = 0;
};

enum class Op {
    Matmul,            // matmul, matmul_batch
    MatmulTransposed,  // matmul_transposed
    MoeFfn,            // moe_ffn
    RmsNorm,
    Rope,
    Attention,    // attention (MHA/GQA) and mla_attention
    Elementwise,  // add, swiglu, copy
};

// RoPE of one kind, for rope(): theta_i = base^(-2i/n_rot); YaRN per shared fixtures section 4.
struct RopeParams {
    int64_t n_rot = 0;
    double freq_base = 10000.0;
    bool interleaved = true;  // adjacent pairs (GGUF, HF V2/V3); false: rotate-half (HF llama/deepseek v1)
    bool yarn = false;
    double yarn_factor = 1.0;
    int64_t yarn_original_ctx = 0;
    double yarn_beta_fast = 32.0;
    double yarn_beta_slow = 1.0;
    double linear_factor = 1.0;           // positions divided by this (linear scaling)
    double magnitude = 1.0;               // cos/sin multiplier (HF YaRN get_m(s, mscale) / get_m(s, mscale_all_dim))
    const float* freq_factors = nullptr;  // [n_rot/2] divisors of theta_i (llama 3.1 rope_freqs), or null
};

// The rotation angle of pair i (0 <= i < n_rot/2) at position `pos`:
//   theta_i = pos * base^(-2i/n_rot) / freq_factors[i] / linear_factor, then YaRN blends the interpolated
//   (theta/factor) and extrapolated angles with ramp_i = 1 - clamp((i - low) / max(0.001, high - low), 0, 1),
//   low = max(0, floor(corr(beta_fast))), high = min(n_rot - 1, ceil(corr(beta_slow))),
//   corr(b) = n_rot * ln(orig_ctx / (b * 2 pi)) / (2 ln base).  Fills angles[0 .. n_rot/2) per position.
void rope_angles(const RopeParams& params, int32_t pos, float* angles);

// Absorbed multi-head latent attention over the latent cache (spec 2.2): per head h and query token t,
//   scores[s] = kq_scale * (q_lat[t][h] . c[s] + q_pe[t][h] . k_pe[s]) for s <= pos[t] (causal),
//   o_lat[t][h] = softmax(scores) . c[s].
struct MlaAttentionArgs {
    int64_t n_tokens = 0;
    int64_t n_head = 0;
    int64_t kv_lora = 0;                  // width of c (and of q_lat, o_lat)
    int64_t n_rope = 0;                   // width of k_pe / q_pe
    const float* q = nullptr;             // [n_tokens][n_head][kv_lora + n_rope]: q_lat then q_pe per head
    const float* cache = nullptr;         // [n_ctx][kv_lora + n_rope]: c then k_pe per position (F32 cache)
    const uint16_t* cache_f16 = nullptr;  // the same as fp16, when the cache is F16 (cache == nullptr)
    const int32_t* pos = nullptr;         // [n_tokens] position of each query token; key s is visible when s <= pos
    float kq_scale = 1.0f;
    float* out = nullptr;  // [n_tokens][n_head][kv_lora]
};

// Absorbed MLA from the projected queries to the per-head values (spec 2.2; what mla_attention_block runs
// between the q / kv_a products and W_o), per query token t and head h:
//   q_abs[t][h]  = [W_UK_h^T q[t][h][0..nope) | q[t][h][nope..nope + n_rope)]          [kv_lora + n_rope]
//   latent[t][h] = mla_attention of q_abs over the cache                                [kv_lora]
//   out[t][h]    = W_UV_h latent[t][h]                                                  [v_head_dim]
//   wo_out[t]    = W_o out[t]  (when wo is given: the output projection in the same op)   [wo.rows]
// uk[h]: [nope][kv_lora] multiplied transposed when uk_transposed (legacy attn_kv_b), else [kv_lora][nope]
// (split attn_k_b); uv[h]: [v_head_dim][kv_lora]; both multiplied with float activations (ActivationMode::Float).
struct MlaAbsorbedArgs {
    MlaAttentionArgs attention;  // shape, cache, positions, scale; its q and out are ignored (q_abs, latent)
    const float* q = nullptr;    // [n_tokens][n_head][nope + n_rope], RoPE applied to the last n_rope
    float* q_abs = nullptr;      // [n_tokens][n_head][kv_lora + n_rope] (scratch, written)
    float* latent = nullptr;     // [n_tokens][n_head][kv_lora] (scratch, written)
    int64_t nope = 0;
    std::span<const MatrixView> uk;
    bool uk_transposed = true;
    std::span<const MatrixView> uv;
    int64_t v_head_dim = 0;
    float* out = nullptr;  // [n_tokens][n_head][v_head_dim]
    MatrixView wo;         // optional: [wo.rows][n_head * v_head_dim]
    float* wo_out = nullptr;  // [n_tokens][wo.rows] when wo is given
};

// Multi-head / grouped-query attention over a K/V cache: head h reads kv head h / (n_head / n_head_kv).
struct MhaAttentionArgs {
    int64_t n_tokens = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim_k = 0;
    int64_t head_dim_v = 0;
    const float* q = nullptr;  // [n_tokens][n_head][head_dim_k]
    const float* k = nullptr;  // [n_ctx][n_head_kv][head_dim_k] (F32 cache), or
    const uint16_t* k_f16 = nullptr;
    const float* v = nullptr;  // [n_ctx][n_head_kv][head_dim_v]
    const uint16_t* v_f16 = nullptr;
    const int32_t* pos = nullptr;
    float kq_scale = 1.0f;
    float* out = nullptr;  // [n_tokens][n_head][head_dim_v]
};

// MoE routing of a batch (spec 1.2, 2.4, 3.1; model/moe_routing.h has the rules): softmax or sigmoid gate,
// optional selection bias, group-limited selection, top-k, weights normalised and scaled.
struct RouteParams {
    int64_t n_expert = 0;
    int64_t k = 0;
    bool sigmoid = false;
    int64_t n_group = 1;
    int64_t n_group_used = 1;
    bool group_top2_sum = false;  // group score = sum of its top-2 scores (biased / noaux_tc), else its max
    bool norm = false;            // weights / (sum + 1e-20)
    float scale = 1.0f;           // then * scale
};

// A mixture-of-experts FFN with its router (what moe_ffn_block runs for one MoE layer), per token t:
//   logits[t]  = router x[t]  (float activations)                                      [n_routed]
//   ids[t], weights[t] = route(logits[t], expert_bias)  (RouteParams; the routing trace)   [k]
//   y[t]       = sum_j weights[t][j] experts[ids[t][j]](x[t])  (+ the shared FFN, weight 1)  [n_embd]
// experts: the routed experts [n_routed], then the shared FFN when `shared` (moe_ffn's expert n_routed);
// ids_all / weights_all: scratch for the k + 1 selections per token when `shared`.
struct MoeRoutedArgs {
    MatrixView router;
    const float* expert_bias = nullptr;  // [n_routed] or null
    RouteParams route;                   // route.k selections per token
    std::span<const SwigluWeights> experts;
    bool shared = false;
    const float* x = nullptr;  // [n_tokens][n_embd]
    int64_t n_tokens = 0;
    int64_t n_embd = 0;
    float* logits = nullptr;       // [n_tokens][n_routed] (written)
    int32_t* ids = nullptr;        // [n_tokens][k] (written)
    float* weights = nullptr;      // [n_tokens][k] (written)
    int32_t* ids_all = nullptr;    // [n_tokens][k + 1] (scratch, when shared)
    float* weights_all = nullptr;  // [n_tokens][k + 1] (scratch, when shared)
    float* y = nullptr;            // [n_tokens][n_embd] (overwritten)
};

// The host implementation of routing (what Backend::route does on the CPU).
// logits: [n][n_expert]; bias: [n_expert] or null; ids/weights: [n][k]; probs (optional): [n][n_expert].
void route_experts_host(const RouteParams& p, const float* logits, const float* bias, int64_t n_tokens, int32_t* ids,
                        float* weights, float* probs = nullptr);

// Rounds x[0..n) in place as ActivationMode::Native rounds an activation row for `weight_type` weights (Q8_0
// blocks, Q8_K blocks, fp16, bf16; other types unchanged). The host implementation of Backend::round_like.
void round_like_host(GgmlType weight_type, float* x, int64_t n);

class Backend {
public:
    virtual ~Backend() = default;

    virtual DeviceInfo info() const = 0;
    virtual bool supports(Op op, GgmlType weight_type = GgmlType::F32) const = 0;
    virtual Result<std::unique_ptr<Buffer>> alloc(uint64_t n_bytes) = 0;
    virtual Status synchronize() = 0;

    // y[t] = W x[t]; see cpu/cpu_matmul.h for the exact contract of these four.
    virtual Status matmul(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                          int64_t y_stride, ActivationMode mode = ActivationMode::Native) = 0;
    // The batches default to one product per job.
    virtual Status matmul_batch(std::span<const MatmulJob> jobs, int64_t n_tokens);
    virtual Status matmul_transposed(const MatrixView& w, const float* x, int64_t x_stride, int64_t n_tokens, float* y,
                                     int64_t y_stride) = 0;
    virtual Status matmul_transposed_batch(std::span<const MatmulJob> jobs, int64_t n_tokens);
    // A hint for one-token steps: a coming product (one matmul, or a matmul_batch of these matrices, after the
    // products already announced) reads these weights. The CPU backend's threads request their rows of it (into
    // their caches) while they wait or compute in the ops before it, starting with the next op that runs on
    // several threads. Other backends ignore it; results never depend on it.
    virtual void announce_product(std::span<const MatrixView> weights) { (void)weights; }
    // The same hint for a coming one-token mla_absorbed (its pointers and shapes set; q need not be computed yet):
    // what each thread reads first there (its cache rows, its heads' W_UK and W_UV).
    virtual void announce_mla_absorbed(const MlaAbsorbedArgs& args) { (void)args; }
    // The router, routing and moe_ffn of one MoE layer (MoeRoutedArgs); the default runs matmul, route, fill,
    // copy_rows and moe_ffn.
    virtual Status moe_routed(const MoeRoutedArgs& args);
    virtual Status moe_ffn(std::span<const SwigluWeights> experts, const float* x, int64_t n_tokens, int64_t n_embd,
                           int64_t k, const int32_t* ids, const float* weights, float* y) = 0;

    // y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w  (in place when y == x). x, y: [n_tokens][stride], width n.
    virtual Status rms_norm(const float* x, int64_t x_stride, const float* w, int64_t n, int64_t n_tokens, float eps,
                            float* y, int64_t y_stride) = 0;
    // Rotates, in place, `n_heads` vectors of n_rot dims per token starting at x[t] + head * head_stride.
    virtual Status rope(float* x, int64_t x_stride, int64_t n_tokens, int64_t n_heads, int64_t head_stride,
                        const int32_t* pos, const RopeParams& params) = 0;
    virtual Status mla_attention(const MlaAttentionArgs& args) = 0;
    // Defaults to the separate ops (transposed or plain batch for W_UK, copy_rows of q_pe, mla_attention, a batch
    // for W_UV); the CPU backend runs a decode token's as one parallel region, heads split between threads.
    virtual Status mla_absorbed(const MlaAbsorbedArgs& args);
    virtual Status mha_attention(const MhaAttentionArgs& args) = 0;
    // y[i] += x[i], i < n.
    virtual Status add(float* y, const float* x, int64_t n) = 0;

    // Whether this backend's memory is host memory (the CPU backend): ops may then write into the caller's host
    // buffers directly (a decode step's logits: no 400 KB copy per token for a vocabulary of 102400).
    virtual bool host_memory() const { return false; }
    // Copies between host memory and this backend's memory; they return when the host side may be reused or
    // read. The CPU backend's memory is host memory: these defaults copy with memcpy.
    virtual Status upload(void* dst, const void* host_src, uint64_t n_bytes);
    virtual Status download(void* host_dst, const void* src, uint64_t n_bytes);
    // n rows of `width` floats between strided layouts (strides in floats).
    virtual Status upload_rows(float* dst, int64_t dst_stride, const float* host_src, int64_t src_stride, int64_t width,
                               int64_t n);
    virtual Status download_rows(float* host_dst, int64_t dst_stride, const float* src, int64_t src_stride,
                                 int64_t width, int64_t n);

    // ---- steps of a forward pass between the products (defaults: host code, for backends on host memory) ----
    // out[t][0..table.cols) = the dequantized table row ids[t], t < n (the embedding lookup). ids: backend memory.
    // Errors: an id outside the table, a type without dequantization.
    virtual Status embed(const MatrixView& table, const int32_t* ids, int64_t n, float* out, int64_t out_stride);
    // Rounds n rows of `width` in place as ActivationMode::Native rounds an activation for `weight_type` weights.
    virtual Status round_like(GgmlType weight_type, float* x, int64_t stride, int64_t width, int64_t n);
    // n rows of `row_bytes` bytes from src to dst (strides in bytes), both backend memory.
    virtual Status copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride, int64_t row_bytes,
                             int64_t n);
    // Sets the first `value_bytes` bytes of each of n rows (stride in bytes) to `value` (a host value).
    virtual Status fill(void* dst, int64_t stride, int64_t n, const void* value, int64_t value_bytes);
    // y[t][i] += bias[i], i < width, t < n. bias: backend memory.
    virtual Status add_bias(float* y, int64_t stride, int64_t n, const float* bias, int64_t width);
    // KV cache rows: row pos[t] of dst (rows of `width` elements, float32 or fp16 when f16) = src[t], t < n.
    // pos: backend memory (so a recorded decode step writes where the replayed step says).
    virtual Status write_rows(void* dst, bool f16, int64_t width, const int32_t* pos, const float* src,
                              int64_t src_stride, int64_t n);
    // MoE routing (RouteParams) of n tokens; every pointer is backend memory.
    virtual Status route(const RouteParams& p, const float* logits, const float* bias, int64_t n, int32_t* ids,
                         float* weights);

    // ---- recorded decode steps (CUDA graphs); the defaults record nothing ----
    // replay(key): runs the step recorded under `key` and returns true, or returns false when there is none
    // (nothing recorded, or the backend's buffers moved since). begin_record(key) starts recording the ops that
    // follow (they are then not run: replay() runs them) when the backend can, returning whether it records;
    // end_record() ends it: an error means the step could not be recorded (the caller runs it unrecorded) and
    // that key is not tried again.
    virtual bool replay(uint64_t key) {
        (void)key;
        return false;
    }
    virtual bool begin_record(uint64_t key) {
        (void)key;
        return false;
    }
    virtual Status end_record() { return {}; }

    // The physical limits benchmarks divide by, measured on this backend's device: memory bandwidth in GB/s
    // (1e9 B/s; bytes read + written by a large device-to-device copy) and the GEMM peak in GFLOP/s (the
    // backend's prompt-processing GEMM at a large square size). Errors when the backend does not measure them
    // (the CPU's figures come from cpu_matmul.h).
    virtual Result<double> measure_memory_bandwidth_gbs() { return Status::error("not measured by this backend"); }
    virtual Result<double> measure_gemm_peak_gflops() { return Status::error("not measured by this backend"); }
};

// The CPU backend with `n_threads` threads (<= 0: one per hardware thread).
std::unique_ptr<Backend> make_cpu_backend(int n_threads = 0);

}  // namespace moe
