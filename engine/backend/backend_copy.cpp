// The host-memory defaults of Backend's copy functions (the CPU backend's memory is host memory).
#include "backend/backend.h"

#include <cstring>

namespace moe {

Status Backend::upload(void* dst, const void* src, uint64_t n_bytes) {
    if (n_bytes) std::memmove(dst, src, n_bytes);
    return {};
}

Status Backend::download(void* dst, const void* src, uint64_t n_bytes) {
    return upload(dst, src, n_bytes);
}

Status Backend::upload_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t width, int64_t n) {
    if (width < 0 || n < 0 || ds < width || ss < width) return Status::error("copy: strides narrower than the rows");
    for (int64_t t = 0; t < n; ++t) std::memmove(dst + t * ds, src + t * ss, static_cast<size_t>(width) * 4);
    return {};
}

Status Backend::download_rows(float* dst, int64_t ds, const float* src, int64_t ss, int64_t width, int64_t n) {
    return upload_rows(dst, ds, src, ss, width, n);
}

}  // namespace moe
