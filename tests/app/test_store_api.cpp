// The Store's typed API round-trips: models, presets, conversations with branches, search, messages
// finalised after streaming, requests and latency percentiles, samples with downsampling, bench results,
// and a failing job rolling back alone inside its batch.
#include "services/routing_codec.h"
#include "storage/store.h"
#include "store_test_util.h"

#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtConcurrent>
#include <QtTest>

using namespace moe::app;
using moe_test_app::waitFor;

namespace {

Message makeMessage(qint64 conversationId, std::optional<qint64> parentId, MessageRole role, const QString& text) {
    Message m;
    m.conversationId = conversationId;
    m.parentId = parentId;
    m.role = role;
    m.content = text;
    return m;
}

QList<qint64> idsOf(const QList<Message>& messages) {
    QList<qint64> ids;
    for (const Message& m : messages) ids.append(m.id);
    return ids;
}

}  // namespace

class TestStoreApi : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void cleanup();
    void modelsRoundTrip();
    void presetsRoundTrip();
    void conversationsAndSearch();
    void branches();
    void streamedReplyFinalised();
    void replyRoutingRoundTrip();
    void deepConversationDeletes();
    void percentilesKnownValues();
    void samplesDownsampled();
    void benchResults();
    void failingJobRollsBackAlone();
    void readsFromWorkerThreads();
    void batchesFillOrTimeOut();
    void closeCommitsQueuedJobs();

private:
    QTemporaryDir* m_dir = nullptr;
    Store* m_store = nullptr;
};

void TestStoreApi::init() {
    m_dir = new QTemporaryDir;
    m_store = new Store;
    QCOMPARE(m_store->open(m_dir->filePath(QStringLiteral("workbench.sqlite"))), QString());
}

void TestStoreApi::cleanup() {
    delete m_store;
    delete m_dir;
}

void TestStoreApi::modelsRoundTrip() {
    ModelRecord m;
    m.path = QStringLiteral("/models/ds-v2-lite-q4_k.gguf");
    m.name = QStringLiteral("DeepSeek-V2-Lite-Chat");
    m.architecture = QStringLiteral("deepseek2");
    m.paramsTotal = Q_INT64_C(15706484224);
    m.paramsActive = Q_INT64_C(2660000000);
    m.nExpert = 64;
    m.nExpertUsed = 6;
    m.nExpertShared = 2;
    m.quantization = QStringLiteral("Q4_K (270), Q6_K (27), F32 (108)");
    m.contextLength = 163840;
    m.fileBytes = Q_INT64_C(10364416096);
    m.notes = QStringLiteral("first try");
    m.infoJson = QStringLiteral("{\"architecture\":\"deepseek2\"}");
    const WriteResult added = waitFor(m_store->addModel(m));
    QVERIFY2(added.ok(), qPrintable(added.error));
    // Re-adding the same path refreshes the metadata but keeps the id and the user's notes.
    ModelRecord again = m;
    again.name = QStringLiteral("renamed by the file");
    again.notes = QStringLiteral("");
    QCOMPARE(waitFor(m_store->addModel(again)).id, added.id);
    ModelRecord demo;
    demo.path = QStringLiteral("demo://tiny-moe");
    demo.format = ModelFormat::Demo;
    demo.name = QStringLiteral("tiny random MoE");
    demo.isDemo = true;
    const WriteResult demoAdded = waitFor(m_store->addModel(demo));
    QVERIFY2(demoAdded.ok(), qPrintable(demoAdded.error));
    const qint64 demoId = demoAdded.id;
    const WriteResult loaded = waitFor(m_store->markModelLoaded(demoId, 5000));
    QVERIFY2(loaded.ok(), qPrintable(loaded.error));

    const auto list = m_store->listModels();
    QVERIFY2(list.ok(), qPrintable(list.error()));
    QCOMPARE(list.value().size(), 2);
    QCOMPARE(list.value()[0].id, demoId);  // most recently loaded first
    QVERIFY(list.value()[0].isDemo);
    QCOMPARE(list.value()[0].format, ModelFormat::Demo);
    const ModelRecord back = m_store->model(added.id).value();
    QCOMPARE(back.name, QStringLiteral("renamed by the file"));
    QCOMPARE(back.notes, QStringLiteral("first try"));
    QCOMPARE(back.paramsActive.value(), Q_INT64_C(2660000000));
    QCOMPARE(back.nExpertShared.value(), 2);
    QCOMPARE(back.contextLength.value(), Q_INT64_C(163840));
    QVERIFY(!back.lastLoadedAtMs.has_value());
    QVERIFY(back.addedAtMs > 0);

    ModelRecord edited = back;
    edited.notes = QStringLiteral("good at code");
    QVERIFY(waitFor(m_store->updateModel(edited)).ok());
    QCOMPARE(m_store->model(added.id).value().notes, QStringLiteral("good at code"));
    // A conversation keeps existing when its model is removed (model_id becomes NULL).
    Conversation c;
    c.modelId = added.id;
    const qint64 conversationId = waitFor(m_store->createConversation(c)).id;
    QVERIFY(waitFor(m_store->removeModel(added.id)).ok());
    QVERIFY(!m_store->conversation(conversationId).value().modelId.has_value());
    const WriteResult missing = waitFor(m_store->removeModel(added.id));
    QVERIFY(!missing.ok() && missing.error.contains(QStringLiteral("does not exist")));
    QVERIFY(!m_store->model(added.id).ok());
}

