#include "check.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace moe_test {

namespace {
int g_failures_in_test = 0;
bool g_any_failure = false;
std::string g_temp_dir;
}  // namespace

std::vector<TestCase>& registry() {
    static std::vector<TestCase> tests;
    return tests;
}

void report_failure(const char* file, int line, const std::string& what) {
    std::fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what.c_str());
    ++g_failures_in_test;
    g_any_failure = true;
}

static std::string existing(const std::string& p) { return std::filesystem::exists(p) ? p : std::string(); }

std::string data_path(const std::string& relative) {
    std::string p = existing(std::string(MOE_TEST_DATA_DIR) + "/" + relative);
    return p.empty() ? shared_fixture(relative) : p;
}

std::string shared_fixture(const std::string& relative) {
    const char* env = std::getenv("MOE_SHARED_FIXTURES");
    const std::string root = env != nullptr ? env : MOE_SHARED_FIXTURES;
    return existing(root + "/" + relative);
}

std::string temp_dir() {
    if (g_temp_dir.empty()) {
        const auto base = std::filesystem::temp_directory_path() / ("moe_test_" + std::to_string(::getpid()));
        std::filesystem::create_directories(base);
        g_temp_dir = base.string();
    }
    return g_temp_dir;
}

}  // namespace moe_test

int main(int argc, char** argv) {
    using namespace moe_test;
    const char* filter = argc > 1 ? argv[1] : nullptr;
    int passed = 0, failed = 0, skipped = 0;
    for (const TestCase& t : registry()) {
        if (filter != nullptr && std::strstr(t.name, filter) == nullptr) continue;
        g_failures_in_test = 0;
        std::fprintf(stderr, "RUN  %s\n", t.name);
        try {
            t.fn();
        } catch (const AbortTest&) {
        } catch (const SkipTest& s) {
            std::fprintf(stderr, "SKIP %s: %s\n", t.name, s.why.c_str());
            ++skipped;
            continue;
        } catch (const std::exception& e) {
            report_failure(__FILE__, __LINE__, std::string("uncaught exception: ") + e.what());
        }
        if (g_failures_in_test == 0) {
            ++passed;
            std::fprintf(stderr, "PASS %s\n", t.name);
        } else {
            ++failed;
            std::fprintf(stderr, "FAIL %s\n", t.name);
        }
    }
    std::fprintf(stderr, "Totals: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
    if (!g_temp_dir.empty() && !g_any_failure) std::filesystem::remove_all(g_temp_dir);
    if (failed > 0) return 1;
    if (passed == 0 && skipped > 0) return 77;
    return 0;
}
