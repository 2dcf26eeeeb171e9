// Plain records the Store reads and writes. Times are milliseconds since the Unix epoch (UTC), sizes are
// bytes; an optional figure the engine could not measure is std::nullopt (NULL in the database).
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QtGlobal>

#include <optional>
#include <utility>
#include <vector>

namespace moe::app {

// A value or a message saying what failed ("workbench.sqlite: SELECT ... : no such table: x").
// Errors travel as data: the Store never throws and never aborts.
template <class T>
class DbResult {
public:
    static DbResult success(T value) { return DbResult(std::move(value), QString()); }
    static DbResult failure(QString message) { return DbResult(T{}, std::move(message)); }

    bool ok() const { return m_error.isEmpty(); }
    const T& value() const { return m_value; }
    T takeValue() { return std::move(m_value); }
    const QString& error() const { return m_error; }

private:
    DbResult(T value, QString error) : m_value(std::move(value)), m_error(std::move(error)) {}
    T m_value;
    QString m_error;
};

// What a queued write reports once its batch committed (or failed). `id` is the new row's id for inserts.
struct WriteResult {
    qint64 id = 0;
    QString error;  // empty on success
    bool ok() const { return error.isEmpty(); }
};

enum class ModelFormat { Gguf, Safetensors, Demo };
QString modelFormatName(ModelFormat format);
std::optional<ModelFormat> modelFormatFromName(const QString& name);

struct ModelRecord {
    qint64 id = 0;
    QString path;  // the GGUF file or the safetensors folder; unique
    ModelFormat format = ModelFormat::Gguf;
    QString name;
    QString architecture;  // "deepseek2", "deepseek", "llama"
    std::optional<qint64> paramsTotal;
    std::optional<qint64> paramsActive;
    std::optional<int> nExpert;
    std::optional<int> nExpertUsed;
    std::optional<int> nExpertShared;
    QString quantization;  // summary, e.g. "Q4_K (312), F32 (121)"
    std::optional<qint64> contextLength;
    std::optional<qint64> fileBytes;
    qint64 addedAtMs = 0;
    std::optional<qint64> lastLoadedAtMs;
    QString notes;
    bool isDemo = false;                      // a random or built-in demo model, not a user's file
    QString infoJson = QStringLiteral("{}");  // the full `moewb info --json` document
};

struct SamplerPreset {
    qint64 id = 0;
    QString name;  // unique
    QString settingsJson = QStringLiteral("{}");
    qint64 createdAtMs = 0;
    qint64 updatedAtMs = 0;
};

struct Conversation {
    qint64 id = 0;
    QString title;
    qint64 createdAtMs = 0;
    qint64 updatedAtMs = 0;
    std::optional<qint64> modelId;
    QString systemPrompt;
    QString samplerJson = QStringLiteral("{}");
    std::optional<qint64> activeLeafId;  // the last message of the branch shown; null: the newest message
};

enum class MessageRole { System, User, Assistant, Tool };
QString messageRoleName(MessageRole role);
std::optional<MessageRole> messageRoleFromName(const QString& name);

// Per-reply figures, filled when a streamed reply is finalised.
struct ReplyStats {
    std::optional<qint64> promptTokens;
    std::optional<qint64> replyTokens;
    std::optional<double> ttftMs;
    std::optional<double> tokensPerS;
    QString finishReason;    // "stop", "length", "cancelled", "error"; empty while streaming
    QByteArray routingJson;  // routing summary (per layer x expert counts); empty: none
};

struct Message {
    qint64 id = 0;
    qint64 conversationId = 0;
    std::optional<qint64> parentId;  // null: a first message; siblings are branches
    MessageRole role = MessageRole::User;
    QString content;
    qint64 createdAtMs = 0;
    ReplyStats stats;
};

enum class RequestSource { Chat, Api, Eval, Bench };
QString requestSourceName(RequestSource source);

// One generation: how long it took and the latency of each generated token.
struct RequestRecord {
    qint64 id = 0;
    std::optional<qint64> modelId;
    std::optional<qint64> messageId;
    RequestSource source = RequestSource::Chat;
    qint64 startedAtMs = 0;
    qint64 promptTokens = 0;
    qint64 replyTokens = 0;
    std::optional<double> ttftMs;
    std::optional<double> tokensPerS;
    std::optional<double> totalMs;
    std::vector<float> tokenLatenciesMs;  // stored as a little-endian float32 blob
};

// One metrics sample; every figure is optional (no GPU, a /proc file unreadable).
struct MetricsSample {
    qint64 tsMs = 0;
    std::optional<double> cpuPercent;
    std::optional<qint64> ramUsedBytes;
    std::optional<qint64> rssBytes;
    std::optional<double> gpuUtilPercent;
    std::optional<qint64> gpuMemUsedBytes;
    std::optional<double> gpuPowerW;
    std::optional<double> gpuTempC;
};

struct BenchResult {
    qint64 id = 0;
    QString commit;
    QString machine;
    QString device;
    QString model;
    QString benchmark;  // "decode", "prefill", "gemm", ...
    QString figuresJson = QStringLiteral("{}");
    qint64 createdAtMs = 0;
};

// Percentiles use linear interpolation between closest ranks (numpy's default).
struct Percentiles {
    qint64 count = 0;
    double p50 = 0.0;
    double p90 = 0.0;
    double p99 = 0.0;
};

struct LatencyStats {
    qint64 requests = 0;
    Percentiles ttftMs;
    Percentiles tokenLatencyMs;  // over every generated token of every request in the range
    Percentiles tokensPerS;
};

}  // namespace moe::app