void TestStoreApi::presetsRoundTrip() {
    const qint64 id = waitFor(m_store->savePreset(SamplerPreset{0, QStringLiteral("precise"),
                                                                QStringLiteral("{\"temperature\":0.2}"), 0, 0}))
                          .id;
    QVERIFY(id > 0);
    waitFor(m_store->savePreset(
        SamplerPreset{0, QStringLiteral("Creative"), QStringLiteral("{\"temperature\":1.1}"), 0, 0}));
    QCOMPARE(waitFor(m_store->savePreset(
                         SamplerPreset{0, QStringLiteral("precise"), QStringLiteral("{\"temperature\":0.1}"), 0, 0}))
                 .id,
             id);
    const auto presets = m_store->listPresets().value();
    QCOMPARE(presets.size(), 2);
    QCOMPARE(presets[0].name, QStringLiteral("Creative"));
    QCOMPARE(presets[1].settingsJson, QStringLiteral("{\"temperature\":0.1}"));
    QVERIFY(waitFor(m_store->removePreset(id)).ok());
    QCOMPARE(m_store->listPresets().value().size(), 1);
}

void TestStoreApi::conversationsAndSearch() {
    Conversation a;
    a.title = QStringLiteral("Rust lifetimes");
    a.createdAtMs = 1000;
    a.systemPrompt = QStringLiteral("be brief");
    a.samplerJson = QStringLiteral("{\"top_p\":0.9}");
    const qint64 idA = waitFor(m_store->createConversation(a)).id;
    Conversation b;
    b.title = QStringLiteral("Cooking");
    b.createdAtMs = 2000;
    const qint64 idB = waitFor(m_store->createConversation(b)).id;
    Message early = makeMessage(idB, {}, MessageRole::User, QStringLiteral("Risotto with 100% arborio?"));
    early.createdAtMs = 2500;
    waitFor(m_store->appendMessage(early));
    Message late = makeMessage(idA, {}, MessageRole::User, QStringLiteral("What does 'static mean?"));
    late.createdAtMs = 3000;
    waitFor(m_store->appendMessage(late));

    const auto list = m_store->listConversations().value();
    QCOMPARE(list.size(), 2);
    QCOMPARE(list[0].id, idA);  // its message moved updated_at past B's
    QCOMPARE(list[0].updatedAtMs, Q_INT64_C(3000));
    QCOMPARE(list[0].systemPrompt, QStringLiteral("be brief"));
    QCOMPARE(list[0].samplerJson, QStringLiteral("{\"top_p\":0.9}"));

    QCOMPARE(m_store->searchConversations(QStringLiteral("rust")).value().size(), 1);      // title, any case
    QCOMPARE(m_store->searchConversations(QStringLiteral("ARBORIO")).value()[0].id, idB);  // content
    QCOMPARE(m_store->searchConversations(QStringLiteral("100%")).value().size(), 1);      // % is literal
    QCOMPARE(m_store->searchConversations(QStringLiteral("1_0")).value().size(), 0);       // _ is literal
    QCOMPARE(m_store->searchConversations(QStringLiteral("'static")).value().size(), 1);
    QCOMPARE(m_store->searchConversations(QString()).value().size(), 2);

    QVERIFY(waitFor(m_store->renameConversation(idB, QStringLiteral("Italian cooking"))).ok());
    QCOMPARE(m_store->conversation(idB).value().title, QStringLiteral("Italian cooking"));
    Conversation settings = m_store->conversation(idB).value();
    settings.systemPrompt = QStringLiteral("you are a chef");
    QVERIFY(waitFor(m_store->updateConversationSettings(settings)).ok());
    QCOMPARE(m_store->conversation(idB).value().systemPrompt, QStringLiteral("you are a chef"));
    QVERIFY(waitFor(m_store->deleteConversation(idB)).ok());
    QCOMPARE(m_store->listConversations().value().size(), 1);
    QCOMPARE(m_store->searchConversations(QStringLiteral("arborio")).value().size(), 0);
    QVERIFY(!waitFor(m_store->renameConversation(idB, QStringLiteral("x"))).ok());
}

