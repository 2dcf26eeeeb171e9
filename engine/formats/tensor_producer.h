// Streaming tensor data into a writer without holding it in memory: the writer calls the producer when it
// reaches the tensor, and the producer hands its bytes to the sink in consecutive pieces.
#pragma once

#include "core/status.h"

#include <cstdint>
#include <functional>

namespace moe {

// Appends `n_bytes` bytes to the tensor being written.
using TensorSink = std::function<Status(const void* data, uint64_t n_bytes)>;
// Produces one tensor: must give the sink exactly the tensor's byte size in total (the writer checks it
// and fails naming the tensor otherwise). A failed Status aborts the write; the file is not created.
using TensorProducer = std::function<Status(const TensorSink& sink)>;

}  // namespace moe
