// Backends found at run time: the CUDA plugin (kernels/, libmoe_cuda.so) is a MODULE library that the engine
// dlopens, so that moewb and the app start and work on machines without CUDA libraries, a driver or a GPU.
// Nothing here links CUDA; every failure (no plugin, no cuBLAS, no driver, no device) is a Status, and
// make_backend() then falls back to the CPU backend with a note saying why.
//
// The plugin exports one C symbol, `moe_backend_plugin_api`, returning a BackendPluginApi. The Backend it
// creates is a C++ object across the library boundary: the plugin must be built from the same sources (the
// ABI version and the struct sizes below catch a stale plugin).
#pragma once

#include "backend/backend.h"
#include "core/status.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace moe {

// Bump when Backend, MatrixView, the op argument structs or this struct change.
constexpr uint32_t kBackendPluginAbiVersion = 2;  // 2: Backend::moe_routed, host_memory, the MLA announce
constexpr const char* kBackendPluginEntry = "moe_backend_plugin_api";

struct BackendPluginApi {
    uint32_t abi_version = 0;
    // sizeof of the shared structs as the plugin saw them (a cheap layout check beside the version).
    uint32_t sizeof_matrix_view = 0;
    uint32_t sizeof_mla_args = 0;
    uint32_t sizeof_rope_params = 0;
    const char* name = "";  // "cuda"
    // Creates the backend on device `device_index`. On failure returns null and writes a readable, NUL-terminated
    // message to err[0..err_len) ("no CUDA device: cudaGetDeviceCount returned 35 (insufficient driver)").
    Backend* (*create)(int device_index, char* err, size_t err_len) = nullptr;
};

// The version and sizes as this side of the boundary sees them (the plugin fills its table with it, the loader
// compares the plugin's table with it).
inline BackendPluginApi expected_plugin_layout() {
    BackendPluginApi a;
    a.abi_version = kBackendPluginAbiVersion;
    a.sizeof_matrix_view = sizeof(MatrixView);
    a.sizeof_mla_args = sizeof(MlaAttentionArgs);
    a.sizeof_rope_params = sizeof(RopeParams);
    return a;
}

enum class DeviceChoice { Cpu, Cuda, Auto };
// "cpu" | "cuda" | "auto"; errors name the accepted values.
Result<DeviceChoice> parse_device_choice(const std::string& text);
const char* device_choice_name(DeviceChoice choice);

// Where the CUDA plugin is looked for, in order: $MOE_CUDA_PLUGIN (a file), the executable's folder,
// <exe>/../lib/moe-workbench, <exe>/../lib, and the build tree's plugin folder (MOE_PLUGIN_BUILD_DIR).
std::vector<std::string> cuda_plugin_candidates();

// dlopens the first candidate that exists, checks its ABI and creates its backend on `device_index`.
// The library stays loaded for the rest of the process (its backends may outlive any owner we could name).
Result<std::unique_ptr<Backend>> load_cuda_backend(int device_index = 0);

struct BackendSelection {
    std::unique_ptr<Backend> backend;  // never null
    DeviceChoice used = DeviceChoice::Cpu;
    std::string note;  // why the CPU is used when CUDA was asked for or tried; empty otherwise
};

// Cpu: the CPU backend. Cuda / Auto: the CUDA plugin when it loads and finds a device, else the CPU backend
// with `note` saying why (Cuda and Auto differ only in how loudly callers report the note).
BackendSelection make_backend(DeviceChoice choice, int n_threads);

}  // namespace moe
