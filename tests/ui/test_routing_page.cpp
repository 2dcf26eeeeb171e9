// The routing page on the routing of a real tiny fixture model (deepseek2 "tiny", a Session recording routing,
// a few generated tokens): one heatmap row per MoE layer and n_expert cells per row, per-layer totals equal
// tokens x top-k (counts) and the summed gate weights (mass), a selection compared with itself is all zeros,
// the CSV export, token hover / click / shift-click driving the table and the heatmap, live rows redrawn on a
// timer, PNG export, and screenshots (light and dark) into MOE_SCREENSHOT_DIR.
#include "model/fixture_writer.h"
#include "model/model.h"
#include "runtime/generator.h"
#include "runtime/session.h"

#include "models/routing_data.h"
#include "models/routing_view_model.h"
#include "pages/routing_page.h"
#include "widgets/routing_heatmap_widget.h"
#include "widgets/routing_panel.h"
#include "widgets/routing_stats_table.h"
#include "widgets/token_routing_table.h"
#include "widgets/token_strip_widget.h"

#include <qcustomplot.h>

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QImage>
#include <QStyleFactory>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using moe::app::RoutingData;
using moe::app::RoutingMeasure;
using moe::ui::RoutingPage;

namespace {

QPalette darkPalette() {
    QPalette p;
    p.setColor(QPalette::Window, QColor(0x1f, 0x21, 0x26));
    p.setColor(QPalette::WindowText, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Base, QColor(0x17, 0x19, 0x1d));
    p.setColor(QPalette::AlternateBase, QColor(0x23, 0x26, 0x2c));
    p.setColor(QPalette::Text, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Button, QColor(0x2a, 0x2d, 0x33));
    p.setColor(QPalette::ButtonText, QColor(0xe6, 0xe8, 0xeb));
    p.setColor(QPalette::Highlight, QColor(0x3d, 0x7e, 0xd6));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Mid, QColor(0x44, 0x48, 0x50));
    p.setColor(QPalette::Light, QColor(0x3a, 0x3e, 0x46));
    p.setColor(QPalette::Midlight, QColor(0x32, 0x36, 0x3d));
    p.setColor(QPalette::Dark, QColor(0x15, 0x17, 0x1a));
    p.setColor(QPalette::Shadow, QColor(0x0b, 0x0c, 0x0e));
    p.setColor(QPalette::Disabled, QPalette::WindowText, QColor(0x90, 0x95, 0x9d));
    p.setColor(QPalette::Disabled, QPalette::Text, QColor(0x90, 0x95, 0x9d));
    return p;
}

QString screenshotPath(const QString& name) {
    QDir().mkpath(QStringLiteral(MOE_SCREENSHOT_DIR));
    return QStringLiteral(MOE_SCREENSHOT_DIR "/") + name;
}

}  // namespace

class TestRoutingPage : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void heatmapHasEveryLayerAndExpert();
    void countAndMassTotals();
    void differenceOfASelectionWithItselfIsZero();
    void csvExport();
    void pngExport();
    void tokenHoverAndSelection();
    void heatmapTooltip();
    void liveRowsAreRedrawnOnATimer();
    void emptyStateAndPanel();
    void screenshots();

private:
    double layerSum(const moe::ui::RoutingHeatmapWidget* heatmap, int slot) const;

    QTemporaryDir m_dir;
    std::unique_ptr<moe::Model> m_model;
    std::unique_ptr<moe::Session> m_session;
    RoutingData m_data;  // prompt + reply 1 + reply 2 as segments
    int64_t m_promptRows = 0;
    int32_t m_nShared = 0;
};

