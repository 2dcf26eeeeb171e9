// The whole application, offscreen: a Workbench on a temporary data folder, driven through its real widgets
// as a user would. A fixture model written by `moewb make-fixture` is added and loaded on the Models page;
// the chat streams a reply (tokens visible before it ends, the event loop never stalls 50 ms), is stopped,
// regenerated, edited into a new branch and switched back; the routing (in the chat's drawer and on the
// Routing page) has a row of cells for every MoE layer and k selections per reply token; metrics rows are
// in SQLite and on the plots. Then the Workbench is destroyed and a new one opened on the same folder (a
// restart) finds the conversation, its branches, its figures and its routing again.
//
// Routing count rule: the heatmap of a reply counts the reply's tokens only (never the prompt's): every
// generated token, the last one included (the chat service runs it once more so its routing is known).
// So each MoE layer's counts sum to reply tokens x top-k.
#include "main_window.h"
#include "models/routing_view_model.h"
#include "pages/chat_page.h"
#include "pages/metrics_page.h"
#include "pages/models_page.h"
#include "pages/routing_page.h"
#include "services/chat_service.h"
#include "services/model_service.h"
#include "services/routing_codec.h"
#include "storage/store.h"
#include "widgets/chat_message_widget.h"
#include "widgets/chat_transcript_view.h"
#include "widgets/conversation_list_widget.h"
#include "widgets/model_details_panel.h"
#include "widgets/routing_heatmap_widget.h"
#include "widgets/routing_panel.h"
#include "widgets/sampling_panel.h"
#include "widgets/time_series_plot.h"
#include "widgets/token_strip_widget.h"
#include "workbench.h"

#include "../support/ui_test_support.h"

#include <qcustomplot.h>

#include <QApplication>
#include <QDeadlineTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QToolButton>

using namespace moe::app;
using namespace moe::app::ui;
using moe::ui::Workbench;

namespace {

constexpr int kReplyTimeoutMs = 60000;

QToolButton* actionButton(QWidget* message, const QString& textOrTip) {
    for (QToolButton* b : message->findChildren<QToolButton*>())
        if (b->text() == textOrTip || b->toolTip() == textOrTip) return b;
    return nullptr;
}

// The drawn heatmap: a row of cells for every MoE layer, a column for every routed expert, each layer's
// shares summing to 100 %.
void verifyDrawnHeatmap(moe::ui::RoutingHeatmapWidget* heatmap, int moeLayers, int experts) {
    QCPColorMapData* cells = heatmap->colorMap()->data();
    QCOMPARE(cells->valueSize(), moeLayers);
    QCOMPARE(cells->keySize(), experts);
    for (int slot = 0; slot < moeLayers; ++slot) {
        double percent = 0.0;
        for (int e = 0; e < experts; ++e) percent += cells->cell(e, slot);
        QVERIFY2(std::abs(percent - 100.0) < 1e-6, qPrintable(QString::number(percent)));
    }
}

// Every MoE layer's counts of a reply: one row per layer, summing to rows x k.
void verifyReplyGrid(const HeatmapGrid& grid, qint64 replyTokens, int k, int moeLayers) {
    QCOMPARE(grid.nSlots(), moeLayers);
    QCOMPARE(grid.a.n_rows, replyTokens);
    for (int32_t slot = 0; slot < grid.nSlots(); ++slot) {
        qint64 count = 0;
        double mass = 0.0;
        for (int32_t e = 0; e < grid.nExpert; ++e) {
            count += grid.a.counts[grid.index(slot, e)];
            mass += grid.a.weight_mass[grid.index(slot, e)];
        }
        QCOMPARE(count, replyTokens * k);
        QVERIFY(mass > 0.0);
    }
}

}  // namespace

