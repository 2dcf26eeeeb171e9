// The chat page driven offscreen over a tiny random-weight model, the ChatService on its own thread:
// streaming into the view, Stop, Regenerate, edit-and-branch with navigation back, restart (a new Store and
// page on the same file), export, the event loop's longest stall while generating, and screenshots.
// The engine headers first: they use `emit` and `slots` as names, which Qt defines as macros.
#include "model/fixture_writer.h"
#include "model/model.h"

#include "pages/chat_page.h"
#include "services/chat_service.h"
#include "storage/store.h"
#include "widgets/chat_message_widget.h"
#include "widgets/chat_transcript_view.h"
#include "widgets/conversation_list_widget.h"
#include "widgets/message_content_widget.h"
#include "widgets/sampling_panel.h"
#include "widgets/thinking_block_widget.h"

#include "../support/sample_conversation.h"
#include "../support/ui_test_support.h"

#include <QApplication>
#include <QDeadlineTimer>
#include <QElapsedTimer>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollBar>
#include <QSignalSpy>
#include <QStyle>
#include <QStyleFactory>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>

using namespace moe::app;
using namespace moe::app::ui;

namespace {
bool waitForCount(QSignalSpy& spy, int count, int timeoutMs) {
    QDeadlineTimer deadline(timeoutMs);
    while (spy.size() < count && !deadline.hasExpired()) spy.wait(20);
    return spy.size() >= count;
}

QPalette lightPalette() {
    QPalette p = QStyleFactory::create(QStringLiteral("Fusion"))->standardPalette();
    p.setColor(QPalette::Window, QColor(0xf6, 0xf7, 0xf9));
    p.setColor(QPalette::Base, Qt::white);
    p.setColor(QPalette::Highlight, QColor(0x2f, 0x6f, 0xeb));
    return p;
}

QPalette darkPalette() {
    QPalette p;
    p.setColor(QPalette::Window, QColor(0x1e, 0x20, 0x24));
    p.setColor(QPalette::WindowText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Base, QColor(0x25, 0x27, 0x2c));
    p.setColor(QPalette::AlternateBase, QColor(0x2c, 0x2e, 0x34));
    p.setColor(QPalette::Text, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Button, QColor(0x2c, 0x2e, 0x34));
    p.setColor(QPalette::ButtonText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::Highlight, QColor(0x4c, 0x8d, 0xff));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::ToolTipBase, QColor(0x2c, 0x2e, 0x34));
    p.setColor(QPalette::ToolTipText, QColor(0xe6, 0xe6, 0xe6));
    p.setColor(QPalette::PlaceholderText, QColor(0x8a, 0x8d, 0x93));
    p.setColor(QPalette::Link, QColor(0x6a, 0xa6, 0xff));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x70, 0x72, 0x78));
    p.setColor(QPalette::Disabled, QPalette::ButtonText, QColor(0x70, 0x72, 0x78));
    return p;
}
}  // namespace

class TestChatPage : public QObject {
    Q_OBJECT

private:
    QTemporaryDir m_dir;
    ModelHandle m_model;
    std::unique_ptr<Store> m_store;
    QThread m_thread;
    ChatService* m_service = nullptr;
    std::unique_ptr<ChatPage> m_page;

    QString dbPath() const { return m_dir.path() + QStringLiteral("/workbench.sqlite"); }

