// Store: per-generation requests, the metrics time series, benchmark results, latency percentiles.
#include "storage/store.h"

#include "storage/sql_util.h"

#include <QDateTime>
#include <QSqlError>
#include <QtEndian>

#include <algorithm>
#include <cmath>

namespace moe::app {

namespace {

QByteArray latenciesToBlob(const std::vector<float>& latencies) {
    QByteArray blob(static_cast<qsizetype>(latencies.size() * sizeof(float)), Qt::Uninitialized);
    for (size_t i = 0; i < latencies.size(); ++i) {
        qToLittleEndian<float>(latencies[i], blob.data() + i * sizeof(float));
    }
    return blob;
}

// A blob whose size is not a multiple of 4 (a foreign writer) keeps its whole floats only.
std::vector<float> latenciesFromBlob(const QByteArray& blob) {
    std::vector<float> latencies(static_cast<size_t>(blob.size()) / sizeof(float));
    for (size_t i = 0; i < latencies.size(); ++i) {
        latencies[i] = qFromLittleEndian<float>(blob.constData() + i * sizeof(float));
    }
    return latencies;
}

// Linear interpolation between closest ranks (numpy's default): p of 1..100 at 0.5 is 50.5.
double percentileOfSorted(const std::vector<double>& sorted, double fraction) {
    if (sorted.empty()) return 0.0;
    const double rank = fraction * static_cast<double>(sorted.size() - 1);
    const size_t below = static_cast<size_t>(std::floor(rank));
    const size_t above = std::min(below + 1, sorted.size() - 1);
    const double weight = rank - static_cast<double>(below);
    return sorted[below] + (sorted[above] - sorted[below]) * weight;
}

Percentiles percentilesOf(std::vector<double> values) {
    // NaN or infinite figures (a failed timer) would poison the sort; they are left out.
    values.erase(std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
                 values.end());
    std::sort(values.begin(), values.end());
    Percentiles p;
    p.count = static_cast<qint64>(values.size());
    p.p50 = percentileOfSorted(values, 0.50);
    p.p90 = percentileOfSorted(values, 0.90);
    p.p99 = percentileOfSorted(values, 0.99);
    return p;
}

const char* const kRequestColumns =
    "id, model_id, message_id, source, started_at_ms, prompt_tokens, reply_tokens, ttft_ms, tokens_per_s, "
    "total_ms, token_latencies_f32";

RequestRecord requestFromRow(const sql::Statement& q) {
    RequestRecord r;
    r.id = q.value(0).toLongLong();
    r.modelId = sql::optionalInt(q.value(1));
    r.messageId = sql::optionalInt(q.value(2));
    const QString source = q.value(3).toString();
    for (RequestSource s : {RequestSource::Chat, RequestSource::Api, RequestSource::Eval, RequestSource::Bench}) {
        if (requestSourceName(s) == source) r.source = s;
    }
    r.startedAtMs = q.value(4).toLongLong();
    r.promptTokens = q.value(5).toLongLong();
    r.replyTokens = q.value(6).toLongLong();
    r.ttftMs = sql::optionalDouble(q.value(7));
    r.tokensPerS = sql::optionalDouble(q.value(8));
    r.totalMs = sql::optionalDouble(q.value(9));
    r.tokenLatenciesMs = latenciesFromBlob(q.value(10).toByteArray());
    return r;
}

MetricsSample sampleFromRow(const sql::Statement& q) {
    MetricsSample s;
    s.tsMs = q.value(0).toLongLong();
    s.cpuPercent = sql::optionalDouble(q.value(1));
    s.ramUsedBytes = sql::optionalInt(q.value(2));
    s.rssBytes = sql::optionalInt(q.value(3));
    s.gpuUtilPercent = sql::optionalDouble(q.value(4));
    s.gpuMemUsedBytes = sql::optionalInt(q.value(5));
    s.gpuPowerW = sql::optionalDouble(q.value(6));
    s.gpuTempC = sql::optionalDouble(q.value(7));
    return s;
}

}  // namespace

QFuture<WriteResult> Store::recordRequest(const RequestRecord& request) {
    return write(QStringLiteral("recordRequest"), [request](const QSqlDatabase& db) {
        sql::Statement q(db,
                         QStringLiteral("INSERT INTO requests (model_id, message_id, source, started_at_ms, "
                                        "prompt_tokens, reply_tokens, ttft_ms, "
                                        "tokens_per_s, total_ms, token_latencies_f32) VALUES (?,?,?,?,?,?,?,?,?,?)"));
        q.bindAll(
            {sql::fromOptional(request.modelId), sql::fromOptional(request.messageId),
             requestSourceName(request.source), request.startedAtMs, request.promptTokens, request.replyTokens,
             sql::fromOptional(request.ttftMs), sql::fromOptional(request.tokensPerS),
             sql::fromOptional(request.totalMs),
             request.tokenLatenciesMs.empty() ? QVariant() : QVariant(latenciesToBlob(request.tokenLatenciesMs))});
        if (!q.exec()) return WriteResult{0, q.error()};
        return WriteResult{q.lastInsertId(), QString()};
    });
}

QFuture<WriteResult> Store::appendSamples(const QList<MetricsSample>& samples) {
    return write(QStringLiteral("appendSamples"), [samples](const QSqlDatabase& db) {
        // One prepared statement for the whole list: binding is the only per-row cost.
        QSqlQuery q(db);
        if (!q.prepare(QStringLiteral("INSERT INTO samples (ts_ms, cpu_percent, ram_used_bytes, rss_bytes, "
                                      "gpu_util_percent, gpu_mem_used_bytes, gpu_power_w, gpu_temp_c) "
                                      "VALUES (?,?,?,?,?,?,?,?)"))) {
            return WriteResult{0, sql::describeError(db.databaseName(), q.lastQuery(), q.lastError().text())};
        }
        qint64 lastId = 0;
        for (const MetricsSample& s : samples) {
            q.bindValue(0, s.tsMs);
            q.bindValue(1, sql::fromOptional(s.cpuPercent));
            q.bindValue(2, sql::fromOptional(s.ramUsedBytes));
            q.bindValue(3, sql::fromOptional(s.rssBytes));
            q.bindValue(4, sql::fromOptional(s.gpuUtilPercent));
            q.bindValue(5, sql::fromOptional(s.gpuMemUsedBytes));
            q.bindValue(6, sql::fromOptional(s.gpuPowerW));
            q.bindValue(7, sql::fromOptional(s.gpuTempC));
            if (!q.exec()) {
                return WriteResult{0, sql::describeError(db.databaseName(), q.lastQuery(), q.lastError().text())};
            }
            lastId = q.lastInsertId().toLongLong();
        }
        return WriteResult{lastId, QString()};
    });
}

QFuture<WriteResult> Store::pruneSamplesBefore(qint64 tsMs) {
    return write(QStringLiteral("pruneSamplesBefore"), [tsMs](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("DELETE FROM samples WHERE ts_ms < ?"));
        q.bind(tsMs);
        if (!q.exec()) return WriteResult{0, q.error()};
        return WriteResult{q.numRowsAffected(), QString()};
    });
}

