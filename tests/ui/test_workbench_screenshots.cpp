// Screenshots of every page of the real Workbench (1280x800, light and dark) with a loaded fixture model,
// a conversation with a finished reply (reasoning block, code block, figures) and a live reply of the
// fixture model, its expert routing, and a few seconds of metrics samples, saved as
// ${CMAKE_BINARY_DIR}/screenshots/workbench-<page>-<theme>.png for people to look at.
#include "main_window.h"
#include "pages/chat_page.h"
#include "pages/models_page.h"
#include "pages/routing_page.h"
#include "services/chat_service.h"
#include "services/model_service.h"
#include "storage/store.h"
#include "theme/theme.h"
#include "widgets/chat_transcript_view.h"
#include "widgets/routing_panel.h"
#include "widgets/sampling_panel.h"
#include "widgets/token_strip_widget.h"
#include "workbench.h"

#include "../support/ui_test_support.h"

#include <QDateTime>
#include <QDeadlineTimer>
#include <QImage>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

using namespace moe::app;
using moe::ui::Theme;
using moe::ui::ThemeMode;
using moe::ui::Workbench;

class TestWorkbenchScreenshots : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    std::unique_ptr<Workbench> m_wb;
    qint64 m_liveReply = 0;

    ui::ChatPage* chat() const { return m_wb->chatPage(); }

    // A conversation as a user of a reasoning model would have it: a question, a finished answer with a
    // thinking block, a list and code, then a follow-up the fixture model answers live.
    qint64 storeConversation() {
        Store* store = m_wb->store();
        Conversation c;
        c.title = QStringLiteral("Top-k routing in MoE layers");
        c.createdAtMs = c.updatedAtMs = QDateTime::currentMSecsSinceEpoch();
        c.systemPrompt = QStringLiteral("You are a concise assistant for ML engineers.");
        SamplingSettings sampling;
        sampling.maxTokens = 32;  // the fixture's random-weight text: a few lines show streaming worked
        sampling.seed = 11;
        c.samplerJson = sampling.toJsonText();
        const qint64 conv = store->createConversation(c).result().id;
        auto add = [&](std::optional<qint64> parent, MessageRole role, const QString& text, ReplyStats stats = {}) {
            Message m{0, conv, parent, role, text, QDateTime::currentMSecsSinceEpoch(), stats};
            auto f = store->appendMessage(m);
            store->flush();
            return f.result().id;
        };
        const qint64 u =
            add(std::nullopt, MessageRole::User, QStringLiteral("How does top-k expert routing work in DeepSeek-V3?"));
        ReplyStats st;
        st.promptTokens = 31;
        st.replyTokens = 142;
        st.ttftMs = 41;
        st.tokensPerS = 38.6;
        st.finishReason = QStringLiteral("eos");
        add(u, MessageRole::Assistant,
            QStringLiteral(
                "<think>\nThe user asks about the router. V3 uses sigmoid scores with a bias for load balancing, "
                "groups, then top-k.\n</think>\n\nEach MoE layer scores every routed expert for the token and keeps "
                "the **top 8 of 256**; one *shared* expert always runs.\n\n1. Sigmoid affinity per expert\n2. A bias "
                "term balances the load (used for selection only)\n3. The chosen weights are normalised and scaled\n\n"
                "```python\nscores = torch.sigmoid(h @ W_gate.T)\nidx = (scores + bias).topk(8).indices\n"
                "w = scores.gather(-1, idx)\nw = 2.5 * w / w.sum(-1, keepdim=True)\n```\n\nThe routing views show "
                "which experts each token used."),
            st);
        return conv;
    }

    void grabAll(const QString& theme) {
        const QString dir = QStringLiteral(MOE_SCREENSHOT_DIR);
        for (const QString& page :
             {QStringLiteral("models"), QStringLiteral("chat"), QStringLiteral("routing"), QStringLiteral("metrics")}) {
            QVERIFY(m_wb->window()->showPage(page));
            QTest::qWait(150);  // plots replot on a queued timer
            if (page == QLatin1String("chat")) chat()->transcript()->verticalScrollBar()->setValue(0);
            if (page == QLatin1String("routing")) {
                moe::ui::TokenStripWidget* strip = m_wb->routingPage()->tokenStrip();
                QTest::mouseMove(strip, strip->chipRect(2).center());
                QTest::qWait(50);
            }
            const QImage image = m_wb->window()->grab().toImage();
            QCOMPARE(image.size(), QSize(1280, 800));
            const QString path = dir + QStringLiteral("/workbench-%1-%2.png").arg(page, theme);
            QVERIFY2(image.save(path), qPrintable(path));
        }
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        const QString dataDir = m_dir.path() + QStringLiteral("/data");
        Workbench::keepSettingsIn(dataDir);
        const QString fixture = m_dir.path() + QStringLiteral("/fixture-deepseek2.gguf");
        const QString error = moe::test::writeWorkbenchFixture(QStringLiteral(MOE_MOEWB_PATH), fixture, 3, 512);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        Workbench::Options options;
        options.samplerIntervalMs = 150;
        m_wb = std::make_unique<Workbench>(dataDir, options);
        QCOMPARE(m_wb->open(), QString());
        m_wb->window()->resize(1280, 800);
        m_wb->window()->show();
        QVERIFY(QTest::qWaitForWindowExposed(m_wb->window()));
        m_wb->loadModelAtStart(fixture);
        QTRY_VERIFY_WITH_TIMEOUT(chat()->hasModel(), 30000);
    }
    void cleanupTestCase() {
        m_wb.reset();
        Theme::apply(ThemeMode::Light);
    }

    void everyPageInBothThemes() {
        const qint64 conv = storeConversation();
        chat()->reloadConversations();
        chat()->openConversation(conv);
        QSignalSpy finished(m_wb->chatService(), &ChatService::replyFinished);
        chat()->sendMessage(QStringLiteral("Show me a short example."));
        QVERIFY(finished.wait(30000));
        QTRY_VERIFY(!chat()->isGenerating());
        const auto result = finished.first().first().value<ChatReplyResult>();
        QVERIFY2(result.replyTokens > 0, qPrintable(result.finishReason + result.error));
        m_liveReply = result.messageId;
        QCOMPARE(chat()->routingMessageId(), m_liveReply);
        QCOMPARE(chat()->routingPanel()->viewModel().data().nRows(), result.replyTokens);
        // The Routing page on that reply, the mouse over one token: its experts outlined and in the table.
        m_wb->openRoutingOf(m_liveReply);
        // Enough samples for the live plots (every 150 ms here).
        QTRY_VERIFY_WITH_TIMEOUT(m_wb->store()->sampleCount().value() >= 12, 10000);

        Theme::apply(ThemeMode::Light);
        grabAll(QStringLiteral("light"));
        Theme::apply(ThemeMode::Dark);
        grabAll(QStringLiteral("dark"));
    }
};

QTEST_MAIN(TestWorkbenchScreenshots)
#include "test_workbench_screenshots.moc"
