// What the model library knows about a model file without loading it: ModelSource::open reads headers and
// metadata only (the weights stay memory-mapped, untouched), so describing a 100 GB model takes
// milliseconds of CPU but may wait on a cold disk, hence describeModelFileAsync() for the UI.
#pragma once

#include "storage/store_types.h"

#include "model/model_source.h"
#include "model/model_stats.h"

#include <QFuture>
#include <QMetaType>
#include <QString>

#include <memory>

namespace moe::app {

struct ModelInfo {
    QString path;
    QString error;       // empty when described; else says which file and what is wrong
    ModelRecord record;  // the library row (id 0, addedAtMs 0: the Store fills them)
    std::shared_ptr<const moe::ModelDescription> description;  // null when error is set

    bool ok() const { return error.isEmpty() && description != nullptr; }
    // Memory to run the model with `nCtx` tokens of context (weights + KV cache + workspace).
    moe::MemoryPlan plan(qint64 nCtx, moe::KvType kv = moe::KvType::F32) const;
};

// Blocking; callable from any thread. A tokenizer-only source or a folder without a model is an error.
ModelInfo describeModelFile(const QString& path);
// Runs describeModelFile on the global thread pool.
QFuture<ModelInfo> describeModelFileAsync(const QString& path);

// "Q8_0 (37), F32 (21)": tensor types by bytes, with their tensor counts.
QString quantizationSummary(const moe::ModelDescription& description);

}  // namespace moe::app

Q_DECLARE_METATYPE(moe::app::ModelInfo)