void TestRoutingPage::initTestCase() {
    QVERIFY(m_dir.isValid());
    const std::string path = (m_dir.path() + QStringLiteral("/tiny.gguf")).toStdString();
    auto spec = moe::fixture_preset(moe::Arch::Deepseek2, "tiny");
    QVERIFY2(spec.ok(), spec.error().c_str());
    spec->n_threads = 2;
    auto written = moe::write_fixture(*spec, path);
    QVERIFY2(written.ok(), written.error().c_str());
    moe::ModelLoadOptions load;
    load.n_threads = 2;
    auto model = moe::Model::load(path, load);
    QVERIFY2(model.ok(), model.error().c_str());
    m_model = std::move(model).value();
    m_nShared = static_cast<int32_t>(m_model->hparams().n_expert_shared);
    auto session = moe::Session::create(*m_model, {256, moe::KvType::F32, true});
    QVERIFY2(session.ok(), session.error().c_str());
    m_session = std::move(session).value();

    std::vector<int32_t> prompt = m_model->tokenizer().encode("Hello, how are experts chosen?", true, false);
    moe::GenerateOptions options;
    options.max_tokens = 12;
    options.stop_at_eog = false;
    options.sampler.temperature = 0.0f;
    auto first = moe::generate(*m_session, prompt, options);
    QVERIFY2(first.ok(), first.error().c_str());
    m_promptRows = static_cast<int64_t>(prompt.size());
    const moe::RoutingTrace& trace = m_session->trace();
    const moe::Tokenizer* tok = &m_model->tokenizer();
    // The last generated token is sampled but not evaluated, so the trace ends one short of prompt + reply.
    const int64_t afterFirst = trace.n_rows();
    QVERIFY(afterFirst > m_promptRows);
    m_data = RoutingData::fromTrace(trace, tok, m_nShared, 0, m_promptRows, QStringLiteral("Prompt"));
    QVERIFY(m_data.append(
        RoutingData::fromTrace(trace, tok, m_nShared, m_promptRows, afterFirst, QStringLiteral("Reply 1"))));
    // A second turn: the conversation so far plus more user text, different routing.
    std::vector<int32_t> turn2 = m_session->tokens();
    for (int32_t t : m_model->tokenizer().encode(" And now a different topic entirely.", false, false))
        turn2.push_back(t);
    options.sampler.temperature = 1.0f;
    options.sampler.seed = 3;
    auto second = moe::generate(*m_session, turn2, options);
    QVERIFY2(second.ok(), second.error().c_str());
    QVERIFY(m_data.append(
        RoutingData::fromTrace(trace, tok, m_nShared, afterFirst, trace.n_rows(), QStringLiteral("Reply 2"))));
    QCOMPARE(m_data.nRows(), trace.n_rows());
    QCOMPARE(int(m_data.segments().size()), 3);
    QCOMPARE(m_data.nSlots(), int32_t(m_model->moe_layers().size()));
    QVERIFY(m_nShared >= 1);
}

double TestRoutingPage::layerSum(const moe::ui::RoutingHeatmapWidget* heatmap, int slot) const {
    double sum = 0;
    for (int e = 0; e < heatmap->colorMap()->data()->keySize(); ++e) sum += heatmap->colorMap()->data()->cell(e, slot);
    return sum;
}

void TestRoutingPage::heatmapHasEveryLayerAndExpert() {
    RoutingPage page;
    page.setRouting(m_data);
    page.setScope(0);  // whole conversation
    QCPColorMapData* cells = page.heatmap()->colorMap()->data();
    QCOMPARE(cells->valueSize(), int(m_model->moe_layers().size()));
    QCOMPARE(cells->keySize(), int(m_model->hparams().n_expert));
    // The shared block: its own narrow axis rect spanning exactly the shared experts (a single column is
    // stored as two half cells, see fillCells).
    QCOMPARE(page.heatmap()->grid().nShared, m_nShared);
    QCPColorMapData* shared = page.heatmap()->sharedMap()->data();
    const double halfCell = shared->keySize() > 1 ? 0.5 * shared->keyRange().size() / (shared->keySize() - 1) : 0.5;
    QCOMPARE(shared->keyRange().lower - halfCell, -0.5);
    QCOMPARE(shared->keyRange().upper + halfCell, m_nShared - 0.5);
    QVERIFY(page.heatmap()->sharedMap()->keyAxis()->axisRect() != page.heatmap()->colorMap()->keyAxis()->axisRect());
    QCOMPARE(page.heatmap()->grid().moeLayers, m_model->moe_layers());
    QCOMPARE(page.statsTable()->rowCount(), int(m_model->moe_layers().size()));
    // Every layer selected k experts for every token.
    for (int s = 0; s < cells->valueSize(); ++s)
        QCOMPARE(page.statsTable()->item(s, 6)->text().toLongLong(), m_data.nRows() * m_data.k());
}

