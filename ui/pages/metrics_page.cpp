#include "pages/metrics_page.h"

#include "services/memory_fit.h"

#include "metrics/metrics_sampler.h"
#include "storage/store.h"
#include "widgets/time_series_plot.h"

#include <QButtonGroup>
#include <QDateTimeEdit>
#include <QFileDialog>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QMessageBox>
#include <QPushButton>
#include <QSaveFile>
#include <QScrollArea>
#include <QStyle>
#include <QTableWidget>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

namespace moe::ui {

namespace {
constexpr qint64 kLiveWindowMs = 5 * 60 * 1000;
constexpr qint64 kLiveMinSpanMs = 5 * 1000;
constexpr qint64 kHourMs = 3600 * 1000;
constexpr int kHistoryPoints = 1500;  // the Store averages longer ranges into this many buckets

QString writeText(const QString& path, const QString& text) {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Text))
        return QObject::tr("Could not open %1 for writing: %2").arg(path, file.errorString());
    file.write(text.toUtf8());
    if (!file.commit()) return QObject::tr("Could not write %1: %2").arg(path, file.errorString());
    return {};
}
}  // namespace

MetricsPage::MetricsPage(QWidget* parent) : QWidget(parent), m_window(kLiveWindowMs) {
    auto* root = new QVBoxLayout(this);
    root->setContentsMargins(16, 12, 16, 12);
    root->setSpacing(8);
    auto* title = new QLabel(tr("Metrics"), this);
    QFont tf = title->font();
    tf.setPointSizeF(tf.pointSizeF() * 1.4);
    tf.setBold(true);
    title->setFont(tf);
    auto* subtitle = new QLabel(tr("This machine, sampled every second, and every generation's latency"), this);
    subtitle->setEnabled(false);
    root->addWidget(title);
    root->addWidget(subtitle);
    root->addWidget(buildToolbar());
    m_gpuBanner = new QLabel(this);
    m_gpuBanner->setObjectName(QStringLiteral("gpuBanner"));
    m_gpuBanner->setWordWrap(true);
    m_gpuBanner->setVisible(false);
    m_gpuBanner->setStyleSheet(
        QStringLiteral("QLabel#gpuBanner { border: 1px solid palette(mid); border-radius: 6px;"
                       " padding: 8px; background: palette(alternate-base); }"));
    root->addWidget(m_gpuBanner);
    m_error = new QLabel(this);
    m_error->setWordWrap(true);
    m_error->setVisible(false);
    m_error->setStyleSheet(QStringLiteral("color: #c0392b;"));
    root->addWidget(m_error);
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(buildPlots());
    root->addWidget(scroll, 1);

    connect(&m_watcher, &QFutureWatcher<Loaded>::finished, this, &MetricsPage::showLoaded);
    m_liveRequestsTimer = new QTimer(this);
    m_liveRequestsTimer->setInterval(5000);  // requests and percentiles of the live window
    connect(m_liveRequestsTimer, &QTimer::timeout, this, &MetricsPage::reload);
    setRange(Range::Live);
}

MetricsPage::~MetricsPage() {
    m_watcher.waitForFinished();
}