void TestStoreApi::branches() {
    const qint64 c = waitFor(m_store->createConversation(Conversation{})).id;
    const qint64 u1 = waitFor(m_store->appendMessage(makeMessage(c, {}, MessageRole::User, QStringLiteral("q1")))).id;
    const qint64 a1 =
        waitFor(m_store->appendMessage(makeMessage(c, u1, MessageRole::Assistant, QStringLiteral("a1")))).id;
    // Regenerate: a second reply to u1 is a branch and becomes the active one.
    const qint64 a2 =
        waitFor(m_store->appendMessage(makeMessage(c, u1, MessageRole::Assistant, QStringLiteral("a2")))).id;
    QCOMPARE(idsOf(m_store->activePath(c).value()), (QList<qint64>{u1, a2}));
    QCOMPARE(idsOf(m_store->childrenOf(c, u1).value()), (QList<qint64>{a1, a2}));
    QCOMPARE(idsOf(m_store->childrenOf(c, 0).value()), (QList<qint64>{u1}));
    QCOMPARE(m_store->conversation(c).value().activeLeafId.value_or(0), a2);

    // Switch back to the first reply and continue from there.
    QVERIFY(waitFor(m_store->setActiveLeaf(c, a1)).ok());
    QCOMPARE(idsOf(m_store->activePath(c).value()), (QList<qint64>{u1, a1}));
    const qint64 u2 = waitFor(m_store->appendMessage(makeMessage(c, a1, MessageRole::User, QStringLiteral("q2")))).id;
    const qint64 a3 =
        waitFor(m_store->appendMessage(makeMessage(c, u2, MessageRole::Assistant, QStringLiteral("a3")))).id;
    QCOMPARE(idsOf(m_store->activePath(c).value()), (QList<qint64>{u1, a1, u2, a3}));
    QCOMPARE(idsOf(m_store->messagesOf(c, a2).value()), (QList<qint64>{u1, a2}));
    QCOMPARE(m_store->latestLeafUnder(a1).value(), a3);
    QCOMPARE(m_store->latestLeafUnder(u1).value(), a2);  // the newest child of u1 is a2, a leaf
    QCOMPARE(m_store->latestLeafUnder(a3).value(), a3);

    // Cross-conversation mistakes are refused with a message.
    const qint64 other = waitFor(m_store->createConversation(Conversation{})).id;
    const WriteResult cross =
        waitFor(m_store->appendMessage(makeMessage(other, a1, MessageRole::User, QStringLiteral("x"))));
    QVERIFY2(!cross.ok() && cross.error.contains(QStringLiteral("belongs to conversation")), qPrintable(cross.error));
    QVERIFY(!waitFor(m_store->setActiveLeaf(other, a1)).ok());
    QVERIFY(!m_store->messagesOf(other, a1).ok());
    QCOMPARE(m_store->activePath(other).value().size(), 0);

    // Deleting a1 removes its subtree; the active leaf (a3) is gone, so the newest message (a2) shows.
    QVERIFY(waitFor(m_store->deleteMessage(a1)).ok());
    QCOMPARE(idsOf(m_store->activePath(c).value()), (QList<qint64>{u1, a2}));
    QCOMPARE(idsOf(m_store->childrenOf(c, u1).value()), (QList<qint64>{a2}));
    QVERIFY(!waitFor(m_store->deleteMessage(u2)).ok());
}

