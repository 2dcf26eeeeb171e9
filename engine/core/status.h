// Errors as values: the engine never throws across its API, never exits, never aborts.
// A Status carries a message a user can read ("file.gguf: tensor 'blk.0.attn_q.weight': ...").
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace moe {

class Status {
public:
    Status() = default;  // success
    static Status error(std::string message) { return Status(std::move(message)); }

    bool ok() const { return !m_failed; }
    const std::string& message() const { return m_message; }

    // Prefixes the message with context ("file.gguf: " + message).
    Status with_context(const std::string& context) const {
        return m_failed ? Status(context + ": " + m_message) : *this;
    }

private:
    explicit Status(std::string message) : m_failed(true), m_message(std::move(message)) {}
    bool m_failed = false;
    std::string m_message;
};

// Result<T>: either a value or a failed Status. Access value() only after checking ok().
template <class T>
class Result {
public:
    Result(T value) : m_data(std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Result(Status status) : m_data(std::move(status)) {  // NOLINT(google-explicit-constructor)
        assert(!std::get<Status>(m_data).ok() && "Result built from a success Status");
    }

    bool ok() const { return m_data.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(m_data); }
    const T& value() const& { return std::get<0>(m_data); }
    // By value: `const auto& x = f().value();` must not dangle once the temporary Result is gone.
    T value() && { return std::get<0>(std::move(m_data)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    // The failure; a success Status when ok().
    Status status() const { return ok() ? Status() : std::get<1>(m_data); }
    const std::string& error() const {
        static const std::string empty;
        return ok() ? empty : std::get<1>(m_data).message();
    }

private:
    std::variant<T, Status> m_data;
};

}  // namespace moe

// Propagates a failed Status from an expression yielding a Status.
#define MOE_RETURN_IF_ERROR(expr)                \
    do {                                         \
        ::moe::Status moe_status_ = (expr);      \
        if (!moe_status_.ok()) return moe_status_; \
    } while (0)

// Evaluates `expr` (a Result<T>); on failure returns its Status, else moves the value into `lhs`
// (a declaration or an lvalue). Expands to several statements: use braces under if/else.
#define MOE_ASSIGN_OR_RETURN_CONCAT2(a, b) a##b
#define MOE_ASSIGN_OR_RETURN_CONCAT(a, b) MOE_ASSIGN_OR_RETURN_CONCAT2(a, b)
#define MOE_ASSIGN_OR_RETURN(lhs, expr) \
    MOE_ASSIGN_OR_RETURN_IMPL(MOE_ASSIGN_OR_RETURN_CONCAT(moe_result_, __LINE__), lhs, expr)
#define MOE_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return tmp.status();           \
    lhs = std::move(tmp).value()
