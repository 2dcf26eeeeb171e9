#include "services/model_info.h"

#include <QDateTime>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStringList>
#include <QtConcurrent/QtConcurrentRun>

namespace moe::app {

namespace {

QJsonObject infoJson(const moe::ModelDescription& d) {
    QJsonObject j;
    j["path"] = QString::fromStdString(d.path);
    j["format"] = QString::fromUtf8(moe::model_format_name(d.format));
    j["name"] = QString::fromStdString(d.name);
    j["source_architecture"] = QString::fromStdString(d.architecture);
    j["weight_bytes"] = static_cast<qint64>(d.weight_bytes);
    j["file_bytes"] = static_cast<qint64>(d.file_bytes);
    j["params_total"] = static_cast<qint64>(d.params.total);
    j["params_active"] = static_cast<qint64>(d.params.active);
    if (d.hparams) {
        const moe::HParams& hp = *d.hparams;
        j["architecture"] = QString::fromUtf8(moe::arch_name(hp.arch));
        j["layers"] = static_cast<qint64>(hp.n_layer);
        j["moe_layers"] = static_cast<qint64>(hp.n_moe_layers());
        j["embedding_length"] = static_cast<qint64>(hp.n_embd);
        j["vocab_size"] = static_cast<qint64>(hp.n_vocab);
        j["context_length"] = static_cast<qint64>(hp.n_ctx_train);
        j["attention"] = QString::fromLatin1(hp.is_mla() ? "mla" : (hp.n_head_kv == hp.n_head ? "mha" : "gqa"));
    }
    QJsonArray types;
    for (const moe::TensorTypeStats& t : d.tensor_types)
        types.append(QJsonObject{{"type", QString::fromStdString(t.type)},
                                 {"tensors", static_cast<qint64>(t.tensors)},
                                 {"bytes", static_cast<qint64>(t.bytes)}});
    j["tensor_types"] = types;
    QJsonArray warnings;
    for (const std::string& w : d.warnings) warnings.append(QString::fromStdString(w));
    j["warnings"] = warnings;
    return j;
}

ModelRecord recordOf(const moe::ModelDescription& d, const QString& path) {
    ModelRecord r;
    r.path = path;
    r.format = d.format == moe::ModelFormat::Safetensors ? ModelFormat::Safetensors : ModelFormat::Gguf;
    r.name = d.name.empty() ? QFileInfo(path).completeBaseName() : QString::fromStdString(d.name);
    r.architecture =
        d.hparams ? QString::fromUtf8(moe::arch_name(d.hparams->arch)) : QString::fromStdString(d.architecture);
    r.paramsTotal = static_cast<qint64>(d.params.total);
    r.paramsActive = static_cast<qint64>(d.params.active);
    if (d.hparams) {
        r.nExpert = static_cast<int>(d.hparams->n_expert);
        r.nExpertUsed = static_cast<int>(d.hparams->n_expert_used);
        r.nExpertShared = static_cast<int>(d.hparams->n_expert_shared);
        r.contextLength = d.hparams->n_ctx_train;
    }
    r.quantization = quantizationSummary(d);
    r.fileBytes = static_cast<qint64>(d.file_bytes);
    r.infoJson = QString::fromUtf8(QJsonDocument(infoJson(d)).toJson(QJsonDocument::Compact));
    return r;
}

}  // namespace

moe::MemoryPlan ModelInfo::plan(qint64 nCtx, moe::KvType kv) const {
    if (!description) return {};
    return moe::plan_model_memory(*description, kv, nCtx);
}

QString quantizationSummary(const moe::ModelDescription& description) {
    QStringList parts;
    for (const moe::TensorTypeStats& t : description.tensor_types)
        parts << QStringLiteral("%1 (%2)").arg(QString::fromStdString(t.type).toUpper()).arg(t.tensors);
    return parts.join(QStringLiteral(", "));
}

ModelInfo describeModelFile(const QString& path) {
    ModelInfo info;
    info.path = path;
    const QFileInfo file(path);
    if (!file.exists()) {
        info.error = QStringLiteral("%1: no such file or folder").arg(path);
        return info;
    }
    moe::Result<moe::ModelSource> source = moe::ModelSource::open(path.toStdString());
    if (!source.ok()) {
        // Engine messages already start with the file name; say so plainly when they do not.
        const QString message = QString::fromStdString(source.error());
        info.error = message.contains(file.fileName()) ? message : QStringLiteral("%1: %2").arg(path, message);
        return info;
    }
    const moe::ModelDescription& d = source->description();
    if (!d.has_weights || !d.hparams) {
        info.error = QStringLiteral("%1: holds a tokenizer but no model weights").arg(path);
        return info;
    }
    info.record = recordOf(d, path);
    info.description = std::make_shared<const moe::ModelDescription>(d);
    return info;
}

QFuture<ModelInfo> describeModelFileAsync(const QString& path) {
    return QtConcurrent::run([path] { return describeModelFile(path); });
}

}  // namespace moe::app
