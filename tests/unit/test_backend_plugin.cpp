// The CUDA plugin loader (backend/backend_plugin.h) on its failure paths, which every machine without a GPU
// takes: no plugin file, a plugin of another ABI, a plugin without the entry point, a plugin whose backend
// cannot start; each is a readable Status and make_backend() falls back to the CPU with that note.
#include "check.h"

#include "backend/backend_plugin.h"

#include <cstdlib>
#include <string>

namespace {

struct PluginEnv {
    explicit PluginEnv(const std::string& path) { setenv("MOE_CUDA_PLUGIN", path.c_str(), 1); }
    ~PluginEnv() { unsetenv("MOE_CUDA_PLUGIN"); }
};

bool contains(const std::string& s, const std::string& what) {
    return s.find(what) != std::string::npos;
}

MOE_TEST(missing_plugin_file_is_an_error_and_the_cpu_is_used) {
    PluginEnv env("/nonexistent/libmoe_cuda.so");
    auto b = moe::load_cuda_backend(0);
    REQUIRE(!b.ok());
    CHECK(contains(b.error(), "does not exist"));
    moe::BackendSelection sel = moe::make_backend(moe::DeviceChoice::Auto, 1);
    CHECK(sel.used == moe::DeviceChoice::Cpu);
    CHECK(sel.backend->info().kind == "cpu");
    CHECK(contains(sel.note, "using the CPU"));
}

MOE_TEST(plugin_of_another_abi_is_refused) {
    PluginEnv env(MOE_FAKE_PLUGIN_BAD_ABI);
    auto b = moe::load_cuda_backend(0);
    REQUIRE(!b.ok());
    CHECK(contains(b.error(), "another engine version"));
}

MOE_TEST(plugin_without_entry_point_is_refused) {
    PluginEnv env(MOE_FAKE_PLUGIN_NO_ENTRY);
    auto b = moe::load_cuda_backend(0);
    REQUIRE(!b.ok());
    CHECK(contains(b.error(), "no entry point"));
}

MOE_TEST(backend_that_cannot_start_gives_its_reason) {
    PluginEnv env(MOE_FAKE_PLUGIN_NO_DEVICE);
    auto b = moe::load_cuda_backend(0);
    REQUIRE(!b.ok());
    CHECK(contains(b.error(), "no CUDA device"));
    moe::BackendSelection sel = moe::make_backend(moe::DeviceChoice::Cuda, 1);
    CHECK(sel.used == moe::DeviceChoice::Cpu);
    CHECK(contains(sel.note, "no CUDA device"));
}

MOE_TEST(cpu_choice_loads_nothing) {
    PluginEnv env("/nonexistent/libmoe_cuda.so");
    moe::BackendSelection sel = moe::make_backend(moe::DeviceChoice::Cpu, 1);
    CHECK(sel.used == moe::DeviceChoice::Cpu);
    CHECK(sel.note.empty());
}

MOE_TEST(device_choice_parsing) {
    CHECK(moe::parse_device_choice("cuda").ok());
    CHECK(moe::parse_device_choice("auto").ok());
    CHECK(*moe::parse_device_choice("cpu") == moe::DeviceChoice::Cpu);
    CHECK(!moe::parse_device_choice("gpu").ok());
}

}  // namespace