QFuture<WriteResult> Store::addBenchResult(const BenchResult& result) {
    const qint64 nowMs = QDateTime::currentMSecsSinceEpoch();
    return write(QStringLiteral("addBenchResult"), [result, nowMs](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("INSERT INTO bench_results (commit_id, machine, device, model, benchmark, "
                                            "figures_json, created_at_ms) VALUES (?,?,?,?,?,?,?)"));
        q.bindAll({result.commit, result.machine, result.device, result.model, result.benchmark, result.figuresJson,
                   result.createdAtMs > 0 ? result.createdAtMs : nowMs});
        if (!q.exec()) return WriteResult{0, q.error()};
        return WriteResult{q.lastInsertId(), QString()};
    });
}

DbResult<QList<RequestRecord>> Store::requestsBetween(qint64 t0Ms, qint64 t1Ms) const {
    QList<RequestRecord> list;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT %1 FROM requests WHERE started_at_ms >= ? AND started_at_ms < ? "
                                            "ORDER BY started_at_ms, id")
                                 .arg(QLatin1String(kRequestColumns)));
        q.bindAll({t0Ms, t1Ms});
        if (!q.exec()) return q.error();
        while (q.next()) list.append(requestFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<RequestRecord>>::failure(error);
    return DbResult<QList<RequestRecord>>::success(std::move(list));
}