void TestRoutingPage::countAndMassTotals() {
    RoutingPage page;
    page.setRouting(m_data);
    page.setScope(0);
    page.setNormalized(false);
    page.setMeasure(RoutingMeasure::Count);
    const int nSlots = m_data.nSlots();
    const moe::RoutingTrace& trace = m_session->trace();
    for (int s = 0; s < nSlots; ++s) QCOMPARE(layerSum(page.heatmap(), s), double(trace.n_rows() * trace.k()));
    page.setMeasure(RoutingMeasure::Mass);
    for (int s = 0; s < nSlots; ++s) {
        double expected = 0;  // straight from the engine's trace
        for (int64_t r = 0; r < trace.n_rows(); ++r)
            for (float w : trace.weights(r, s)) expected += w;
        QVERIFY2(std::abs(layerSum(page.heatmap(), s) - expected) < 1e-3 * std::max(1.0, expected),
                 qPrintable(QStringLiteral("slot %1: %2 vs %3").arg(s).arg(layerSum(page.heatmap(), s)).arg(expected)));
    }
    // Normalised: every layer sums to 100 %.
    page.setNormalized(true);
    for (int s = 0; s < nSlots; ++s) QVERIFY(std::abs(layerSum(page.heatmap(), s) - 100.0) < 1e-6);
    // One reply only: its rows x k.
    page.setNormalized(false);
    page.setMeasure(RoutingMeasure::Count);
    page.setScope(2);  // "Reply 1"
    const auto& seg = m_data.segments()[1];
    QCOMPARE(page.heatmap()->grid().a.n_rows, seg.end - seg.begin);
    for (int s = 0; s < nSlots; ++s) QCOMPARE(layerSum(page.heatmap(), s), double((seg.end - seg.begin) * trace.k()));
}

void TestRoutingPage::differenceOfASelectionWithItselfIsZero() {
    RoutingPage page;
    page.setRouting(m_data);
    page.setComparison(true, 2, 2);  // Reply 1 vs Reply 1
    const moe::app::HeatmapGrid& same = page.heatmap()->grid();
    QVERIFY(same.difference);
    for (double v : same.values) QCOMPARE(v, 0.0);
    QCPColorMapData* cells = page.heatmap()->colorMap()->data();
    for (int s = 0; s < cells->valueSize(); ++s)
        for (int e = 0; e < cells->keySize(); ++e) QCOMPARE(cells->cell(e, s), 0.0);
    // Two different replies: not all zero, and each layer's difference sums to 0 (shares on both sides sum to 1).
    page.setComparison(true, 2, 3);
    const moe::app::HeatmapGrid& diff = page.heatmap()->grid();
    bool nonZero = false;
    for (int s = 0; s < diff.nSlots(); ++s) {
        double sum = 0;
        for (int e = 0; e < diff.nExpert; ++e) {
            sum += diff.value(s, e);
            nonZero = nonZero || std::abs(diff.value(s, e)) > 1e-9;
        }
        QVERIFY(std::abs(sum) < 1e-9);
    }
    QVERIFY(nonZero);
    QVERIFY(page.heatmap()->colorMap()->dataRange().lower < 0);  // centred at zero
    QCOMPARE(page.heatmap()->colorMap()->dataRange().lower, -page.heatmap()->colorMap()->dataRange().upper);
    page.setComparison(false);
    QVERIFY(!page.heatmap()->grid().difference);
}

void TestRoutingPage::csvExport() {
    RoutingPage page;
    page.setRouting(m_data);
    page.setScope(0);
    const QString path = m_dir.path() + QStringLiteral("/routing.csv");
    QCOMPARE(page.exportCsv(path), QString());
    QFile file(path);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QStringList lines = QString::fromUtf8(file.readAll()).split('\n', Qt::SkipEmptyParts);
    QCOMPARE(lines.first(), QStringLiteral("layer,expert,count,mass,share"));
    QCOMPARE(lines.size() - 1, m_data.nSlots() * m_data.nExpert());
    QMap<int, qint64> counts;
    QMap<int, double> shares;
    for (int i = 1; i < lines.size(); ++i) {
        const QStringList f = lines[i].split(',');
        QCOMPARE(f.size(), 5);
        counts[f[0].toInt()] += f[2].toLongLong();
        shares[f[0].toInt()] += f[4].toDouble();
    }
    QCOMPARE(counts.size(), m_data.nSlots());
    for (int layer : m_data.moeLayers()) {
        QCOMPARE(counts.value(layer), m_data.nRows() * m_data.k());
        QVERIFY(std::abs(shares.value(layer) - 1.0) < 1e-6);
    }
    QVERIFY(!page.exportCsv(QStringLiteral("/nonexistent-folder/x.csv")).isEmpty());  // says which file
}

void TestRoutingPage::pngExport() {
    RoutingPage page;
    page.resize(1000, 700);
    page.setRouting(m_data);
    const QString path = m_dir.path() + QStringLiteral("/routing.png");
    QCOMPARE(page.exportPng(path), QString());
    QImage image(path);
    QVERIFY(!image.isNull());
    QVERIFY(image.width() >= 1000);
}

