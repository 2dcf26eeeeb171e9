// Fake backend plugins for test_backend_plugin (built three times with FAKE_KIND = 1, 2, 3): a plugin of another
// ABI version, one whose backend cannot start (as the CUDA plugin without a device), and one without the entry
// point.
#include "backend/backend_plugin.h"

#include <cstring>

#if FAKE_KIND != 3
namespace {

moe::Backend* create(int, char* err, size_t err_len) {
    std::strncpy(err, "no CUDA device: cudaGetDeviceCount returned 100 (no device) [fake]", err_len - 1);
    err[err_len - 1] = '\0';
    return nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) const moe::BackendPluginApi* moe_backend_plugin_api() {
    static const moe::BackendPluginApi api = [] {
        moe::BackendPluginApi a = moe::expected_plugin_layout();
        if (FAKE_KIND == 1) a.abi_version += 1;
        a.name = "fake";
        a.create = create;
        return a;
    }();
    return &api;
}
#else
extern "C" __attribute__((visibility("default"))) int not_a_plugin() {
    return 0;
}
#endif