DbResult<LatencyStats> Store::latencyPercentiles(qint64 t0Ms, qint64 t1Ms) const {
    std::vector<double> ttft;
    std::vector<double> perToken;
    std::vector<double> rates;
    qint64 requests = 0;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT ttft_ms, tokens_per_s, token_latencies_f32 FROM requests "
                                            "WHERE started_at_ms >= ? AND started_at_ms < ?"));
        q.bindAll({t0Ms, t1Ms});
        if (!q.exec()) return q.error();
        while (q.next()) {
            ++requests;
            if (!q.value(0).isNull()) ttft.push_back(q.value(0).toDouble());
            if (!q.value(1).isNull()) rates.push_back(q.value(1).toDouble());
            for (float ms : latenciesFromBlob(q.value(2).toByteArray())) perToken.push_back(ms);
        }
        return QString();
    });
    if (!error.isEmpty()) return DbResult<LatencyStats>::failure(error);
    LatencyStats stats;
    stats.requests = requests;
    stats.ttftMs = percentilesOf(std::move(ttft));
    stats.tokenLatencyMs = percentilesOf(std::move(perToken));
    stats.tokensPerS = percentilesOf(std::move(rates));
    return DbResult<LatencyStats>::success(stats);
}

DbResult<QList<MetricsSample>> Store::samplesBetween(qint64 t0Ms, qint64 t1Ms, int maxPoints) const {
    QList<MetricsSample> list;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        if (t1Ms <= t0Ms) return QString();
        sql::Statement count(db, QStringLiteral("SELECT COUNT(*) FROM samples WHERE ts_ms >= ? AND ts_ms < ?"));
        count.bindAll({t0Ms, t1Ms});
        if (!count.exec() || !count.next()) return count.error();
        const qint64 rows = count.value(0).toLongLong();
        count.finish();
        const qint64 points = qMax(1, maxPoints);
        QString sqlText;
        qint64 bucketMs = 1;
        if (rows <= points) {
            sqlText = QStringLiteral(
                "SELECT ts_ms, cpu_percent, ram_used_bytes, rss_bytes, gpu_util_percent, "
                "gpu_mem_used_bytes, gpu_power_w, gpu_temp_c FROM samples "
                "WHERE ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms, id");
        } else {
            // ceil(range / points) wide buckets: at most `points` of them.
            bucketMs = (t1Ms - t0Ms + points - 1) / points;
            sqlText =
                QStringLiteral(
                    "SELECT CAST(AVG(ts_ms) AS INTEGER), AVG(cpu_percent), CAST(AVG(ram_used_bytes) AS INTEGER), "
                    "CAST(AVG(rss_bytes) AS INTEGER), AVG(gpu_util_percent), CAST(AVG(gpu_mem_used_bytes) AS INTEGER), "
                    "AVG(gpu_power_w), AVG(gpu_temp_c) FROM samples WHERE ts_ms >= ? AND ts_ms < ? "
                    "GROUP BY (ts_ms - %1) / %2 ORDER BY 1")
                    .arg(t0Ms)
                    .arg(bucketMs);
        }
        sql::Statement q(db, sqlText);
        q.bindAll({t0Ms, t1Ms});
        if (!q.exec()) return q.error();
        while (q.next()) list.append(sampleFromRow(q));
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<MetricsSample>>::failure(error);
    return DbResult<QList<MetricsSample>>::success(std::move(list));
}

DbResult<qint64> Store::sampleCount() const {
    qint64 rows = 0;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        QString failure;
        rows = sql::scalar(db, QStringLiteral("SELECT COUNT(*) FROM samples"), &failure).toLongLong();
        return failure;
    });
    if (!error.isEmpty()) return DbResult<qint64>::failure(error);
    return DbResult<qint64>::success(rows);
}

DbResult<QList<BenchResult>> Store::benchResults(const QString& benchmark, const QString& model, int limit) const {
    QList<BenchResult> list;
    const QString error = readSnapshot([&](const QSqlDatabase& db) {
        sql::Statement q(db, QStringLiteral("SELECT id, commit_id, machine, device, model, benchmark, figures_json, "
                                            "created_at_ms FROM bench_results "
                                            "WHERE (? = '' OR benchmark = ?) AND (? = '' OR model = ?) ORDER BY "
                                            "created_at_ms DESC, id DESC LIMIT ?"));
        q.bindAll({benchmark, benchmark, model, model, qMax(0, limit)});
        if (!q.exec()) return q.error();
        while (q.next()) {
            list.append(BenchResult{q.value(0).toLongLong(), q.value(1).toString(), q.value(2).toString(),
                                    q.value(3).toString(), q.value(4).toString(), q.value(5).toString(),
                                    q.value(6).toString(), q.value(7).toLongLong()});
        }
        return QString();
    });
    if (!error.isEmpty()) return DbResult<QList<BenchResult>>::failure(error);
    return DbResult<QList<BenchResult>>::success(std::move(list));
}

}  // namespace moe::app