void TestStoreApi::streamedReplyFinalised() {
    const qint64 c = waitFor(m_store->createConversation(Conversation{})).id;
    const qint64 u = waitFor(m_store->appendMessage(makeMessage(c, {}, MessageRole::User, QStringLiteral("hi")))).id;
    // The reply row exists while it streams (empty, no stats), then gets its content and figures at the end.
    const qint64 r = waitFor(m_store->appendMessage(makeMessage(c, u, MessageRole::Assistant, QString()))).id;
    QCOMPARE(m_store->activePath(c).value().size(), 2);
    QVERIFY(!m_store->activePath(c).value()[1].stats.replyTokens.has_value());
    ReplyStats stats;
    stats.promptTokens = 12;
    stats.replyTokens = 34;
    stats.ttftMs = 81.5;
    stats.tokensPerS = 23.25;
    stats.finishReason = QStringLiteral("stop");
    stats.routingJson = QByteArray("{\"layers\":[[1,2,3]]}");
    QVERIFY(waitFor(m_store->updateMessage(r, QStringLiteral("Hello! How can I help?"), stats)).ok());
    const Message back = m_store->activePath(c).value()[1];
    QCOMPARE(back.content, QStringLiteral("Hello! How can I help?"));
    QCOMPARE(back.role, MessageRole::Assistant);
    QCOMPARE(back.stats.promptTokens.value(), Q_INT64_C(12));
    QCOMPARE(back.stats.replyTokens.value(), Q_INT64_C(34));
    QCOMPARE(back.stats.ttftMs.value(), 81.5);
    QCOMPARE(back.stats.tokensPerS.value(), 23.25);
    QCOMPARE(back.stats.finishReason, QStringLiteral("stop"));
    QCOMPARE(back.stats.routingJson, stats.routingJson);
    QVERIFY(!waitFor(m_store->updateMessage(r + 100, QString(), stats)).ok());
}

// Per-token routing: stored with the reply, decoded as written, replaced by a second save, gone with the message.
void TestStoreApi::replyRoutingRoundTrip() {
    const qint64 c = waitFor(m_store->createConversation(Conversation{})).id;
    const qint64 u = waitFor(m_store->appendMessage(makeMessage(c, {}, MessageRole::User, QStringLiteral("hi")))).id;
    const qint64 r =
        waitFor(m_store->appendMessage(makeMessage(c, u, MessageRole::Assistant, QStringLiteral("yo")))).id;
    QVERIFY(m_store->messageRouting(r).value().isEmpty());
    RoutingSnapshot s;
    s.nExpert = 6;
    s.k = 2;
    s.nShared = 1;
    s.moeLayers = {1, 2};
    s.tokens = {17, 4};
    s.positions = {30, 31};
    s.tokenTexts = {QStringLiteral(" héllo"), QString()};
    s.experts = {5, 0, 1, 2, 3, 4, 0, 5};  // [2 rows][2 layers][k 2]
    s.weights = {0.75f, 0.25f, 0.5f, 0.5f, 1.5f, 1e-3f, 2.5f, 0.125f};
    QVERIFY(encodeRouting(RoutingSnapshot{}).isEmpty());
    const QByteArray blob = encodeRouting(s);
    QVERIFY(waitFor(m_store->saveMessageRouting(r, s.rows(), blob)).ok());
    const std::optional<RoutingSnapshot> back = decodeRouting(m_store->messageRouting(r).value());
    QVERIFY(back.has_value());
    QCOMPARE(back->nExpert, 6);
    QCOMPARE(back->k, 2);
    QCOMPARE(back->nShared, 1);
    QCOMPARE(back->moeLayers, s.moeLayers);
    QCOMPARE(back->tokens, s.tokens);
    QCOMPARE(back->positions, s.positions);
    QCOMPARE(back->tokenTexts, s.tokenTexts);
    QCOMPARE(back->experts, s.experts);
    for (qsizetype i = 0; i < s.weights.size(); ++i)
        QVERIFY(qAbs(back->weights[i] - s.weights[i]) <= 1e-3f * s.weights[i]);
    // Corrupt or truncated blobs are refused, never read past their end.
    QVERIFY(!decodeRouting(blob.left(blob.size() - 1)).has_value());
    QByteArray badId = blob;
    badId[badId.size() - 2 * 8 * 2] = char(9);  // the first expert id: 9 >= n_expert
    QVERIFY(!decodeRouting(badId).has_value());
    QVERIFY(!decodeRouting(QByteArray("MWRT")).has_value());

    s.tokens = {17};
    s.positions = {30};
    s.tokenTexts = {QStringLiteral("x")};
    s.experts.resize(4);
    s.weights.resize(4);
    QVERIFY(waitFor(m_store->saveMessageRouting(r, 1, encodeRouting(s))).ok());
    QCOMPARE(decodeRouting(m_store->messageRouting(r).value())->rows(), 1);
    QVERIFY(waitFor(m_store->deleteMessage(u)).ok());
    QVERIFY(m_store->messageRouting(r).value().isEmpty());
}

