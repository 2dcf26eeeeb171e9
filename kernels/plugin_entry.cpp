// The plugin's one exported symbol (engine/backend/backend_plugin.h): the ABI table and the factory.
#include "backend/backend_plugin.h"
#include "cuda_backend.h"

#include <cstring>

namespace {

moe::Backend* create_backend(int device, char* err, size_t err_len) {
    auto b = moe::cuda::make_cuda_backend(device);
    if (!b.ok()) {
        if (err && err_len) {
            std::strncpy(err, b.error().c_str(), err_len - 1);
            err[err_len - 1] = '\0';
        }
        return nullptr;
    }
    return std::move(b).value().release();
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const moe::BackendPluginApi* moe_backend_plugin_api() {
    static const moe::BackendPluginApi api = [] {
        moe::BackendPluginApi a = moe::expected_plugin_layout();
        a.name = "cuda";
        a.create = create_backend;
        return a;
    }();
    return &api;
}
