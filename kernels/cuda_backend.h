// The CUDA implementation of moe::Backend (backend/backend.h): device buffers from alloc(), every op on one
// stream with the launchers of this folder. All pointers given to its ops are device pointers (MatrixView data
// and block_scales included); RopeParams::freq_factors stays a host pointer and is uploaded once.
#pragma once

#include "backend/backend.h"

#include <memory>
#include <string>

namespace moe::cuda {

// Creates the backend on `device`; errors: no driver / no device ("no CUDA device: cudaGetDeviceCount returned
// 35 (insufficient driver)"), cuBLAS initialisation, stream creation.
Result<std::unique_ptr<Backend>> make_cuda_backend(int device);

}  // namespace moe::cuda