    void makePage() {
        m_page = std::make_unique<ChatPage>(m_store.get(), m_service);
        m_page->resize(1280, 800);
        m_page->show();
        m_page->setModelStatus(true, QStringLiteral("moewb-fixture"));
        SamplingSettings s = m_page->samplingPanel()->settings();
        s.maxTokens = 48;
        s.seed = 5;
        m_page->samplingPanel()->setSettings(s);
    }
    // Sends and waits for the end of the reply; returns the result.
    ChatReplyResult sendAndWait(const std::function<void()>& action, int timeoutMs = 30000) {
        QSignalSpy finished(m_service, &ChatService::replyFinished);
        action();
        if (!waitForCount(finished, 1, timeoutMs)) return {};
        QDeadlineTimer deadline(5000);  // the page hears of the end through its queued slot
        while (m_page->isGenerating() && !deadline.hasExpired()) QTest::qWait(5);
        return finished.first().first().value<ChatReplyResult>();
    }
    ChatMessageWidget* lastWidget() const { return m_page->transcript()->messageWidgets().last(); }

private Q_SLOTS:
    void initTestCase() {
        QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
        QApplication::setPalette(lightPalette());
        QVERIFY(m_dir.isValid());
        const std::string path = (m_dir.path() + "/tiny.gguf").toStdString();
        QVERIFY(moe::write_fixture(moe::fixture_preset(moe::Arch::Deepseek2, "tiny").value(), path).ok());
        // As the app does: the engine leaves one core to the UI thread (on 2 cores, a busy engine on both
        // makes the scheduler stall the UI, whatever the UI code does).
        moe::ModelLoadOptions options;
        options.n_threads = std::max(1, QThread::idealThreadCount() - 1);
        auto loaded = moe::Model::load(path, options);
        QVERIFY2(loaded.ok(), loaded.error().c_str());
        m_model = ModelHandle(std::move(loaded).value());
        m_store = std::make_unique<Store>();
        QCOMPARE(m_store->open(dbPath()), QString());
        m_service = new ChatService(m_store.get());
        m_service->moveToThread(&m_thread);
        connect(&m_thread, &QThread::finished, m_service, &QObject::deleteLater);
        m_thread.start();
        QMetaObject::invokeMethod(m_service, "setModel", Qt::QueuedConnection, Q_ARG(moe::app::ModelHandle, m_model),
                                  Q_ARG(qint64, 0));
        makePage();
    }
    void cleanupTestCase() {
        m_page.reset();
        m_thread.quit();
        m_thread.wait();
        m_store->close();
    }

    void emptyStateSaysWhatToDo() {
        ChatPage page(m_store.get(), nullptr);
        page.setModelStatus(false, QString());
        QVERIFY(page.transcript()->isShowingEmptyState());
        page.sendMessage(QStringLiteral("hello"));
        QVERIFY(page.bannerText().contains(QStringLiteral("Models page")));
    }

    void sendStreamsIntoTheView() {
        SamplingSettings s = m_page->samplingPanel()->settings();
        s.maxTokens = 200;
        m_page->samplingPanel()->setSettings(s);
        bool sawPartial = false;
        // Queued to this thread after the page's own slot: the view must already show text mid-reply.
        auto c = connect(m_service, &ChatService::tokensReady, this, [&] {
            if (m_page->isGenerating() && !lastWidget()->content().isEmpty()) sawPartial = true;
        });
        const auto r = sendAndWait([&] { m_page->sendMessage(QStringLiteral("Tell me about experts")); });
        disconnect(c);
        QVERIFY(r.replyTokens > 0);
        QVERIFY(sawPartial);
        QVERIFY(m_page->currentConversationId() > 0);
        QCOMPARE(m_page->transcript()->messageWidgets().size(), 2);
        QCOMPARE(lastWidget()->content(), r.content);
        QVERIFY(lastWidget()->statsText().contains(QStringLiteral("tok/s")));
        QTRY_COMPARE(m_page->conversationList()->count(), 1);
        QCOMPARE(m_page->conversationList()->titleAt(0), QStringLiteral("Tell me about experts"));
        s.maxTokens = 48;
        m_page->samplingPanel()->setSettings(s);
    }

    void stopEndsTheReply() {
        SamplingSettings s = m_page->samplingPanel()->settings();
        s.maxTokens = 0;
        m_page->samplingPanel()->setSettings(s);
        auto c = connect(m_service, &ChatService::tokensReady, m_page.get(), &ChatPage::stopGenerating);
        const auto r = sendAndWait([&] { m_page->sendMessage(QStringLiteral("Go on forever")); });
        disconnect(c);
        QCOMPARE(r.finishReason, QStringLiteral("cancelled"));
        QVERIFY(lastWidget()->statsText().contains(QStringLiteral("stopped")));
        QCOMPARE(m_page->sendButton()->text(), QStringLiteral("Send"));
        s.maxTokens = 48;
        m_page->samplingPanel()->setSettings(s);
    }

