#include "backend/backend_plugin.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#ifndef MOE_PLUGIN_BUILD_DIR
#define MOE_PLUGIN_BUILD_DIR ""
#endif

namespace moe {

namespace {

constexpr const char* kCudaPluginFile = "libmoe_cuda.so";

std::string executable_dir() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    return ec ? std::string() : exe.parent_path().string();
}

using EntryFn = const BackendPluginApi* (*)();

}  // namespace

Result<DeviceChoice> parse_device_choice(const std::string& text) {
    if (text == "cpu") return DeviceChoice::Cpu;
    if (text == "cuda") return DeviceChoice::Cuda;
    if (text == "auto") return DeviceChoice::Auto;
    return Status::error("--device: '" + text + "' is not a device (cpu, cuda, auto)");
}

const char* device_choice_name(DeviceChoice choice) {
    switch (choice) {
        case DeviceChoice::Cpu:
            return "cpu";
        case DeviceChoice::Cuda:
            return "cuda";
        case DeviceChoice::Auto:
            return "auto";
    }
    return "?";
}

std::vector<std::string> cuda_plugin_candidates() {
    std::vector<std::string> out;
    if (const char* env = std::getenv("MOE_CUDA_PLUGIN"); env && *env) out.emplace_back(env);
    const std::string dir = executable_dir();
    if (!dir.empty()) {
        out.push_back(dir + "/" + kCudaPluginFile);
        out.push_back(dir + "/../lib/moe-workbench/" + kCudaPluginFile);
        out.push_back(dir + "/../lib/" + kCudaPluginFile);
    }
    if (*MOE_PLUGIN_BUILD_DIR) out.push_back(std::string(MOE_PLUGIN_BUILD_DIR) + "/" + kCudaPluginFile);
    return out;
}

Result<std::unique_ptr<Backend>> load_cuda_backend(int device_index) {
    std::string tried;
    const bool from_env = std::getenv("MOE_CUDA_PLUGIN") && *std::getenv("MOE_CUDA_PLUGIN");
    for (const std::string& path : cuda_plugin_candidates()) {
        std::error_code ec;
        if (!std::filesystem::exists(path, ec)) {
            tried += (tried.empty() ? "" : ", ") + path;
            if (from_env && tried == path) return Status::error("MOE_CUDA_PLUGIN: " + path + " does not exist");
            continue;
        }
        // RTLD_LOCAL: the plugin's CUDA symbols stay out of the global namespace. Never dlclosed (see header).
        void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = dlerror();
            return Status::error("CUDA plugin " + path + " could not be loaded: " + (why ? why : "unknown error") +
                                 " (are the CUDA 13 libraries, libcublas.so.13, installed?)");
        }
        auto entry = reinterpret_cast<EntryFn>(dlsym(handle, kBackendPluginEntry));
        if (!entry) return Status::error("CUDA plugin " + path + " has no entry point " + kBackendPluginEntry);
        const BackendPluginApi* api = entry();
        const BackendPluginApi want = expected_plugin_layout();
        if (!api || api->abi_version != want.abi_version || api->sizeof_matrix_view != want.sizeof_matrix_view ||
            api->sizeof_mla_args != want.sizeof_mla_args || api->sizeof_rope_params != want.sizeof_rope_params ||
            !api->create)
            return Status::error("CUDA plugin " + path + " was built for another engine version (ABI " +
                                 std::to_string(api ? api->abi_version : 0) + ", this engine has " +
                                 std::to_string(want.abi_version) + "): rebuild it with this program");
        char err[512] = {};
        Backend* b = api->create(device_index, err, sizeof err);
        if (!b) return Status::error(std::string("CUDA backend unavailable: ") + (err[0] ? err : "unknown error"));
        return std::unique_ptr<Backend>(b);
    }
    return Status::error("CUDA plugin " + std::string(kCudaPluginFile) + " not found (looked in: " + tried +
                         "; set MOE_CUDA_PLUGIN to its path)");
}

BackendSelection make_backend(DeviceChoice choice, int n_threads) {
    BackendSelection sel;
    if (choice != DeviceChoice::Cpu) {
        auto cuda = load_cuda_backend(0);
        if (cuda.ok()) {
            sel.backend = std::move(cuda).value();
            sel.used = DeviceChoice::Cuda;
            return sel;
        }
        sel.note = cuda.error() + "; using the CPU";
    }
    sel.backend = make_cpu_backend(n_threads);
    sel.used = DeviceChoice::Cpu;
    return sel;
}

}  // namespace moe