QWidget* MetricsPage::buildToolbar() {
    auto* bar = new QWidget(this);
    auto* l = new QHBoxLayout(bar);
    l->setContentsMargins(0, 0, 0, 0);
    m_rangeGroup = new QButtonGroup(bar);
    const QList<std::pair<Range, QString>> ranges{{Range::Live, tr("Live (5 min)")},
                                                  {Range::Hour, tr("Last hour")},
                                                  {Range::Day, tr("Last day")},
                                                  {Range::Week, tr("Last week")},
                                                  {Range::Custom, tr("Custom…")}};
    for (const auto& [range, text] : ranges) {
        auto* b = new QToolButton(bar);
        b->setText(text);
        b->setCheckable(true);
        m_rangeGroup->addButton(b, static_cast<int>(range));
        l->addWidget(b);
    }
    connect(m_rangeGroup, &QButtonGroup::idClicked, this, [this](int id) { setRange(static_cast<Range>(id)); });
    m_customBox = new QWidget(bar);
    auto* cl = new QHBoxLayout(m_customBox);
    cl->setContentsMargins(8, 0, 0, 0);
    m_from = new QDateTimeEdit(QDateTime::currentDateTime().addSecs(-3 * 3600), m_customBox);
    m_to = new QDateTimeEdit(QDateTime::currentDateTime(), m_customBox);
    for (QDateTimeEdit* e : {m_from, m_to}) {
        e->setCalendarPopup(true);
        e->setDisplayFormat(QStringLiteral("yyyy-MM-dd hh:mm"));
        connect(e, &QDateTimeEdit::editingFinished, this, &MetricsPage::updateRangeFromButtons);
    }
    cl->addWidget(new QLabel(tr("From"), m_customBox));
    cl->addWidget(m_from);
    cl->addWidget(new QLabel(tr("to"), m_customBox));
    cl->addWidget(m_to);
    m_customBox->setVisible(false);
    l->addWidget(m_customBox);
    l->addStretch(1);
    m_rangeLabel = new QLabel(bar);
    m_rangeLabel->setEnabled(false);
    l->addWidget(m_rangeLabel);
    auto* refresh = new QPushButton(style()->standardIcon(QStyle::SP_BrowserReload), tr("Refresh"), bar);
    connect(refresh, &QPushButton::clicked, this, &MetricsPage::reload);
    l->addWidget(refresh);
    auto* exportButton = new QToolButton(bar);
    exportButton->setText(tr("Export CSV"));
    exportButton->setIcon(style()->standardIcon(QStyle::SP_DialogSaveButton));
    exportButton->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    exportButton->setPopupMode(QToolButton::InstantPopup);
    auto* menu = new QMenu(exportButton);
    menu->addAction(tr("Samples of this range…"), this, [this] { exportInteractive(false); });
    menu->addAction(tr("Requests of this range…"), this, [this] { exportInteractive(true); });
    exportButton->setMenu(menu);
    l->addWidget(exportButton);
    return bar;
}

QWidget* MetricsPage::buildPlots() {
    auto* w = new QWidget(this);
    auto* grid = new QGridLayout(w);
    m_plotGrid = grid;
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(10);
    m_cpuPlot = new TimeSeriesPlot(tr("CPU"), tr("Busy (%)"), QString(), w);
    m_cpuPlot->setLeftRange(0, 100);
    m_memPlot = new TimeSeriesPlot(tr("Memory"), tr("GiB"), QString(), w);
    m_gpuPlot = new TimeSeriesPlot(tr("GPU utilisation and memory"), tr("Utilisation (%)"), tr("Memory (GiB)"), w);
    m_gpuPlot->setLeftRange(0, 100);
    m_gpuPowerPlot = new TimeSeriesPlot(tr("GPU power and temperature"), tr("Power (W)"), tr("Temperature (°C)"), w);
    m_requestsPlot = new TimeSeriesPlot(tr("Requests"), tr("Time to first token (ms)"), tr("Tokens/s"), w);
    m_requestsPlot->setEmptyMessage(tr("No generations in this range: chat with a model to record some"));
    grid->addWidget(m_cpuPlot, 0, 0);
    grid->addWidget(m_memPlot, 0, 1);
    grid->addWidget(m_gpuPlot, 1, 0);
    grid->addWidget(m_gpuPowerPlot, 1, 1);
    grid->addWidget(m_requestsPlot, 2, 0);

    auto* latency = new QWidget(w);
    auto* ll = new QVBoxLayout(latency);
    ll->setContentsMargins(0, 0, 0, 0);
    auto* head = new QLabel(tr("Latency percentiles"), latency);
    QFont hf = head->font();
    hf.setBold(true);
    head->setFont(hf);
    m_requestCount = new QLabel(latency);
    m_requestCount->setEnabled(false);
    m_percentiles = new QTableWidget(3, 4, latency);
    m_percentiles->setHorizontalHeaderLabels({tr("p50"), tr("p90"), tr("p99"), tr("Samples")});
    m_percentiles->setVerticalHeaderLabels(
        {tr("Time to first token (ms)"), tr("Per-token latency (ms)"), tr("Tokens/s")});
    m_percentiles->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_percentiles->setSelectionMode(QAbstractItemView::NoSelection);
    m_percentiles->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_percentiles->verticalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
    m_percentiles->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_percentiles->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    fitPercentileTable();
    auto* note = new QLabel(tr("p50 is the typical value, p90 and p99 the slow tail: 1 in 10 and 1 in 100 "
                               "generations (or tokens) took longer. Per-token latency counts every generated "
                               "token of every request in the range."),
                            latency);
    note->setWordWrap(true);
    note->setEnabled(false);
    ll->addWidget(head);
    ll->addWidget(m_requestCount);
    ll->addWidget(m_percentiles);
    ll->addWidget(note);
    ll->addStretch(1);
    grid->addWidget(latency, 2, 1);
    for (int r = 0; r < 3; ++r) grid->setRowStretch(r, 1);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    return w;
}

