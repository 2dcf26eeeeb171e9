// A minimal test harness for the engine tests: they must build where Qt is absent (GPU servers), so they
// cannot use Qt Test. Each test file defines MOE_TEST(name) functions; check_main.cpp runs them.
// A test can skip itself (missing optional fixtures) with MOE_SKIP("why"); a binary whose tests all
// skipped exits 77, which ctest reports as skipped.
#pragma once

#include "core/status.h"

#include <cmath>
#include <cstdio>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace moe_test {

struct TestCase {
    const char* name;
    std::function<void()> fn;
};

std::vector<TestCase>& registry();
void report_failure(const char* file, int line, const std::string& what);

struct Registrar {
    Registrar(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

struct AbortTest {};  // thrown by REQUIRE to end the current test
struct SkipTest {
    std::string why;
};

template <class A, class B>
std::string describe(const A& a, const B& b) {
    std::ostringstream os;
    os << a << " vs " << b;
    return os.str();
}

// Where test data lives: tests/data first, then the shared fixtures beside the project.
// Returns "" when the file is found in neither.
std::string data_path(const std::string& relative);
std::string shared_fixture(const std::string& relative);
std::string temp_dir();  // a fresh folder for this test binary (removed at exit unless a test failed)

// The Status of a moe::Result or a moe::Status, for REQUIRE_OK.
template <class R>
moe::Status status_of(const R& r) {
    return r.status();
}
inline moe::Status status_of(const moe::Status& s) { return s; }

}  // namespace moe_test

#define MOE_TEST_CONCAT2(a, b) a##b
#define MOE_TEST_CONCAT(a, b) MOE_TEST_CONCAT2(a, b)
#define MOE_TEST(name)                                                                    \
    static void name();                                                                   \
    static ::moe_test::Registrar MOE_TEST_CONCAT(moe_test_reg_, name)(#name, name);       \
    static void name()

#define CHECK(cond)                                                                       \
    do {                                                                                  \
        if (!(cond)) ::moe_test::report_failure(__FILE__, __LINE__, "CHECK(" #cond ")"); \
    } while (0)
// CHECK with a message that says which case failed.
#define CHECK_MSG(cond, msg)                                                                                    \
    do {                                                                                                        \
        if (!(cond)) ::moe_test::report_failure(__FILE__, __LINE__, std::string("CHECK(" #cond "): ") + (msg)); \
    } while (0)
#define REQUIRE(cond)                                                                       \
    do {                                                                                    \
        if (!(cond)) {                                                                      \
            ::moe_test::report_failure(__FILE__, __LINE__, "REQUIRE(" #cond ")");           \
            throw ::moe_test::AbortTest{};                                                  \
        }                                                                                   \
    } while (0)
#define CHECK_EQ(a, b)                                                                                        \
    do {                                                                                                      \
        const auto& moe_a_ = (a);                                                                             \
        const auto& moe_b_ = (b);                                                                             \
        if (!(moe_a_ == moe_b_))                                                                              \
            ::moe_test::report_failure(__FILE__, __LINE__,                                                    \
                                       "CHECK_EQ(" #a ", " #b "): " + ::moe_test::describe(moe_a_, moe_b_)); \
    } while (0)
#define CHECK_NEAR(a, b, tol)                                                                                 \
    do {                                                                                                      \
        const double moe_a_ = (a), moe_b_ = (b);                                                              \
        if (!(std::fabs(moe_a_ - moe_b_) <= (tol)))                                                           \
            ::moe_test::report_failure(__FILE__, __LINE__,                                                    \
                                       "CHECK_NEAR(" #a ", " #b ", " #tol "): " +                             \
                                           ::moe_test::describe(moe_a_, moe_b_));                             \
    } while (0)
// Checks a moe::Status / moe::Result is ok, printing its message otherwise.
#define REQUIRE_OK(expr)                                                                               \
    do {                                                                                               \
        const auto& moe_r_ = (expr);                                                                   \
        if (!::moe_test::status_of(moe_r_).ok()) {                                                     \
            ::moe_test::report_failure(__FILE__, __LINE__, "REQUIRE_OK(" #expr "): " + ::moe_test::status_of(moe_r_).message()); \
            throw ::moe_test::AbortTest{};                                                             \
        }                                                                                              \
    } while (0)
#define MOE_SKIP(why) throw ::moe_test::SkipTest{why}
