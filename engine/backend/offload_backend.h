// Runs a model on a device backend (the CUDA plugin) whose ops take device pointers, while the model's weights
// stay bound to their memory-mapped host bytes, with the CPU backend for what the device does not hold:
//  - weights: place() copies a host byte range (a tensor of the memory map, with its FP8 scales) to device
//    memory once; every MatrixView inside a placed range is translated to its device copy. A product whose
//    weights were not placed (the routed experts when they stay in host memory: the hybrid layout of llama.cpp's
//    --cpu-moe and ktransformers; or a tensor that did not fit) runs on the CPU: its inputs are copied to host
//    memory, its outputs back;
//  - small float vectors the model passes by host pointer (norm weights, biases, the selection bias, rope
//    factors) are uploaded on first use (they live as long as the model);
//  - everything else (activations, the KV cache: alloc()) is device memory, so the ops chain on the device and a
//    decode step can be recorded (replay / begin_record forward to the device);
//  - a device error (out of memory included) is returned and marks the backend failed (note() says why): the
//    model then moves to the CPU (Model::forward) and sessions rebuild their caches there.
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
    // Empty while the device works; else why it stopped being used.
    virtual std::string note() const = 0;
    virtual bool failed() const = 0;
    virtual Backend& device() = 0;
};

// `device`: the CUDA backend (ops on device pointers); `cpu`: for products whose weights stay in host memory.
std::unique_ptr<OffloadBackend> make_offload_backend(std::unique_ptr<Backend> device, std::unique_ptr<Backend> cpu);

}  // namespace moe