void MetricsPage::setStore(app::Store* store) {
    m_store = store;
    reload();
}

void MetricsPage::setSampler(app::MetricsSampler* sampler) {
    if (m_sampler) disconnect(m_sampler, nullptr, this, nullptr);
    m_sampler = sampler;
    if (!sampler) return;
    connect(sampler, &app::MetricsSampler::sampled, this, &MetricsPage::addLiveSample);
    connect(sampler, &app::MetricsSampler::gpuStatusKnown, this, &MetricsPage::setGpuStatus);
    if (sampler->gpuProbed()) setGpuStatus(sampler->gpuAvailable(), sampler->gpuUnavailableReason());
}

void MetricsPage::setGpuStatus(bool available, const QString& reason) {
    m_gpuKnownMissing = !available;
    m_gpuReason = reason;
    m_gpuBanner->setText(available ? QString()
                                   : tr("<b>No NVIDIA GPU found:</b> %1. CPU and memory are still recorded; "
                                        "GPU figures appear here when the app runs on a machine with an NVIDIA "
                                        "driver.")
                                         .arg(reason.toHtmlEscaped()));
    m_gpuBanner->setVisible(!available);
    plotSamples();
}

void MetricsPage::setRange(Range range) {
    m_range = range;
    if (auto* b = m_rangeGroup->button(static_cast<int>(range))) b->setChecked(true);
    m_customBox->setVisible(range == Range::Custom);
    if (range == Range::Live)
        m_liveRequestsTimer->start();
    else
        m_liveRequestsTimer->stop();
    updateRangeFromButtons();
}

void MetricsPage::setCustomRange(const QDateTime& from, const QDateTime& to) {
    m_from->setDateTime(from);
    m_to->setDateTime(to);
    setRange(Range::Custom);
}

void MetricsPage::updateRangeFromButtons() {
    const qint64 now = QDateTime::currentMSecsSinceEpoch();
    switch (m_range) {
        case Range::Live:
            m_t0Ms = liveStartMs(now);
            m_t1Ms = now;
            break;
        case Range::Hour:
            m_t0Ms = now - kHourMs;
            m_t1Ms = now;
            break;
        case Range::Day:
            m_t0Ms = now - 24 * kHourMs;
            m_t1Ms = now;
            break;
        case Range::Week:
            m_t0Ms = now - 7 * 24 * kHourMs;
            m_t1Ms = now;
            break;
        case Range::Custom:
            m_t0Ms = std::min(m_from->dateTime(), m_to->dateTime()).toMSecsSinceEpoch();
            m_t1Ms = std::max(m_from->dateTime(), m_to->dateTime()).toMSecsSinceEpoch();
            break;
    }
    m_rangeLabel->setText(m_range == Range::Live
                              ? tr("Updates every second")
                              : QStringLiteral("%1 – %2").arg(
                                    QDateTime::fromMSecsSinceEpoch(m_t0Ms).toString(QStringLiteral("MMM d hh:mm")),
                                    QDateTime::fromMSecsSinceEpoch(m_t1Ms).toString(QStringLiteral("MMM d hh:mm"))));
    if (m_range == Range::Live) m_samples = m_window.samples();
    reload();
}

