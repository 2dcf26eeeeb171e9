// Runs a model's ops on a device backend (the CUDA plugin) while the model code keeps its activations, KV cache
// and weights in host memory, with the CPU backend as the fallback:
//  - weights: place() copies a host byte range (a tensor of the memory map, with its FP8 scales) to device
//    memory once; every MatrixView inside a placed range is translated to its device copy. Views outside placed
//    ranges run on the CPU: that is the hybrid layout for models larger than the GPU (experts on the CPU while
//    attention, shared experts, routers and the head run on the GPU, as llama.cpp's --cpu-moe does).
//  - small float vectors (norm weights, rope factors) are uploaded on first use (they live as long as the model);
//  - activations are staged: each op copies its inputs to device scratch and its outputs back;
//  - the KV cache: alloc() returns host memory (the model writes rows there) and attention keeps a device
//    mirror of it, uploading the rows of the positions the call's tokens just wrote (rows below min(pos) were
//    uploaded by the calls that wrote them);
//  - failures: an op the device does not support, a weight not placed, or a device error (out of memory, failed
//    launch) runs the op on the CPU; after a device error every later op does (note() says why).
// Staging costs a copy per op: prompt batches are compute-bound and gain the most; decode pays the copies.
#pragma once

#include "backend/backend.h"

#include <cstdint>
#include <memory>
#include <string>

namespace moe {

class OffloadBackend : public Backend {
public:
    // Copies bytes [data, data + n_bytes) (and, for FP8, the scale bytes) to the device unless already there.
    // Errors: out of device memory (nothing is placed then; the range stays on the CPU).
    virtual Status place(const uint8_t* data, uint64_t n_bytes, const uint8_t* scales = nullptr,
                         uint64_t scale_bytes = 0) = 0;
    virtual uint64_t device_weight_bytes() const = 0;
    // Device memory still free for weights (the device's free memory minus what activations and caches need).
    virtual uint64_t device_free_bytes() const = 0;
    // Empty while the device works; else why ops now run on the CPU.
    virtual std::string note() const = 0;
    virtual Backend& device() = 0;
};

// `device`: the CUDA backend (ops on device pointers); `cpu`: the fallback.
std::unique_ptr<OffloadBackend> make_offload_backend(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu);

}  // namespace moe