void TestStoreApi::deepConversationDeletes() {
    // Deeper than SQLite's trigger depth limit (1000): deletes must not rely on cascade recursion.
    const qint64 c = waitFor(m_store->createConversation(Conversation{})).id;
    std::optional<qint64> parent;
    QFuture<WriteResult> last;
    // Ids are assigned in order by the single writer, so parents can be predicted: 1..1500 in a chain.
    for (int i = 0; i < 1500; ++i) {
        last = m_store->appendMessage(makeMessage(c, parent, MessageRole::User, QString::number(i)));
        parent = i + 1;
    }
    QVERIFY2(waitFor(last).ok(), qPrintable(last.result().error));
    QCOMPARE(m_store->activePath(c).value().size(), 1500);
    QCOMPARE(m_store->latestLeafUnder(1).value(), Q_INT64_C(1500));
    QVERIFY(waitFor(m_store->deleteMessage(700)).ok());
    QCOMPARE(m_store->activePath(c).value().size(), 699);
    const WriteResult removed = waitFor(m_store->deleteConversation(c));
    QVERIFY2(removed.ok(), qPrintable(removed.error));
    QCOMPARE(m_store->childrenOf(c, 0).value().size(), 0);
}

void TestStoreApi::percentilesKnownValues() {
    // 100 requests: TTFT 1..100 ms, tokens/s 101..200, each with 10 token latencies of i ms.
    for (int i = 1; i <= 100; ++i) {
        RequestRecord r;
        r.source = i % 2 ? RequestSource::Chat : RequestSource::Api;
        r.startedAtMs = 10000 + i;
        r.promptTokens = 5;
        r.replyTokens = 10;
        r.ttftMs = i;
        r.tokensPerS = 100 + i;
        r.totalMs = 10.0 * i;
        r.tokenLatenciesMs.assign(10, static_cast<float>(i));
        m_store->recordRequest(r);
    }
    RequestRecord outside;
    outside.startedAtMs = 50000;
    outside.ttftMs = 1e6;
    m_store->recordRequest(outside);
    QVERIFY(waitFor(m_store->flush()).ok());

    const auto stats = m_store->latencyPercentiles(10000, 20000);
    QVERIFY2(stats.ok(), qPrintable(stats.error()));
    QCOMPARE(stats.value().requests, Q_INT64_C(100));
    QCOMPARE(stats.value().ttftMs.count, Q_INT64_C(100));
    QCOMPARE(stats.value().ttftMs.p50, 50.5);  // linear interpolation: rank 49.5 between 50 and 51
    QVERIFY(qAbs(stats.value().ttftMs.p90 - 90.1) < 1e-9);
    QVERIFY(qAbs(stats.value().ttftMs.p99 - 99.01) < 1e-9);
    QCOMPARE(stats.value().tokenLatencyMs.count, Q_INT64_C(1000));
    QCOMPARE(stats.value().tokenLatencyMs.p50, 50.5);  // ranks 499/500 are values 50 and 51
    QCOMPARE(stats.value().tokensPerS.p50, 150.5);

    const auto requests = m_store->requestsBetween(10050, 10052).value();
    QCOMPARE(requests.size(), 2);
    QCOMPARE(requests[0].source, RequestSource::Api);
    QCOMPARE(requests[0].tokenLatenciesMs, std::vector<float>(10, 50.0f));
    QCOMPARE(requests[0].totalMs.value(), 500.0);
    QCOMPARE(m_store->latencyPercentiles(0, 100).value().requests, Q_INT64_C(0));
    QCOMPARE(m_store->latencyPercentiles(0, 100).value().ttftMs.p99, 0.0);
}