void MetricsPage::reload() {
    if (m_range == Range::Live) {
        m_t1Ms = QDateTime::currentMSecsSinceEpoch();
        m_t0Ms = liveStartMs(m_t1Ms);
    }
    if (!m_store || !m_store->isOpen()) {
        plotSamples();
        plotRequests();
        showPercentiles();
        return;
    }
    if (m_watcher.isRunning()) {
        m_reloadQueued = true;
        return;
    }
    // Reads off the UI thread: a week of samples or thousands of requests must not stall the event loop.
    app::Store* store = m_store;
    const qint64 t0 = m_t0Ms, t1 = m_t1Ms;
    m_watcher.setFuture(QtConcurrent::run([store, t0, t1] {
        Loaded out;
        auto samples = store->samplesBetween(t0, t1, kHistoryPoints);
        auto requests = store->requestsBetween(t0, t1);
        auto latency = store->latencyPercentiles(t0, t1);
        for (const QString& e : {samples.error(), requests.error(), latency.error()})
            if (!e.isEmpty() && out.error.isEmpty()) out.error = e;
        out.samples = samples.takeValue();
        out.requests = requests.takeValue();
        out.latency = latency.takeValue();
        return out;
    }));
}

void MetricsPage::showLoaded() {
    if (m_reloadQueued) {  // the range changed while reading: this result is stale, read the new one
        m_reloadQueued = false;
        reload();
        return;
    }
    Loaded loaded = m_watcher.result();
    m_error->setVisible(!loaded.error.isEmpty());
    m_error->setText(tr("Could not read the metrics history: %1").arg(loaded.error));
    if (m_range == Range::Live) {
        // The window is authoritative while live (the Store receives samples in batches, a little later);
        // the Store fills it only when the page starts with nothing.
        if (m_window.samples().isEmpty()) m_window.assign(loaded.samples);
        m_samples = m_window.samples();
    } else {
        m_samples = loaded.samples;
    }
    m_requests = loaded.requests;
    m_latency = loaded.latency;
    plotSamples();
    plotRequests();
    showPercentiles();
    emit historyLoaded();
}

void MetricsPage::addLiveSample(const app::MetricsSample& sample) {
    m_window.append(sample);
    if (m_range != Range::Live) return;
    m_t1Ms = std::max(sample.tsMs, QDateTime::currentMSecsSinceEpoch());
    m_t0Ms = liveStartMs(m_t1Ms);
    m_samples = m_window.samples();
    plotSamples();
    m_requestsPlot->setTimeRange(double(m_t0Ms) / 1000.0, double(m_t1Ms) / 1000.0);
    m_requestsPlot->refresh();
}

// The last 5 minutes; while this session is younger than that, its samples so far over 4/5 of the width (5 s
// at least), so a fresh start shows them across the plot instead of squeezed against its right edge.
qint64 MetricsPage::liveStartMs(qint64 endMs) const {
    const qint64 since = m_window.samples().isEmpty() ? endMs : m_window.samples().first().tsMs;
    const qint64 span = std::clamp((endMs - since) * 5 / 4, kLiveMinSpanMs, kLiveWindowMs);
    return endMs - span;
}