void TestRoutingPage::tokenHoverAndSelection() {
    RoutingPage page;
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.setRouting(m_data);
    page.setScope(2);  // Reply 1
    const int64_t base = m_data.segments()[1].begin;
    moe::ui::TokenStripWidget* strip = page.tokenStrip();
    QCOMPARE(int64_t(strip->count()), m_data.segments()[1].end - base);
    QVERIFY(strip->count() >= 5);
    QApplication::processEvents();
    QVERIFY(!strip->chipRect(2).isEmpty());

    QTest::mouseMove(strip, strip->chipRect(2).center());
    QTRY_COMPARE(strip->hoveredToken(), 2);
    QCOMPARE(page.tokenTable()->shownRow(), base + 2);
    QCOMPARE(page.tokenTable()->rowCount(), m_data.nSlots());
    for (int s = 0; s < m_data.nSlots(); ++s) {
        const auto ids = m_session->trace().experts(base + 2, s);
        const auto w = m_session->trace().weights(base + 2, s);
        for (int j = 0; j < m_data.k(); ++j) {
            QCOMPARE(page.tokenTable()->item(s, j + 1)->data(Qt::UserRole).toInt(), ids[size_t(j)]);
            QCOMPARE(page.tokenTable()->item(s, j + 1)->data(Qt::UserRole + 1).toDouble(), double(w[size_t(j)]));
        }
    }
    // Click token 1, shift-click token 4: tokens 1..4 selected, the heatmap counts exactly those.
    QTest::mouseClick(strip, Qt::LeftButton, Qt::NoModifier, strip->chipRect(1).center());
    QCOMPARE(strip->selectionBegin(), 1);
    QCOMPARE(strip->selectionEnd(), 2);
    QCOMPARE(page.heatmap()->grid().a.n_rows, 1);
    QTest::mouseClick(strip, Qt::LeftButton, Qt::ShiftModifier, strip->chipRect(4).center());
    QCOMPARE(strip->selectionBegin(), 1);
    QCOMPARE(strip->selectionEnd(), 5);
    page.setNormalized(false);
    QCOMPARE(page.heatmap()->grid().a.n_rows, 4);
    for (int s = 0; s < m_data.nSlots(); ++s) QCOMPARE(layerSum(page.heatmap(), s), double(4 * m_data.k()));
    const moe::app::HeatmapGrid expected = [&] {
        moe::app::RoutingViewModel vm;
        vm.setData(m_data);
        vm.setNormalized(false);
        vm.setSelection(moe::app::RoutingSelection::range(base + 1, base + 5));
        return vm.grid();
    }();
    QCOMPARE(page.heatmap()->grid().a.counts, expected.a.counts);
    // Clicking empty space clears the selection: back to the whole reply.
    QTest::mouseClick(strip, Qt::LeftButton, Qt::NoModifier, QPoint(strip->width() - 3, strip->height() - 3));
    QCOMPARE(strip->selectionEnd(), 0);
    QCOMPARE(page.heatmap()->grid().a.n_rows, m_data.segments()[1].end - base);
}

void TestRoutingPage::heatmapTooltip() {
    RoutingPage page;
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.setRouting(m_data);
    page.setScope(0);
    QCustomPlot* plot = page.heatmap()->plot();
    plot->replot();
    QCPAxisRect* rect = page.heatmap()->colorMap()->keyAxis()->axisRect();
    const int expert = 3, slot = 1;
    const QPoint p(int(rect->axis(QCPAxis::atBottom)->coordToPixel(expert)),
                   int(rect->axis(QCPAxis::atLeft)->coordToPixel(slot)));
    const QString tip = page.heatmap()->tooltipAt(p);
    QVERIFY2(tip.contains(QStringLiteral("Layer %1 · expert %2").arg(m_data.moeLayers()[slot]).arg(expert)),
             qPrintable(tip));
    const auto& grid = page.heatmap()->grid();
    QVERIFY(tip.contains(
        QStringLiteral("Count: %1 of %2").arg(grid.a.counts[grid.index(slot, expert)]).arg(m_data.nRows())));
    QVERIFY(page.heatmap()->tooltipAt(QPoint(1, 1)).isEmpty());
}