void TestStoreApi::samplesDownsampled() {
    QList<MetricsSample> samples;
    for (int t = 0; t < 1000; ++t) {
        MetricsSample s;
        s.tsMs = 100000 + t;
        s.cpuPercent = t % 100;
        s.rssBytes = 1000 + t;
        if (t % 2 == 0) s.gpuUtilPercent = 50.0;  // half the samples lack a GPU figure
        samples.append(s);
    }
    QVERIFY(waitFor(m_store->appendSamples(samples)).ok());
    QCOMPARE(m_store->sampleCount().value(), Q_INT64_C(1000));

    const auto raw = m_store->samplesBetween(100000, 100050, 100).value();
    QCOMPARE(raw.size(), 50);
    QCOMPARE(raw[3].tsMs, Q_INT64_C(100003));
    QVERIFY(!raw[3].gpuUtilPercent.has_value());
    QVERIFY(!raw[3].ramUsedBytes.has_value());
    QCOMPARE(raw[4].gpuUtilPercent.value(), 50.0);

    // 1000 samples into 100 buckets of 10 ms: bucket k averages ts 10k..10k+9.
    const auto down = m_store->samplesBetween(100000, 101000, 100).value();
    QCOMPARE(down.size(), 100);
    QCOMPARE(down[0].cpuPercent.value(), 4.5);
    QCOMPARE(down[12].cpuPercent.value(), 24.5);           // ts 120..129 -> cpu 20..29
    QCOMPARE(down[12].rssBytes.value(), Q_INT64_C(1124));  // mean 1124.5, cast to an integer
    QCOMPARE(down[12].gpuUtilPercent.value(), 50.0);       // the mean of the non-null values
    QVERIFY(!down[12].ramUsedBytes.has_value());
    QVERIFY(down[12].tsMs >= 100120 && down[12].tsMs < 100130);
    for (int i = 1; i < down.size(); ++i) QVERIFY(down[i].tsMs > down[i - 1].tsMs);
    QVERIFY(m_store->samplesBetween(100000, 101000, 7).value().size() <= 7);
    QCOMPARE(m_store->samplesBetween(101000, 100000, 10).value().size(), 0);

    QCOMPARE(waitFor(m_store->pruneSamplesBefore(100500)).id, Q_INT64_C(500));
    QCOMPARE(m_store->sampleCount().value(), Q_INT64_C(500));
}

void TestStoreApi::benchResults() {
    m_store->addBenchResult(BenchResult{0, QStringLiteral("abc123"), QStringLiteral("box"), QStringLiteral("cpu"),
                                        QStringLiteral("v2-lite"), QStringLiteral("decode"),
                                        QStringLiteral("{\"tokens_per_s\":9.5}"), 100});
    m_store->addBenchResult(BenchResult{0, QStringLiteral("def456"), QStringLiteral("box"), QStringLiteral("cpu"),
                                        QStringLiteral("v2-lite"), QStringLiteral("decode"),
                                        QStringLiteral("{\"tokens_per_s\":10.5}"), 200});
    m_store->addBenchResult(BenchResult{0, QStringLiteral("def456"), QStringLiteral("box"), QStringLiteral("cpu"),
                                        QStringLiteral("v2-lite"), QStringLiteral("prefill"), QStringLiteral("{}"),
                                        300});
    QVERIFY(waitFor(m_store->flush()).ok());
    const auto decode = m_store->benchResults(QStringLiteral("decode"), QStringLiteral("v2-lite")).value();
    QCOMPARE(decode.size(), 2);
    QCOMPARE(decode[0].commit, QStringLiteral("def456"));
    QCOMPARE(decode[0].figuresJson, QStringLiteral("{\"tokens_per_s\":10.5}"));
    QCOMPARE(m_store->benchResults(QString(), QString()).value().size(), 3);
}

void TestStoreApi::failingJobRollsBackAlone() {
    QSignalSpy failures(m_store, &Store::writeFailed);
    const qint64 c = waitFor(m_store->createConversation(Conversation{})).id;
    // Queued back to back: one batch. The middle job fails (no such conversation) and must leave no row.
    auto good1 = m_store->appendMessage(makeMessage(c, {}, MessageRole::User, QStringLiteral("one")));
    auto bad = m_store->appendMessage(makeMessage(c + 99, {}, MessageRole::User, QStringLiteral("lost")));
    auto good2 = m_store->appendMessage(makeMessage(c, {}, MessageRole::User, QStringLiteral("two")));
    QVERIFY(waitFor(good1).ok());
    QVERIFY(!waitFor(bad).ok());
    QVERIFY(waitFor(good2).ok());
    QCOMPARE(m_store->childrenOf(c, 0).value().size(), 2);
    QCOMPARE(m_store->childrenOf(c + 99, 0).value().size(), 0);
    QTRY_COMPARE(failures.size(), 1);
    QVERIFY(failures[0][0].toString().contains(QStringLiteral("FOREIGN KEY"), Qt::CaseInsensitive));
}