    void regenerateAddsASibling() {
        const qint64 firstReply = lastWidget()->messageId();
        const auto r = sendAndWait([&] { m_page->regenerate(firstReply); });
        QVERIFY(r.messageId != firstReply);
        QTRY_COMPARE(lastWidget()->messageId(), r.messageId);
        QCOMPARE(lastWidget()->branchCount(), 2);
        QCOMPARE(lastWidget()->branchIndex(), 1);
        m_page->switchBranch(r.messageId, -1);  // back to the first reply
        QCOMPARE(lastWidget()->messageId(), firstReply);
        m_page->switchBranch(firstReply, +1);
        QCOMPARE(lastWidget()->messageId(), r.messageId);
    }

    void editMakesABranchAndKeepsTheOld() {
        const QList<ChatMessageWidget*> widgets = m_page->transcript()->messageWidgets();
        const qint64 firstUser = widgets.first()->messageId();
        const int shownBefore = static_cast<int>(widgets.size());
        m_page->beginEdit(firstUser);
        QCOMPARE(m_page->composer()->toPlainText(), QStringLiteral("Tell me about experts"));
        QVERIFY(m_page->bannerText().contains(QStringLiteral("new branch")));
        const auto r = sendAndWait([&] { m_page->sendMessage(QStringLiteral("Tell me about routers")); });
        QCOMPARE(r.error, QString());
        auto* first = m_page->transcript()->messageWidgets().first();
        QCOMPARE(first->content(), QStringLiteral("Tell me about routers"));
        QCOMPARE(first->branchCount(), 2);
        QCOMPARE(m_page->transcript()->messageWidgets().size(), 2);
        m_page->switchBranch(first->messageId(), -1);
        first = m_page->transcript()->messageWidgets().first();
        QCOMPARE(first->messageId(), firstUser);
        QCOMPARE(first->content(), QStringLiteral("Tell me about experts"));
        QCOMPARE(static_cast<int>(m_page->transcript()->messageWidgets().size()), shownBefore);
    }

    void exportWritesTheShownBranch() {
        const QString md = m_dir.path() + "/chat.md";
        const QString js = m_dir.path() + "/chat.json";
        QCOMPARE(m_page->exportConversation(md, ChatPage::ExportFormat::Markdown), QString());
        QCOMPARE(m_page->exportConversation(js, ChatPage::ExportFormat::Json), QString());
        QFile mdFile(md);
        QVERIFY(mdFile.open(QIODevice::ReadOnly));
        const QString text = QString::fromUtf8(mdFile.readAll());
        QVERIFY(text.startsWith(QStringLiteral("# Tell me about experts")));
        QVERIFY(text.contains(QStringLiteral("### You\n\nTell me about experts")));
        QFile jsFile(js);
        QVERIFY(jsFile.open(QIODevice::ReadOnly));
        const QJsonArray messages = QJsonDocument::fromJson(jsFile.readAll()).object()["messages"].toArray();
        QCOMPARE(messages.size(), m_page->shownMessages().size());
        QCOMPARE(messages.last().toObject()["content"].toString(), m_page->shownMessages().last().content);
        QVERIFY(!m_page->exportConversation(m_dir.path() + "/no/such/dir/x.md", ChatPage::ExportFormat::Markdown)
                     .isEmpty());
    }

    void eventLoopStaysResponsive() {
        SamplingSettings s = m_page->samplingPanel()->settings();
        s.maxTokens = 400;
        m_page->samplingPanel()->setSettings(s);
        moe::test::StallProbe probe(5);
        probe.start();
        const auto r = sendAndWait([&] { m_page->sendMessage(QStringLiteral("A long answer please")); });
        probe.stop();
        qInfo("longest UI event-loop stall while generating %lld tokens: %lld ms",
              static_cast<long long>(r.replyTokens), static_cast<long long>(probe.maxGapMs()));
        QVERIFY(r.replyTokens > 50);
        QVERIFY2(probe.maxGapMs() < 50, qPrintable(QStringLiteral("stall %1 ms").arg(probe.maxGapMs())));
        s.maxTokens = 48;
        m_page->samplingPanel()->setSettings(s);
    }