void MetricsPage::plotSamples() {
    const app::MetricsSeries s = app::metricsSeries(m_samples);
    const double t0 = double(m_t0Ms) / 1000.0, t1 = double(m_t1Ms) / 1000.0;
    m_cpuPlot->setSeries(0, s.cpuPercent);
    m_memPlot->setSeries(0, s.ramUsedGiB);
    m_memPlot->setSeries(1, s.rssGiB);
    m_gpuPlot->setSeries(0, s.gpuUtilPercent);
    m_gpuPlot->setSeries(1, s.gpuMemGiB, true);
    m_gpuPowerPlot->setSeries(0, s.gpuPowerW);
    m_gpuPowerPlot->setSeries(1, s.gpuTempC, true);
    const QString empty =
        m_range == Range::Live ? tr("Waiting for the first samples…") : tr("No samples in this range");
    m_cpuPlot->setEmptyMessage(empty);
    m_memPlot->setEmptyMessage(empty);
    const QString noGpu = m_gpuKnownMissing ? tr("No NVIDIA GPU found") : tr("No GPU figures in this range");
    m_gpuPlot->setEmptyMessage(noGpu);
    m_gpuPowerPlot->setEmptyMessage(noGpu);
    for (TimeSeriesPlot* p : {m_cpuPlot, m_memPlot, m_gpuPlot, m_gpuPowerPlot}) {
        p->setTimeRange(t0, t1);
        p->refresh();
    }
    // Without a GPU now and none in the range, the two GPU plots would only repeat the banner.
    const bool hideGpu = m_gpuKnownMissing && !s.hasGpu();
    m_gpuPlot->setVisible(!hideGpu);
    m_gpuPowerPlot->setVisible(!hideGpu);
    m_plotGrid->setRowStretch(1, hideGpu ? 0 : 1);  // the other plots take the hidden row's height
}

void MetricsPage::plotRequests() {
    const app::RequestSeries r = app::requestSeries(m_requests);
    m_requestsPlot->setSeries(0, r.ttftMs, false, true);
    m_requestsPlot->setSeries(1, r.tokensPerS, true, true);
    m_requestsPlot->setTimeRange(double(m_t0Ms) / 1000.0, double(m_t1Ms) / 1000.0);
    m_requestsPlot->refresh();
}

void MetricsPage::showPercentiles() {
    const QList<const app::Percentiles*> rows{&m_latency.ttftMs, &m_latency.tokenLatencyMs, &m_latency.tokensPerS};
    for (int r = 0; r < rows.size(); ++r) {
        const app::Percentiles& p = *rows[r];
        const int decimals = r == 1 ? 2 : 1;
        const QStringList cells{p.count ? QString::number(p.p50, 'f', decimals) : QStringLiteral("–"),
                                p.count ? QString::number(p.p90, 'f', decimals) : QStringLiteral("–"),
                                p.count ? QString::number(p.p99, 'f', decimals) : QStringLiteral("–"),
                                QString::number(p.count)};
        for (int c = 0; c < cells.size(); ++c) {
            auto* item = new QTableWidgetItem(cells[c]);
            item->setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
            m_percentiles->setItem(r, c, item);
        }
    }
    fitPercentileTable();
    m_requestCount->setText(
        m_latency.requests == 0
            ? tr("No generations in this range")
            : tr("%1 in this range").arg(app::formatQuantity(m_latency.requests, tr("generation"), tr("generations"))));
}

// Exactly the three rows, no empty grey area under them and none cut off: rows grow with their items.
void MetricsPage::fitPercentileTable() {
    m_percentiles->resizeRowsToContents();
    int height = m_percentiles->horizontalHeader()->sizeHint().height() + 2 * m_percentiles->frameWidth();
    for (int r = 0; r < m_percentiles->rowCount(); ++r) height += m_percentiles->verticalHeader()->sectionSize(r);
    m_percentiles->setFixedHeight(height);
}

QString MetricsPage::exportSamplesCsv(const QString& path) const {
    return writeText(path, app::samplesCsv(m_samples));
}

QString MetricsPage::exportRequestsCsv(const QString& path) const {
    return writeText(path, app::requestsCsv(m_requests));
}

void MetricsPage::exportInteractive(bool requests) {
    const QString suggested = requests ? QStringLiteral("requests.csv") : QStringLiteral("metrics.csv");
    const QString path = QFileDialog::getSaveFileName(this, requests ? tr("Export requests") : tr("Export samples"),
                                                      suggested, tr("CSV files (*.csv)"));
    if (path.isEmpty()) return;
    const QString error = requests ? exportRequestsCsv(path) : exportSamplesCsv(path);
    if (!error.isEmpty())
        QMessageBox::warning(this, tr("Export failed"), error);
    else
        emit statusMessage(tr("Saved %1").arg(path));
}

}  // namespace moe::ui
