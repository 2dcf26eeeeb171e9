// ChatService on its own thread over a tiny random-weight fixture model: a reply streams in batches and is
// stored with its figures and request record, the routing snapshot covers every reply token, Stop ends a
// long reply early, Regenerate makes a sibling reply, and the think-block parser and exports are right.
// The engine headers first: they use `emit` and `slots` as names, which Qt defines as macros.
#include "model/fixture_writer.h"
#include "model/model.h"

#include "services/chat_service.h"
#include "services/conversation_export.h"
#include "services/routing_codec.h"
#include "services/think_parser.h"
#include "storage/store.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <cmath>

using namespace moe::app;

namespace {
WriteResult waitFor(QFuture<WriteResult> f) {
    f.waitForFinished();
    return f.result();
}
// QSignalSpy records on the emitting (worker) thread: the signal may come before wait() starts.
bool waitForCount(QSignalSpy& spy, int count, int timeoutMs) {
    QDeadlineTimer deadline(timeoutMs);
    while (spy.size() < count && !deadline.hasExpired()) spy.wait(20);
    return spy.size() >= count;
}
}  // namespace

class TestChatService : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    ModelHandle m_model;
    Store m_store;
    QThread m_thread;
    ChatService* m_service = nullptr;
    qint64 m_modelId = 0;

    qint64 newConversation() {
        Conversation c;
        c.title = QStringLiteral("test");
        c.createdAtMs = c.updatedAtMs = 1;
        const WriteResult r = waitFor(m_store.createConversation(c));
        return r.id;
    }
    ChatReplyResult run(const ChatRequest& request, int timeoutMs = 30000) {
        QSignalSpy finished(m_service, &ChatService::replyFinished);
        QMetaObject::invokeMethod(m_service, "generateReply", Qt::QueuedConnection,
                                  Q_ARG(moe::app::ChatRequest, request));
        if (!waitForCount(finished, 1, timeoutMs)) return {};
        return finished.first().first().value<ChatReplyResult>();
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        const std::string path = (m_dir.path() + "/tiny.gguf").toStdString();
        moe::FixtureSpec spec = moe::fixture_preset(moe::Arch::Deepseek2, "tiny").value();
        QVERIFY2(moe::write_fixture(spec, path).ok(), "fixture");
        auto loaded = moe::Model::load(path);
        QVERIFY2(loaded.ok(), loaded.error().c_str());
        m_model = ModelHandle(std::move(loaded).value());
        QCOMPARE(m_store.open(m_dir.path() + "/chat.sqlite"), QString());
        ModelRecord record;
        record.path = QString::fromStdString(path);
        record.name = QStringLiteral("tiny");
        record.architecture = QStringLiteral("deepseek2");
        m_modelId = waitFor(m_store.addModel(record)).id;
        QVERIFY(m_modelId > 0);
        m_service = new ChatService(&m_store);
        m_service->moveToThread(&m_thread);
        connect(&m_thread, &QThread::finished, m_service, &QObject::deleteLater);
        m_thread.start();
        QSignalSpy changed(m_service, &ChatService::modelChanged);
        QMetaObject::invokeMethod(m_service, "setModel", Qt::QueuedConnection, Q_ARG(moe::app::ModelHandle, m_model),
                                  Q_ARG(qint64, m_modelId));
        QVERIFY(waitForCount(changed, 1, 5000));
        QCOMPARE(changed.first().first().toBool(), true);
    }
    void cleanupTestCase() {
        m_thread.quit();
        m_thread.wait();
        m_store.close();
    }

    void replyStreamsAndIsStored() {
        const qint64 conv = newConversation();
        QSignalSpy tokens(m_service, &ChatService::tokensReady);
        QSignalSpy started(m_service, &ChatService::replyStarted);
        QSignalSpy routing(m_service, &ChatService::routingSnapshot);
        ChatRequest req;
        req.conversationId = conv;
        req.userText = QStringLiteral("Hello there");
        req.systemPrompt = QStringLiteral("Be brief.");
        req.sampling.maxTokens = 64;
        req.sampling.seed = 3;
        const ChatReplyResult r = run(req);
        QCOMPARE(r.error, QString());
        QVERIFY(r.replyTokens > 0 && r.replyTokens <= 64);
        QVERIFY(r.promptTokens > 3);
        QVERIFY(r.ttftMs > 0);
        QCOMPARE(r.tokenLatenciesMs.size(), r.replyTokens + (r.finishReason == "eos" ? 1 : 0));
        QCOMPARE(started.size(), 1);
        // Batched: fewer signals than tokens is allowed, but the deltas add up to the whole reply.
        QString streamed;
        for (const auto& args : tokens) streamed += args.at(2).toString();
        QCOMPARE(streamed, r.content);
        QVERIFY(tokens.size() <= r.replyTokens + 1);

        QVERIFY(waitFor(m_store.flush()).ok());
        const auto path = m_store.activePath(conv);
        QVERIFY(path.ok());
        QCOMPARE(path.value().size(), 2);
        QCOMPARE(path.value()[0].content, req.userText);
        QCOMPARE(path.value()[1].content, r.content);
        QCOMPARE(path.value()[1].stats.replyTokens.value_or(-1), r.replyTokens);
        QVERIFY(!path.value()[1].stats.routingJson.isEmpty());
        const auto requests = m_store.requestsBetween(0, QDateTime::currentMSecsSinceEpoch() + 60000);
        QVERIFY(requests.ok());
        QVERIFY(!requests.value().isEmpty());
        QCOMPARE(requests.value().last().messageId.value_or(0), r.messageId);
        QCOMPARE(requests.value().last().modelId.value_or(0), m_modelId);

        // The final snapshot: one row per reply token, k experts per MoE layer each.
        QVERIFY(!routing.isEmpty());
        const auto snap = routing.last().first().value<RoutingSnapshot>();
        QVERIFY(snap.final);
        QCOMPARE(snap.messageId, r.messageId);
        QCOMPARE(snap.conversationId, conv);
        QCOMPARE(snap.rows(), static_cast<int>(r.replyTokens));
        QCOMPARE(snap.layerCount(), static_cast<int>(m_model->moe_layers().size()));
        QCOMPARE(snap.k, static_cast<int>(m_model->hparams().n_expert_used));
        QCOMPARE(snap.nShared, static_cast<int>(m_model->hparams().n_expert_shared));
        QCOMPARE(snap.experts.size(), static_cast<qsizetype>(snap.rows()) * snap.layerCount() * snap.k);
        QCOMPARE(snap.tokenTexts.size(), snap.rows());
        for (int e : snap.experts) QVERIFY(e >= 0 && e < snap.nExpert);
        const QJsonObject summary = QJsonDocument::fromJson(path.value()[1].stats.routingJson).object();
        qint64 total = 0;
        for (const auto v : summary["counts"].toArray().first().toArray()) total += v.toInteger();
        QCOMPARE(total, r.replyTokens * snap.k);  // every layer's counts sum to tokens x top-k
        // The summary's weight mass of a layer is the sum of the reply's gate weights at that layer.
        double mass = 0.0, weights = 0.0;
        for (const auto v : summary["mass"].toArray().first().toArray()) mass += v.toDouble();
        for (int row = 0; row < snap.rows(); ++row)
            for (int j = 0; j < snap.k; ++j) weights += snap.weight(row, 0, j);
        QVERIFY2(std::abs(mass - weights) < 1e-3 * snap.nExpert + 1e-6 * weights, qPrintable(QString::number(mass)));

        // The per-token routing is stored with the message and decodes to the final snapshot.
        m_store.flush().waitForFinished();
        const auto blob = m_store.messageRouting(r.messageId);
        QVERIFY(blob.ok());
        const std::optional<RoutingSnapshot> stored = decodeRouting(blob.value());
        QVERIFY(stored.has_value());
        QCOMPARE(stored->rows(), snap.rows());
        QCOMPARE(stored->moeLayers, snap.moeLayers);
        QCOMPARE(stored->tokens, snap.tokens);
        QCOMPARE(stored->tokenTexts, snap.tokenTexts);
        QCOMPARE(stored->experts, snap.experts);
        for (qsizetype i = 0; i < snap.weights.size(); ++i)
            QVERIFY(std::abs(stored->weights[i] - snap.weights[i]) <= 1e-3f * std::abs(snap.weights[i]) + 1e-6f);
    }

    void stopEndsALongReply() {
        ChatRequest req;
        req.conversationId = newConversation();
        req.userText = QStringLiteral("Write a very long story");
        req.sampling.maxTokens = 0;  // until stopped (or the context is full)
        req.sampling.contextTokens = 8192;
        req.sampling.seed = 7;
        QSignalSpy finished(m_service, &ChatService::replyFinished);
        // Stop as soon as the first batch arrives: on the worker thread, inside the emit (requestStop is
        // thread-safe), so a busy machine delaying this thread cannot let the reply run on to its end of turn.
        auto c = connect(
            m_service, &ChatService::tokensReady, this, [this] { m_service->requestStop(); }, Qt::DirectConnection);
        QMetaObject::invokeMethod(m_service, "generateReply", Qt::QueuedConnection, Q_ARG(moe::app::ChatRequest, req));
        QVERIFY(waitForCount(finished, 1, 30000));
        disconnect(c);
        const auto r = finished.first().first().value<ChatReplyResult>();
        QCOMPARE(r.finishReason, QStringLiteral("cancelled"));
        QVERIFY2(r.replyTokens < 2000, qPrintable(QString::number(r.replyTokens)));
        QVERIFY(waitFor(m_store.flush()).ok());
        const auto path = m_store.activePath(req.conversationId);
        QCOMPARE(path.value().last().stats.finishReason, QStringLiteral("cancelled"));
        QCOMPARE(path.value().last().content, r.content);
    }

    void regenerateMakesASibling() {
        ChatRequest req;
        req.conversationId = newConversation();
        req.userText = QStringLiteral("Pick a number");
        req.sampling.maxTokens = 12;
        const auto first = run(req);
        QVERIFY(first.messageId > 0);
        ChatRequest again;
        again.conversationId = req.conversationId;
        again.parentId = first.userMessageId;
        again.sampling.maxTokens = 12;
        const auto second = run(again);
        QCOMPARE(second.error, QString());
        QCOMPARE(second.userMessageId, first.userMessageId);
        QVERIFY(second.messageId != first.messageId);
        QVERIFY(waitFor(m_store.flush()).ok());
        const auto children = m_store.childrenOf(req.conversationId, first.userMessageId);
        QCOMPARE(children.value().size(), 2);
        QCOMPARE(m_store.activePath(req.conversationId).value().last().id, second.messageId);
    }

    void noModelIsAnError() {
        QSignalSpy changed(m_service, &ChatService::modelChanged);
        QMetaObject::invokeMethod(m_service, "setModel", Qt::QueuedConnection,
                                  Q_ARG(moe::app::ModelHandle, ModelHandle()), Q_ARG(qint64, 0));
        QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 1, 5000);
        QCOMPARE(changed.first().first().toBool(), false);
        ChatRequest req;
        req.conversationId = newConversation();
        req.userText = QStringLiteral("hi");
        const auto r = run(req);
        QCOMPARE(r.finishReason, QStringLiteral("error"));
        QVERIFY(r.error.contains(QStringLiteral("Models page")));
        QMetaObject::invokeMethod(m_service, "setModel", Qt::QueuedConnection, Q_ARG(moe::app::ModelHandle, m_model),
                                  Q_ARG(qint64, m_modelId));
        QTRY_COMPARE_WITH_TIMEOUT(changed.size(), 2, 5000);  // the spy records on the worker thread
    }

    void thinkBlocks() {
        auto s = splitThinking(QStringLiteral("<think>\nLet me see.\n</think>\n\nThe answer is 4."));
        QVERIFY(s.hasThinking && !s.thinkingOpen);
        QCOMPARE(s.thinking, QStringLiteral("Let me see."));
        QCOMPARE(s.answer, QStringLiteral("The answer is 4."));
        s = splitThinking(QStringLiteral("<think>still going"));
        QVERIFY(s.hasThinking && s.thinkingOpen);
        QCOMPARE(s.thinking, QStringLiteral("still going"));
        QVERIFY(s.answer.isEmpty());
        s = splitThinking(QStringLiteral("opened by the template</think>Done."));  // R1 template opens it
        QVERIFY(s.hasThinking);
        QCOMPARE(s.thinking, QStringLiteral("opened by the template"));
        QCOMPARE(s.answer, QStringLiteral("Done."));
        s = splitThinking(QStringLiteral("Use the `<think>` tag like this."));
        QVERIFY(!s.hasThinking);
        QCOMPARE(s.answer, QStringLiteral("Use the `<think>` tag like this."));
    }

    void exports() {
        Conversation c;
        c.title = QStringLiteral("Sums");
        c.systemPrompt = QStringLiteral("Be exact.");
        c.samplerJson = QStringLiteral("{\"temperature\":0.5}");
        Message u{1, 1, std::nullopt, MessageRole::User, QStringLiteral("2+2?"), 1000, {}};
        Message a{2, 1, 1, MessageRole::Assistant, QStringLiteral("<think>add</think>**4**"), 2000, {}};
        a.stats.promptTokens = 10;
        a.stats.replyTokens = 3;
        a.stats.ttftMs = 12.0;
        a.stats.tokensPerS = 250.0;
        a.stats.finishReason = QStringLiteral("eos");
        const QString md = conversationToMarkdown(c, {u, a});
        QVERIFY(md.startsWith(QStringLiteral("# Sums\n")));
        QVERIFY(md.contains(QStringLiteral("> **System prompt:** Be exact.")));
        QVERIFY(md.contains(QStringLiteral("### You\n\n2+2?")));
        QVERIFY(md.contains(QStringLiteral("<summary>Thinking</summary>\n\nadd")));
        QVERIFY(md.contains(QStringLiteral("**4**\n\n*10 prompt · 3 reply tokens · TTFT 12 ms · 250.0 tok/s*")));
        const QJsonObject json = QJsonDocument::fromJson(conversationToJson(c, {u, a})).object();
        QCOMPARE(json["title"].toString(), QStringLiteral("Sums"));
        QCOMPARE(json["sampling"].toObject()["temperature"].toDouble(), 0.5);
        const QJsonArray messages = json["messages"].toArray();
        QCOMPARE(messages.size(), 2);
        QCOMPARE(messages[1].toObject()["role"].toString(), QStringLiteral("assistant"));
        QCOMPARE(messages[1].toObject()["content"].toString(), a.content);
        QCOMPARE(messages[1].toObject()["stats"].toObject()["reply_tokens"].toInt(), 3);
    }

    void samplingSettingsRoundTrip() {
        SamplingSettings s;
        s.temperature = 0.3;
        s.topK = 7;
        s.seed = 42;
        s.maxTokens = 99;
        QCOMPARE(SamplingSettings::fromJsonText(s.toJsonText()), s);
        QCOMPARE(SamplingSettings::fromJsonText(QStringLiteral("{}")), SamplingSettings{});
    }
};

QTEST_GUILESS_MAIN(TestChatService)
#include "test_chat_service.moc"