    void presetsAreSaved() {
        SamplingSettings s = m_page->samplingPanel()->settings();
        s.temperature = 0.2;
        m_page->samplingPanel()->setSettings(s);
        QSignalSpy saved(m_page->samplingPanel(), &SamplingPanel::presetsChanged);
        m_page->samplingPanel()->savePreset(QStringLiteral("Precise"));
        QVERIFY(saved.wait(5000));
        QVERIFY(m_page->samplingPanel()->presetNames().contains(QStringLiteral("Precise")));
        s.temperature = 1.0;
        m_page->samplingPanel()->setSettings(s);
        QVERIFY(m_page->samplingPanel()->applyPreset(QStringLiteral("Precise")));
        QCOMPARE(m_page->samplingPanel()->settings().temperature, 0.2);
    }

    void restartFindsTheConversation() {
        const qint64 conv = m_page->currentConversationId();
        const int shown = static_cast<int>(m_page->shownMessages().size());
        const QString lastText = m_page->shownMessages().last().content;
        QTRY_COMPARE_WITH_TIMEOUT(m_store->messagesOf(conv).value().last().content, lastText, 5000);
        m_page.reset();
        m_thread.quit();
        m_thread.wait();
        m_store->close();
        m_store = std::make_unique<Store>();
        QCOMPARE(m_store->open(dbPath()), QString());
        m_service = new ChatService(m_store.get());
        m_service->moveToThread(&m_thread);
        m_thread.start();
        QMetaObject::invokeMethod(m_service, "setModel", Qt::QueuedConnection, Q_ARG(moe::app::ModelHandle, m_model),
                                  Q_ARG(qint64, 0));
        makePage();
        QVERIFY(m_page->conversationList()->count() >= 1);
        m_page->openConversation(conv);
        QCOMPARE(static_cast<int>(m_page->shownMessages().size()), shown);
        QCOMPARE(m_page->shownMessages().last().content, lastText);
        QCOMPARE(m_page->samplingPanel()->presetNames().contains(QStringLiteral("Precise")), true);
    }

    void thinkBlockIsCollapsible() {
        Message m;
        m.id = 99;
        m.role = MessageRole::Assistant;
        m.content = QStringLiteral(
            "<think>\nFirst add, then check.\n</think>\n\nThe sum is **4**.\n\n```python\nprint(2 + 2)\n```");
        ChatMessageWidget w(m);
        ThinkingBlockWidget* think = w.contentWidget()->thinkingBlock();
        QVERIFY(think);
        QCOMPARE(think->text(), QStringLiteral("First add, then check."));
        QVERIFY(!think->isExpanded());
        think->setExpanded(true);
        QVERIFY(think->isExpanded());
        QCOMPARE(w.contentWidget()->codeBlocks(), QStringList{QStringLiteral("print(2 + 2)")});
    }

    void screenshots();
};

// A conversation written as a user would see it with a reasoning model (Markdown, code, reasoning), plus a
// live reply of the fixture model, in light and dark.
void TestChatPage::screenshots() {
    const qint64 conv = moe::test::storeSampleConversation(*m_store, 24);
    m_page->reloadConversations();
    m_page->openConversation(conv);
    const auto r = sendAndWait([&] { m_page->sendMessage(QStringLiteral("Show me a short example.")); });
    QVERIFY2(r.replyTokens > 0, qPrintable(r.finishReason + r.error));
    QTest::qWait(100);
    m_page->transcript()->verticalScrollBar()->setValue(0);
    const QString dir = QStringLiteral(MOE_SCREENSHOT_DIR);
    QVERIFY(m_page->grab().save(dir + "/chat_page_light.png"));
    QApplication::setPalette(darkPalette());
    QTest::qWait(50);
    m_page->openConversation(conv);
    QTest::qWait(100);
    m_page->transcript()->verticalScrollBar()->setValue(0);
    QVERIFY(m_page->grab().save(dir + "/chat_page_dark.png"));
    QApplication::setPalette(lightPalette());
}

QTEST_MAIN(TestChatPage)
#include "test_chat_page.moc"