void TestRoutingPage::liveRowsAreRedrawnOnATimer() {
    RoutingPage page;
    page.resize(1100, 700);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.beginLiveReply(QStringLiteral("Reply 1"));
    const auto& seg = m_data.segments()[1];
    int64_t sent = 0;
    std::vector<RoutingData> batches;
    for (int64_t r = seg.begin; r < seg.end; r += 3) {
        RoutingData rows(m_data.nExpert(), m_data.k(), m_data.moeLayers(), m_data.nShared());
        for (int64_t i = r; i < std::min(r + 3, seg.end); ++i) {
            std::vector<int32_t> ids;
            std::vector<float> w;
            for (int s = 0; s < m_data.nSlots(); ++s) {
                ids.insert(ids.end(), m_data.experts(i, s).begin(), m_data.experts(i, s).end());
                w.insert(w.end(), m_data.weights(i, s).begin(), m_data.weights(i, s).end());
            }
            rows.appendRow(m_data.token(i), m_data.tokenText(i), ids, w);
        }
        sent += rows.nRows();
        batches.push_back(rows);
        page.appendLiveRows(rows);
        QVERIFY(page.hasPendingRedraw());  // batched: drawn by the timer, not per batch
    }
    QTRY_COMPARE(page.heatmap()->grid().a.n_rows, sent);
    QCOMPARE(int64_t(page.tokenStrip()->count()), sent);
    page.finishLiveReply();
    QVERIFY(!page.hasPendingRedraw());
    page.setNormalized(false);
    for (int s = 0; s < m_data.nSlots(); ++s) QCOMPARE(layerSum(page.heatmap(), s), double(sent * m_data.k()));

    // A hidden page (another page is on screen) keeps the rows but draws once, when it is shown again.
    page.hide();
    page.beginLiveReply(QStringLiteral("Reply 2"));
    const int64_t shownBefore = page.tokenStrip()->count();
    for (const RoutingData& rows : batches) page.appendLiveRows(rows);
    QVERIFY(page.hasPendingRedraw());
    QTest::qWait(150);  // longer than the live redraw interval: still nothing drawn
    QCOMPARE(int64_t(page.tokenStrip()->count()), shownBefore);
    page.show();
    QCOMPARE(int64_t(page.tokenStrip()->count()), shownBefore + sent);
    QVERIFY(!page.hasPendingRedraw());
}

void TestRoutingPage::emptyStateAndPanel() {
    RoutingPage page;
    page.resize(1100, 700);
    QVERIFY(!page.exportCsv(m_dir.path() + "/empty.csv").isEmpty());
    auto* empty = page.findChild<QLabel*>(QStringLiteral("routingEmptyText"));
    QVERIFY(empty && empty->isVisibleTo(&page));
    QVERIFY(empty->text().contains(QStringLiteral("Chat with a MoE model")));
    page.grab().save(screenshotPath(QStringLiteral("routing_page_empty.png")));

    moe::ui::RoutingPanel panel;
    panel.resize(640, 420);
    const auto& seg = m_data.segments()[2];
    panel.setRouting(RoutingData::fromTrace(m_session->trace(), &m_model->tokenizer(), m_nShared, seg.begin, seg.end));
    QCOMPARE(int64_t(panel.tokenStrip()->count()), seg.end - seg.begin);
    QCOMPARE(panel.heatmap()->colorMap()->data()->valueSize(), m_data.nSlots());
    panel.show();
    QVERIFY(QTest::qWaitForWindowExposed(&panel));
    panel.grab().save(screenshotPath(QStringLiteral("routing_panel.png")));
}

void TestRoutingPage::screenshots() {
    for (const bool dark : {false, true}) {
        RoutingPage page;
        if (dark) page.setPalette(darkPalette());
        page.resize(1280, 820);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.setRouting(m_data);
        page.setScope(0);
        auto* strip = page.tokenStrip();
        QApplication::processEvents();
        QTest::mouseMove(strip, strip->chipRect(m_promptRows + (dark ? 4 : 2)).center());
        QApplication::processEvents();
        page.heatmap()->plot()->replot();
        const QString name = dark ? QStringLiteral("routing_page_dark.png") : QStringLiteral("routing_page_light.png");
        QVERIFY(page.grab().save(screenshotPath(name)));
        if (!dark) {
            page.setComparison(true, 2, 3);
            page.heatmap()->plot()->replot();
            QVERIFY(page.grab().save(screenshotPath(QStringLiteral("routing_page_compare.png"))));
        }
    }
}

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setStyle(QStyleFactory::create(QStringLiteral("Fusion")));
    TestRoutingPage test;
    return QTest::qExec(&test, argc, argv);
}

#include "test_routing_page.moc"
