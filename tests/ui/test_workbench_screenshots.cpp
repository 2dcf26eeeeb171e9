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

#include "../support/sample_conversation.h"
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

    void grabAll(const QString& theme) {
        const QString dir = QStringLiteral(MOE_SCREENSHOT_DIR);
        for (const QString& page :
             {QStringLiteral("models"), QStringLiteral("chat"), QStringLiteral("routing"), QStringLiteral("metrics")}) {
            QVERIFY(m_wb->window()->showPage(page));
            QTest::qWait(150);  // plots replot on a queued timer
            if (page == QLatin1String("chat")) chat()->transcript()->verticalScrollBar()->setValue(0);
            if (page == QLatin1String("routing")) {
                moe::ui::TokenStripWidget* strip = m_wb->routingPage()->tokenStrip();
                QTest::mouseMove(strip, strip->chipRect(0).center());  // a move, even where it was last time
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
        const qint64 conv = moe::test::storeSampleConversation(*m_wb->store(), 32);
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
        QTRY_COMPARE(chat()->routingPanel()->viewModel().data().nRows(), result.replyTokens);
        // The Routing page on that reply, the mouse over one token: its experts outlined and in the table.
        m_wb->openRoutingOf(m_liveReply);
        // Enough samples for the live plots (every 150 ms here): about 4 s of them.
        QTRY_VERIFY_WITH_TIMEOUT(m_wb->store()->sampleCount().value() >= 25, 15000);

        Theme::apply(ThemeMode::Light);
        grabAll(QStringLiteral("light"));
        Theme::apply(ThemeMode::Dark);
        grabAll(QStringLiteral("dark"));
    }
};

QTEST_MAIN(TestWorkbenchScreenshots)
#include "test_workbench_screenshots.moc"