class TestWorkbench : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    QString m_fixture;
    std::unique_ptr<Workbench> m_wb;
    qint64 m_firstReplyTokens = 0;
    qint64 m_firstReplyId = 0;

    QString dataDir() const { return m_dir.path() + QStringLiteral("/data"); }
    ChatPage* chat() const { return m_wb->chatPage(); }
    ChatMessageWidget* lastWidget() const { return chat()->transcript()->messageWidgets().last(); }

    void openWorkbench() {
        Workbench::Options options;
        options.samplerIntervalMs = 100;  // samples within the test's few seconds
        m_wb = std::make_unique<Workbench>(dataDir(), options);
        QCOMPARE(m_wb->open(), QString());
        m_wb->window()->resize(1280, 800);
        m_wb->window()->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_wb->window()));
    }
    void setSampling(int maxTokens) {
        SamplingSettings s = chat()->samplingPanel()->settings();
        s.maxTokens = maxTokens;
        s.seed = 3;
        chat()->samplingPanel()->setSettings(s);
    }
    // Runs `action` and waits until the page has taken in the end of the reply it starts.
    ChatReplyResult replyTo(const std::function<void()>& action) {
        QSignalSpy finished(m_wb->chatService(), &ChatService::replyFinished);
        action();
        QDeadlineTimer deadline(kReplyTimeoutMs);
        while (finished.isEmpty() && !deadline.hasExpired()) finished.wait(20);
        while (chat()->isGenerating() && !deadline.hasExpired()) QTest::qWait(5);
        return finished.isEmpty() ? ChatReplyResult{} : finished.first().first().value<ChatReplyResult>();
    }
    void typeAndEnter(const QString& text) {
        chat()->composer()->setFocus();
        QTest::keyClicks(chat()->composer(), text);
        QTest::keyClick(chat()->composer(), Qt::Key_Return);
    }
    ModelSummary loadedSummary() const { return m_wb->modelService()->currentSummary(); }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        Workbench::keepSettingsIn(dataDir());
        m_fixture = m_dir.path() + QStringLiteral("/fixture-tiny.gguf");
        const QString error = moe::test::writeWorkbenchFixture(QStringLiteral(MOE_MOEWB_PATH), m_fixture);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        openWorkbench();
    }
    void cleanupTestCase() { m_wb.reset(); }

    void addAndLoadTheFixture() {
        m_wb->window()->showPage(QStringLiteral("models"));
        moe::ui::ModelsPage* models = m_wb->modelsPage();
        QSignalSpy described(models, &moe::ui::ModelsPage::described);
        models->addPaths({m_fixture});
        const auto describedOk = [&] {
            return std::any_of(described.begin(), described.end(), [&](const QList<QVariant>& args) {
                return args.at(0).toString() == m_fixture && args.at(1).toBool();
            });
        };
        QTRY_VERIFY_WITH_TIMEOUT(describedOk(), 20000);
        models->selectPath(m_fixture);
        QPushButton* load = models->detailsPanel()->loadButton();
        QVERIFY(load->isVisible() && load->isEnabled());
        QTest::mouseClick(load, Qt::LeftButton);
        QTRY_VERIFY_WITH_TIMEOUT(chat()->hasModel(), 30000);
        QCOMPARE(loadedSummary().path, m_fixture);
        QVERIFY(loadedSummary().modelId > 0);  // in the library, so requests name it
        QVERIFY2(m_wb->window()->statusModelText().contains(QStringLiteral("fixture")),
                 qPrintable(m_wb->window()->statusModelText()));
        QVERIFY(!m_wb->window()->statusDeviceText().contains(QStringLiteral("1 threads")));
        const auto library = m_wb->store()->listModels();
        QVERIFY(library.ok());
        QVERIFY(std::any_of(library.value().begin(), library.value().end(), [&](const ModelRecord& m) {
            return m.path == m_fixture && m.architecture == "deepseek2";
        }));
    }

    // The first reply: streamed tokens appear before it ends, the drawer and the Routing page update live,
    // and the UI event loop never waits 50 ms.
    void chatStreamsWithoutStalling() {
        m_wb->window()->showPage(QStringLiteral("chat"));
        chat()->setRoutingVisible(true);
        setSampling(1500);
        bool sawPartialText = false, sawLiveRouting = false;
        // Queued after the page's own slots: what a user would see at that moment.
        auto c = connect(m_wb->chatService(), &ChatService::tokensReady, this, [&] {
            if (!chat()->isGenerating()) return;
            if (!lastWidget()->content().isEmpty()) sawPartialText = true;
            if (chat()->routingPanel()->viewModel().data().nRows() > 0 &&
                m_wb->routingPage()->viewModel().data().nRows() > 0)
                sawLiveRouting = true;
        });
        moe::test::StallProbe probe;
        probe.start();
        const ChatReplyResult r = replyTo([&] { typeAndEnter(QStringLiteral("Which experts answer this?")); });
        probe.stop();
        disconnect(c);
        qInfo("longest UI event-loop stall while the workbench generated %lld tokens in %lld ms: %lld ms",
              static_cast<long long>(r.replyTokens), static_cast<long long>(probe.elapsedMs()),
              static_cast<long long>(probe.maxGapMs()));
        QCOMPARE(r.error, QString());
        QVERIFY2(r.replyTokens > 500, qPrintable(r.finishReason));
        QVERIFY(sawPartialText);
        QVERIFY(sawLiveRouting);
        QVERIFY2(probe.maxGapMs() < 50, qPrintable(QStringLiteral("stall %1 ms").arg(probe.maxGapMs())));
        // The Routing page followed the reply live, as the branch's first reply.
        const RoutingData& live = m_wb->routingPage()->viewModel().data();
        QCOMPARE(static_cast<int>(live.segments().size()), 1);
        QCOMPARE(live.segments().front().label, QStringLiteral("Reply 1"));
        QCOMPARE(live.nRows(), r.replyTokens);
        QCOMPARE(chat()->transcript()->messageWidgets().size(), 2);
        QCOMPARE(lastWidget()->content(), r.content);
        QVERIFY(lastWidget()->statsText().contains(QStringLiteral("tok/s")));
        QVERIFY(m_wb->window()->statusSpeedText().contains(QStringLiteral("tok/s")));
        QVERIFY(!m_wb->window()->statusSpeedText().startsWith(QStringLiteral("—")));
        m_firstReplyTokens = r.replyTokens;
        m_firstReplyId = r.messageId;
    }

    void routingHasEveryLayerAndTokenTimesTopK() {
        const ModelSummary model = loadedSummary();
        QVERIFY(model.moeLayers > 0 && model.expertsUsed > 0);
        // The chat's drawer shows the reply that was just written.
        QCOMPARE(chat()->routingMessageId(), m_firstReplyId);
        QTRY_COMPARE(chat()->routingPanel()->viewModel().data().nRows(), m_firstReplyTokens);
        verifyReplyGrid(chat()->routingPanel()->viewModel().grid(), m_firstReplyTokens, model.expertsUsed,
                        model.moeLayers);
        verifyDrawnHeatmap(chat()->routingPanel()->heatmap(), model.moeLayers, model.experts);
        QVERIFY(chat()->routingPanel()->caption().contains(QStringLiteral("Reply 1")));
        // The stored summary and per-token routing follow the same rule.
        m_wb->store()->flush().waitForFinished();
        const Message reply = m_wb->store()->messagesOf(chat()->currentConversationId()).value().last();
        const QJsonObject summary = QJsonDocument::fromJson(reply.stats.routingJson).object();
        QCOMPARE(summary["counts"].toArray().size(), model.moeLayers);
        QCOMPARE(summary["mass"].toArray().size(), model.moeLayers);
        for (const auto layer : summary["counts"].toArray()) {
            qint64 total = 0;
            for (const auto v : layer.toArray()) total += v.toInteger();
            QCOMPARE(total, m_firstReplyTokens * model.expertsUsed);
        }
        const auto stored = decodeRouting(m_wb->store()->messageRouting(m_firstReplyId).value());
        QVERIFY(stored.has_value());
        QCOMPARE(stored->rows(), m_firstReplyTokens);

        // "Open on Routing page": that reply, selected, on the Routing page.
        auto* open = chat()->routingPanel()->findChild<QPushButton*>();
        QVERIFY(open && open->text().contains(QStringLiteral("Routing page")));
        QTest::mouseClick(open, Qt::LeftButton);
        QCOMPARE(m_wb->window()->currentPageId(), QStringLiteral("routing"));
        moe::ui::RoutingPage* page = m_wb->routingPage();
        QCOMPARE(page->currentScope().kind, RoutingSelection::Kind::Segment);
        QCOMPARE(page->currentScope().label(page->viewModel().data()), QStringLiteral("Reply 1"));
        verifyReplyGrid(page->viewModel().grid(), m_firstReplyTokens, model.expertsUsed, model.moeLayers);
        verifyDrawnHeatmap(page->heatmap(), model.moeLayers, model.experts);
        m_wb->window()->showPage(QStringLiteral("chat"));
    }

    void stopKeepsWhatWasWritten() {
        setSampling(0);  // until stopped
        auto c = connect(m_wb->chatService(), &ChatService::tokensReady, this, [this] {
            if (chat()->isGenerating() && chat()->sendButton()->text() == QStringLiteral("Stop"))
                QTest::mouseClick(chat()->sendButton(), Qt::LeftButton);
        });
        const ChatReplyResult r = replyTo([&] { typeAndEnter(QStringLiteral("Go on forever")); });
        disconnect(c);
        QCOMPARE(r.finishReason, QStringLiteral("cancelled"));
        QVERIFY(r.replyTokens > 0);
        QVERIFY(lastWidget()->statsText().contains(QStringLiteral("stopped")));
        QCOMPARE(chat()->sendButton()->text(), QStringLiteral("Send"));
        QCOMPARE(chat()->transcript()->messageWidgets().size(), 4);
    }

    void regenerateMakesASibling() {
        setSampling(24);
        const qint64 stopped = lastWidget()->messageId();
        QToolButton* regenerate = actionButton(lastWidget(), QStringLiteral("Regenerate"));
        QVERIFY(regenerate && regenerate->isEnabled());
        const ChatReplyResult r = replyTo([&] { QTest::mouseClick(regenerate, Qt::LeftButton); });
        QCOMPARE(r.error, QString());
        QVERIFY(r.messageId != stopped);
        QCOMPARE(lastWidget()->messageId(), r.messageId);
        QCOMPARE(lastWidget()->branchCount(), 2);
        QCOMPARE(lastWidget()->branchIndex(), 1);
        QCOMPARE(chat()->routingMessageId(), r.messageId);
        QTRY_COMPARE(chat()->routingPanel()->viewModel().data().nRows(), r.replyTokens);
        // On the Routing page: the branch's first reply, then this one (the stopped reply is another branch).
        const RoutingData& page = m_wb->routingPage()->viewModel().data();
        QCOMPARE(static_cast<int>(page.segments().size()), 2);
        QCOMPARE(page.segments().back().label, QStringLiteral("Reply 2"));
        QCOMPARE(page.segments().back().end - page.segments().back().begin, r.replyTokens);
    }

    void editBranchesAndTheOldBranchComesBack() {
        ChatMessageWidget* firstUser = chat()->transcript()->messageWidgets().first();
        const qint64 firstUserId = firstUser->messageId();
        const QString firstReplyText = chat()->transcript()->messageWidgets()[1]->content();
        QToolButton* edit = actionButton(firstUser, QStringLiteral("Edit"));
        QVERIFY(edit);
        QTest::mouseClick(edit, Qt::LeftButton);
        QCOMPARE(chat()->editingMessageId(), firstUserId);
        QCOMPARE(chat()->composer()->toPlainText(), QStringLiteral("Which experts answer this?"));
        chat()->composer()->clear();
        const ChatReplyResult r = replyTo([&] { typeAndEnter(QStringLiteral("Which layers route this?")); });
        QCOMPARE(r.error, QString());
        ChatMessageWidget* edited = chat()->transcript()->messageWidgets().first();
        QCOMPARE(edited->content(), QStringLiteral("Which layers route this?"));
        QCOMPARE(edited->branchCount(), 2);
        QCOMPARE(edited->branchIndex(), 1);
        QCOMPARE(chat()->transcript()->messageWidgets().size(), 2);
        // Back to the first branch with the ‹ arrow: the earlier turns are all there.
        QToolButton* previous = actionButton(edited, QStringLiteral("Previous version"));
        QVERIFY(previous && previous->isEnabled());
        QTest::mouseClick(previous, Qt::LeftButton);
        const QList<ChatMessageWidget*> widgets = chat()->transcript()->messageWidgets();
        QCOMPARE(widgets.first()->messageId(), firstUserId);
        QCOMPARE(widgets.size(), 4);
        QCOMPARE(widgets[1]->content(), firstReplyText);
        QCOMPARE(widgets.last()->branchCount(), 2);  // the regenerated reply is the branch shown
    }

    void metricsAreWrittenAndPlotted() {
        QTRY_VERIFY_WITH_TIMEOUT(m_wb->store()->sampleCount().value() >= 3, 5000);
        m_wb->store()->flush().waitForFinished();
        const auto requests = m_wb->store()->requestsBetween(0, QDateTime::currentMSecsSinceEpoch() + 1000);
        QVERIFY(requests.ok());
        QCOMPARE(requests.value().size(), 4);  // first, stopped, regenerated, edited
        for (const RequestRecord& r : requests.value()) {
            QCOMPARE(r.source, RequestSource::Chat);
            QCOMPARE(r.modelId.value_or(0), loadedSummary().modelId);
            QVERIFY(r.messageId.has_value() && r.ttftMs.has_value());
            QVERIFY(!r.tokenLatenciesMs.empty());
        }
        m_wb->window()->showPage(QStringLiteral("metrics"));
        moe::ui::MetricsPage* metrics = m_wb->metricsPage();
        QTRY_VERIFY(metrics->cpuPlot()->pointCount(0) > 0);  // live, from the sampler
        QSignalSpy loaded(metrics, &moe::ui::MetricsPage::historyLoaded);
        metrics->setRange(moe::ui::MetricsPage::Range::Hour);  // history, read back from SQLite
        QVERIFY(loaded.wait(10000));
        QVERIFY(metrics->shownSamples().size() >= 3);
        QVERIFY(metrics->cpuPlot()->pointCount(0) > 0);
        QCOMPARE(metrics->shownRequests().size(), 4);
        QVERIFY(metrics->requestsPlot()->pointCount(0) > 0);
        QCOMPARE(metrics->shownLatency().requests, 4);
        metrics->setRange(moe::ui::MetricsPage::Range::Live);
    }

    void restartFindsEverythingAgain() {
        m_wb->window()->showPage(QStringLiteral("chat"));
        const qint64 conv = chat()->currentConversationId();
        const QList<Message> shown = chat()->shownMessages();
        const qint64 lastReply = shown.last().id;
        const QString stats = lastWidget()->statsText();
        const HeatmapGrid before = chat()->routingPanel()->viewModel().grid();
        QVERIFY(before.a.n_rows > 0);
        const int moeLayers = loadedSummary().moeLayers;
        const int k = loadedSummary().expertsUsed;

        m_wb.reset();
        openWorkbench();

        QVERIFY(m_wb->modelsPage()->libraryModel()->rowOfPath(m_fixture) >= 0);
        QVERIFY(m_wb->store()->sampleCount().value() >= 3);
        QTRY_VERIFY(chat()->conversationList()->count() >= 1);
        chat()->openConversation(conv);
        const QList<Message> again = chat()->shownMessages();
        QCOMPARE(again.size(), shown.size());
        for (qsizetype i = 0; i < shown.size(); ++i) {
            QCOMPARE(again[i].id, shown[i].id);
            QCOMPARE(again[i].content, shown[i].content);
        }
        const QList<ChatMessageWidget*> widgets = chat()->transcript()->messageWidgets();
        QCOMPARE(widgets.first()->branchCount(), 2);  // the edit's branch
        QCOMPARE(widgets.last()->branchCount(), 2);   // the regenerated reply
        QCOMPARE(lastWidget()->statsText(), stats);
        // Its routing, per token, from the Store: the same grid as before the restart.
        QCOMPARE(chat()->routingMessageId(), lastReply);
        const HeatmapGrid after = chat()->routingPanel()->viewModel().grid();
        QCOMPARE(after.a.counts, before.a.counts);
        verifyReplyGrid(after, before.a.n_rows, k, moeLayers);
        QCOMPARE(chat()->routingPanel()->tokenStrip()->count(), before.a.n_rows);
        // The Routing page opened with nothing in it takes the chat's branch.
        m_wb->window()->showPage(QStringLiteral("routing"));
        const RoutingData& data = m_wb->routingPage()->viewModel().data();
        QCOMPARE(static_cast<int>(data.segments().size()), 2);  // the branch's two replies
        QCOMPARE(m_wb->routingPage()->currentScope().label(data), QStringLiteral("Reply 2"));
    }
};

QTEST_MAIN(TestWorkbench)
#include "test_workbench.moc"