void TestStoreApi::readsFromWorkerThreads() {
    QList<MetricsSample> samples;
    for (int t = 0; t < 5000; ++t) samples.append(MetricsSample{t, 1.0, 2, 3, {}, {}, {}, {}});
    QVERIFY(waitFor(m_store->appendSamples(samples)).ok());
    QList<QFuture<qsizetype>> futures;
    for (int i = 0; i < 8; ++i) {
        futures.append(QtConcurrent::run([this]() -> qsizetype {
            const auto r = m_store->samplesBetween(0, 5000, 10000);
            return r.ok() ? r.value().size() : -1;
        }));
    }
    for (QFuture<qsizetype>& f : futures) QCOMPARE(f.result(), qsizetype(5000));
}

void TestStoreApi::batchesFillOrTimeOut() {
    QTemporaryDir dir;
    Store store;
    Store::Options options;
    options.maxBatchJobs = 16;
    options.maxDelayMs = 600;  // long enough that "before the deadline" holds on a loaded machine
    QCOMPARE(store.open(dir.filePath(QStringLiteral("batching.sqlite")), options), QString());
    QSignalSpy batches(&store, &Store::batchCommitted);
    // A lone job waits for company until its deadline: never committed before maxDelayMs.
    QElapsedTimer timer;
    timer.start();
    QVERIFY(waitFor(store.appendSamples({MetricsSample{1, 1.0, {}, {}, {}, {}, {}, {}}})).ok());
    QVERIFY2(timer.elapsed() >= 590, qPrintable(QString::number(timer.elapsed())));
    // A flush does not wait for the deadline, and commits what was queued before it.
    timer.restart();
    QFuture<WriteResult> queued = store.appendSamples({MetricsSample{2, 1.0, {}, {}, {}, {}, {}, {}}});
    QVERIFY(waitFor(store.flush()).ok());
    QVERIFY(queued.isFinished() && queued.result().ok());
    QVERIFY2(timer.elapsed() < 400, qPrintable(QString::number(timer.elapsed())));
    // 64 jobs at once: full batches of at most 16.
    QFuture<WriteResult> last;
    for (int i = 0; i < 64; ++i) last = store.appendSamples({MetricsSample{100 + i, 1.0, {}, {}, {}, {}, {}, {}}});
    QVERIFY(waitFor(last).ok());
    // batchCommitted is queued to this thread: let the signals arrive, then add the batch sizes up.
    auto committedJobs = [&batches]() {
        int jobs = 0;
        for (const QList<QVariant>& batch : std::as_const(batches)) jobs += batch[0].toInt();
        return jobs;
    };
    QTRY_COMPARE(committedJobs(), 67);  // the lone job, the queued one and the flush, the 64
    for (const QList<QVariant>& batch : std::as_const(batches)) QVERIFY(batch[0].toInt() <= 16);
    QVERIFY(batches.size() >= 2 + 4);
}

void TestStoreApi::closeCommitsQueuedJobs() {
    QTemporaryDir dir;
    const QString path = dir.filePath(QStringLiteral("closing.sqlite"));
    {
        Store store;
        Store::Options options;
        options.maxDelayMs = 10000;  // nothing would commit on its own for 10 s
        QCOMPARE(store.open(path, options), QString());
        for (int i = 0; i < 100; ++i) store.appendSamples({MetricsSample{i, 1.0, {}, {}, {}, {}, {}, {}}});
        QElapsedTimer timer;
        timer.start();
        store.close();
        QVERIFY(timer.elapsed() < 5000);
        QVERIFY(!waitFor(store.appendSamples({})).ok());  // closed: refused at once, with a message
        QVERIFY(!store.sampleCount().ok());
    }
    Store again;
    QCOMPARE(again.open(path), QString());
    QCOMPARE(again.sampleCount().value(), Q_INT64_C(100));
}

QTEST_GUILESS_MAIN(TestStoreApi)
#include "test_store_api.moc"
