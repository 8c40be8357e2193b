#include "main_window.h"

#include "activation_chart.h"
#include "bn_stats_chart.h"
#include "chart_export.h"
#include "chart_style.h"
#include "config_panel.h"
#include "dataset.h"
#include "error.h"
#include "grad_norm_chart.h"
#include "loss_chart.h"
#include "run_reader.h"
#include "trainer.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileInfo>
#include <QMimeData>
#include <QUrl>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QGridLayout>
#include <QGroupBox>
#include <QInputDialog>
#include <QLabel>
#include <QJsonDocument>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QProgressBar>
#include <QScreen>
#include <QScrollArea>
#include <QStandardPaths>
#include <QStatusBar>
#include <QStyle>
#include <QTimer>
#include <QToolBar>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace bnlab::ui {
namespace {

// One chart is redrawn per tick, in turn: the event loop is never busy with more than one chart's repaint at a
// time (Qt Charts paints in software; four at once took 80-150 ms on a loaded 2-core machine). The tick adapts
// so that the window's own work (refreshes and painting, measured as the GUI thread's CPU time) stays near 5%
// of one core while training: between 50 ms (each chart 5 times a second) and 400 ms. On 2 cores every
// millisecond the window spends is taken from training.
constexpr int kMinRedrawMs = 50;
constexpr int kMaxRedrawMs = 400;
constexpr double kGuiShare = 0.05;

double threadCpuSeconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
constexpr int kChartCount = 4;

QString duration(double s) {
    if (!std::isfinite(s) || s < 0) return "--:--";
    const long t = std::lround(s);
    return t >= 3600 ? QString("%1:%2:%3").arg(t / 3600).arg(t / 60 % 60, 2, 10, QChar('0')).arg(t % 60, 2, 10, QChar('0'))
                     : QString("%1:%2").arg(t / 60).arg(t % 60, 2, 10, QChar('0'));
}

// A titled frame around a chart with its controls in a row above it.
QWidget* panel(const QString& title, QWidget* chart, const QList<QWidget*>& controls, QWidget* parent) {
    auto* box = new QGroupBox(title, parent);
    auto* layout = new QVBoxLayout(box);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->setSpacing(2);
    if (!controls.isEmpty()) {
        auto* row = new QHBoxLayout;
        for (QWidget* w : controls) row->addWidget(w);
        row->addStretch(1);
        layout->addLayout(row);
    }
    layout->addWidget(chart, 1);
    return box;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle("BN Lab");
    // 1600×1000, or less on a smaller screen (the status bar must stay on it).
    const QRect screenArea = screen() ? screen()->availableGeometry() : QRect(0, 0, 1600, 1000);
    resize(std::min(1600, screenArea.width() * 95 / 100), std::min(1000, screenArea.height() * 92 / 100));
    m_runsFolder = QStandardPaths::writableLocation(QStandardPaths::AppDataLocation) + "/runs";

    m_config = new ConfigPanel(this);
    auto* scroll = new QScrollArea(this);
    scroll->setWidget(m_config);
    scroll->setWidgetResizable(true);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    scroll->setMinimumWidth(m_config->sizeHint().width() + 24);
    auto* dock = new QDockWidget(tr("Configuration"), this);
    dock->setObjectName("configuration");
    dock->setWidget(scroll);
    dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::LeftDockWidgetArea, dock);

    buildCharts();
    buildActions();

    m_progress = new QProgressBar(this);
    m_progress->setMinimumWidth(300);
    m_progress->setMaximumWidth(380);
    m_progress->setTextVisible(true);
    m_statusText = new QLabel(tr("Ready: press Start (Ctrl+R) to train the network on the left, or change a "
                                 "setting first (hover over any control for what it does)."), this);
    statusBar()->addWidget(m_statusText, 1);
    statusBar()->addPermanentWidget(m_progress);

    m_redraw = new QTimer(this);
    m_redraw->setInterval(kMinRedrawMs);
    connect(m_redraw, &QTimer::timeout, this, [this] {
        // The GUI thread's share of a core since the last tick sets the next interval.
        const double cpu = threadCpuSeconds(), wall = double(m_tickClock.restart()) / 1000.0;
        if (wall > 0 && m_lastCpu > 0) {
            const double share = (cpu - m_lastCpu) / wall;
            int interval = m_redraw->interval();
            if (share > kGuiShare) interval = std::min(kMaxRedrawMs, interval * 3 / 2);
            else if (share < kGuiShare / 2) interval = std::max(kMinRedrawMs, interval * 4 / 5);
            if (interval != m_redraw->interval()) m_redraw->setInterval(interval);
        }
        m_lastCpu = cpu;
        if (m_dirty) {
            m_dirty = false;
            m_staleCharts = (1 << kChartCount) - 1;
            updateStatus();
        }
        refreshNextChart();
    });
    m_tickClock.start();
    m_redraw->start();

    connect(&m_controller, &app::RunController::updated, this, [this] {
        m_dirty = true;
        reportChanges();
    });
    connect(&m_controller, &app::RunController::stateChanged, this, [this] {
        updateActions();
        const app::RunState state = m_controller.run().state;
        m_config->setLive(m_controller.isActive() && (state == app::RunState::Running || state == app::RunState::Paused));
        m_dirty = true;
        const app::RunData& run = m_controller.run();
        if (run.summary && run.summary->reason == engine::StopReason::Diverged)
            showError(tr("The run diverged: %1").arg(QString::fromStdString(run.summary->message)));
    });
    connect(&m_controller, &app::RunController::failed, this, [this](const QString& message) { showError(message); });
    connect(&m_controller, &app::RunController::changeRefused, this, [this](const QString& message) {
        showError(tr("The change was not applied: %1").arg(message));
        m_config->setConfig(m_controller.run().current);  // the panel shows what the run really uses
    });
    connect(m_config, &ConfigPanel::liveChange, this, &MainWindow::applyLiveChange);
    restoreSettings();
    updateActions();
    setAcceptDrops(true);  // a run folder dropped on the window opens it
}

// Window geometry, dock layout and the last configuration are remembered between sessions.
void MainWindow::restoreSettings() {
    QSettings settings;
    restoreGeometry(settings.value("window/geometry").toByteArray());
    restoreState(settings.value("window/state").toByteArray());
    const QByteArray json = settings.value("config/last").toByteArray();
    if (json.isEmpty()) return;
    try {
        m_config->setConfig(app::fromJson(QJsonDocument::fromJson(json).object(), tr("saved settings")));
    } catch (const std::exception&) {
        // An older or damaged saved configuration: keep the default preset.
    }
}

void MainWindow::saveSettings() const {
    QSettings settings;
    settings.setValue("window/geometry", saveGeometry());
    settings.setValue("window/state", saveState());
    try {
        settings.setValue("config/last", QJsonDocument(app::toJson(m_config->config())).toJson(QJsonDocument::Compact));
    } catch (const std::exception&) {
        // A field that does not parse is not saved.
    }
}

MainWindow::~MainWindow() = default;

void MainWindow::buildActions() {
    QToolBar* bar = addToolBar(tr("Run"));
    bar->setObjectName("run");
    bar->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
    m_start = bar->addAction(style()->standardIcon(QStyle::SP_MediaPlay), tr("Start"), this, [this] { startRun(); });
    m_start->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_R));
    m_start->setToolTip(tr("Start training with the settings on the left (Ctrl+R). A run in progress is stopped."));
    m_pause = bar->addAction(style()->standardIcon(QStyle::SP_MediaPause), tr("Pause"), this, [this] {
        m_controller.setPaused(m_controller.run().state == app::RunState::Running);
    });
    m_pause->setShortcut(QKeySequence(Qt::Key_Space));
    m_pause->setToolTip(tr("Pause or resume training (Space). The charts stay live."));
    m_stop = bar->addAction(style()->standardIcon(QStyle::SP_MediaStop), tr("Stop"), this, [this] { m_controller.stop(); });
    m_stop->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    m_stop->setToolTip(tr("Stop after the current step (Ctrl+.). Everything measured so far is kept and saved."));
    m_step = bar->addAction(style()->standardIcon(QStyle::SP_MediaSkipForward), tr("Step"), this, &MainWindow::stepRun);
    m_step->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Right));
    m_step->setToolTip(tr("Train on one batch and pause (Ctrl+Right): watch a single update. Starts a paused run if "
                          "none is going."));
    m_reset = bar->addAction(style()->standardIcon(QStyle::SP_BrowserReload), tr("Reset"), this, &MainWindow::resetRun);
    m_reset->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    m_reset->setToolTip(tr("Stop the run and clear the charts (Ctrl+Shift+R). The run stays saved in its folder."));

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &Dataset Folder..."), QKeySequence::Open, this, &MainWindow::chooseDataset);
    file->addAction(tr("Open &Run..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this, &MainWindow::chooseRun);
    m_recentRuns = file->addMenu(tr("Recent R&uns"));
    rebuildRecentRuns();
    file->addSeparator();
    file->addAction(tr("&Export Chart..."), QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::exportChart);
    file->addAction(tr("Export Dash&board as PNG..."), this, &MainWindow::exportDashboard);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* view = menuBar()->addMenu(tr("&View"));
    for (QDockWidget* dock : findChildren<QDockWidget*>()) view->addAction(dock->toggleViewAction());
    for (QToolBar* toolbar : findChildren<QToolBar*>()) view->addAction(toolbar->toggleViewAction());
    QMenu* run = menuBar()->addMenu(tr("&Run"));
    run->addAction(m_start);
    run->addAction(m_pause);
    run->addAction(m_stop);
    run->addAction(m_step);
    run->addAction(m_reset);
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About BN Lab"), this, [this] {
        QMessageBox::about(
            this, tr("About BN Lab"),
            tr("<h3>BN Lab %1</h3><p>Batch Normalization by experiment: change how BN is used, train on your own "
               "CPU, and watch activations, gradients and accuracy live.</p>"
               "<p>Batch Normalization: S. Ioffe and C. Szegedy, <i>Batch Normalization: Accelerating Deep Network "
               "Training by Reducing Internal Covariate Shift</i>, ICML 2015.</p>"
               "<p>The bundled MNIST database of handwritten digits is by Yann LeCun, Corinna Cortes and "
               "Christopher J.C. Burges, licensed under CC BY-SA 3.0.</p>"
               "<p>Built with Qt %2, Qt Charts, Eigen and oneTBB.</p>")
                .arg(QApplication::applicationVersion(), QString::fromLatin1(qVersion())));
    });
    help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildCharts() {
    auto* central = new QWidget(this);
    auto* outer = new QVBoxLayout(central);
    outer->setContentsMargins(4, 4, 4, 4);
    m_error = new QLabel(central);
    m_error->setWordWrap(true);
    m_error->setStyleSheet("QLabel { background: #fde2e1; color: #8a1c1c; border: 1px solid #e6a5a3; padding: 6px; }");
    m_error->hide();
    outer->addWidget(m_error);

    auto* grid = new QGridLayout;
    outer->addLayout(grid, 1);

    m_loss = new LossChart(central);
    m_xAxis = new QComboBox(central);
    m_xAxis->addItems({tr("x: step"), tr("x: epoch"), tr("x: samples seen"), tr("x: wall-clock time")});
    m_xAxis->setToolTip(tr("What the horizontal axis counts: training steps, epochs, samples seen (fair when runs "
                           "use different batch sizes) or wall-clock seconds (fair when one run is slower per step)."));
    connect(m_xAxis, &QComboBox::currentIndexChanged, this, [this](int i) {
        const auto axis = static_cast<XAxis>(i);
        m_loss->setXAxis(axis);
        m_grads->setXAxis(axis);
        m_activations->setXAxis(axis);
        m_bnStats->setXAxis(axis);
        m_dirty = true;
    });
    auto* smoothingLabel = new QLabel(tr("smoothing"), central);
    m_smoothing = new QDoubleSpinBox(central);
    m_smoothing->setRange(0, 0.999);
    m_smoothing->setDecimals(3);
    m_smoothing->setSingleStep(0.01);
    m_smoothing->setValue(m_loss->smoothing());
    const QString smoothingTip = tr("Weight of the moving average drawn over the per-step training values: 0 shows "
                                    "the raw values, 0.98 averages over about 50 steps, 0.999 over about 1000.");
    m_smoothing->setToolTip(smoothingTip);
    smoothingLabel->setToolTip(smoothingTip);
    connect(m_smoothing, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        m_loss->setSmoothing(v);
        m_staleCharts |= 1;
    });
    grid->addWidget(panel(tr("Loss and accuracy"), m_loss, {m_xAxis, smoothingLabel, m_smoothing}, central), 0, 0);

    m_grads = new GradNormChart(central);
    m_updateRatio = new QCheckBox(tr("update / weight ratio"), central);
    m_updateRatio->setToolTip(tr("Show ‖Δw‖/‖w‖ of each step instead of the gradient norm: about 1e-3 is healthy."));
    connect(m_updateRatio, &QCheckBox::toggled, this, [this](bool on) {
        m_grads->setShowUpdateRatio(on);
        m_dirty = true;
    });
    grid->addWidget(panel(tr("Gradients"), m_grads, {m_updateRatio}, central), 0, 1);

    m_activations = new ActivationChart(central);
    m_activationBlock = new QComboBox(central);
    m_activationBlock->setToolTip(tr("The layer whose activations are shown."));
    m_activationBlock->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_activationSide = new QComboBox(central);
    m_activationSide->addItems({tr("pre-activation (input of the nonlinearity)"), tr("post-activation")});
    m_activationSide->setToolTip(tr("Pre-activation: the input of the nonlinearity, which BN placed before it keeps "
                                    "centred and scaled. Post-activation: what the next layer receives."));
    connect(m_activationBlock, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_activations->setBlock(i);
        m_dirty = true;
    });
    connect(m_activationSide, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_activations->setPostActivation(i == 1);
        m_dirty = true;
    });
    grid->addWidget(panel(tr("Activations"), m_activations,
                          {m_activationBlock, m_activationSide}, central), 1, 0);

    m_bnStats = new BnStatsChart(central);
    m_bnLayer = new QComboBox(central);
    m_bnLayer->setToolTip(tr("The Batch Normalization layer shown."));
    m_bnFeature = new QComboBox(central);
    m_bnFeature->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_bnLayer->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_bnFeature->setToolTip(tr("The feature (or channel) of that layer."));
    connect(m_bnLayer, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_bnStats->setLayer(m_bnLayer->itemText(i));
        m_selectorsFilledFor = -1;
        m_dirty = true;
    });
    connect(m_bnFeature, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_bnStats->setFeature(i);
        m_dirty = true;
    });
    grid->addWidget(panel(tr("Batch Normalization statistics"), m_bnStats, {m_bnLayer, m_bnFeature}, central), 1, 1);
    grid->setColumnStretch(0, 1);
    grid->setColumnStretch(1, 1);
    grid->setRowStretch(0, 1);
    grid->setRowStretch(1, 1);
    setCentralWidget(central);
}

void MainWindow::refillChartSelectors() {
    const app::RunData& run = m_controller.run();
    if (run.probes.empty()) return;
    const engine::ProbeSnapshot& last = run.probes.back();
    auto items = [](const QComboBox* box) {
        QStringList out;
        for (int i = 0; i < box->count(); ++i) out << box->itemText(i);
        return out;
    };
    QStringList blocks;
    for (const auto& a : last.activations) blocks << QString::fromStdString(a.block);
    if (items(m_activationBlock) != blocks) {
        const QSignalBlocker block(m_activationBlock);
        const QString current = m_activationBlock->currentText();
        m_activationBlock->clear();
        m_activationBlock->addItems(blocks);
        const int index = std::max(0, int(blocks.indexOf(current)));
        m_activationBlock->setCurrentIndex(index);
        m_activations->setBlock(index);
    }
    // BN layers by name: BN switched on or off mid-run adds or removes one, and the choice stays when it can.
    QStringList layers;
    for (const auto& b : last.batchNorm) layers << QString::fromStdString(b.layer);
    if (items(m_bnLayer) != layers) {
        const QSignalBlocker block(m_bnLayer);
        const QString current = m_bnLayer->currentText();
        m_bnLayer->clear();
        m_bnLayer->addItems(layers);
        m_bnLayer->setEnabled(!layers.isEmpty());
        const int index = layers.isEmpty() ? -1 : std::max(0, int(layers.indexOf(current)));
        m_bnLayer->setCurrentIndex(index);
        if (index >= 0 && layers[index] != current) m_bnStats->setLayer(layers[index]);
        if (index >= 0 && layers[index] != current) m_selectorsFilledFor = -1;
    }
    const int layer = m_bnLayer->currentIndex();
    if (layer >= 0 && m_selectorsFilledFor != layer) {
        const QSignalBlocker block(m_bnFeature);
        m_bnFeature->clear();
        for (int f : last.batchNorm[std::size_t(layer)].features) m_bnFeature->addItem(tr("feature %1").arg(f));
        m_bnFeature->setCurrentIndex(0);
        m_bnStats->setFeature(0);
        m_selectorsFilledFor = layer;
    }
    m_bnFeature->setEnabled(layer >= 0);
}

void MainWindow::refreshNextChart() {
    if (m_staleCharts == 0) return;
    const app::RunData& run = m_controller.run();
    refillChartSelectors();
    for (int i = 0; i < kChartCount; ++i) {
        m_nextChart = (m_nextChart + 1) % kChartCount;
        if (!(m_staleCharts & (1 << m_nextChart))) continue;
        m_staleCharts &= ~(1 << m_nextChart);
        switch (m_nextChart) {
            case 0: m_loss->refresh(run); break;
            case 1: m_grads->refresh(run); break;
            case 2: m_activations->refresh(run); break;
            case 3: m_bnStats->refresh(run); break;
        }
        return;
    }
}

void MainWindow::updateStatus() {
    const app::RunData& run = m_controller.run();
    const long total = run.info.totalSteps;
    if (run.steps.empty()) {
        m_progress->setRange(0, 1);
        m_progress->setValue(0);
        m_progress->setFormat(run.state == app::RunState::Running ? tr("starting...") : QString());
        return;
    }
    const engine::StepRecord& last = run.steps.back();
    m_progress->setRange(0, int(std::max<long>(1, total)));
    m_progress->setValue(int(last.step));
    m_progress->setFormat(tr("epoch %1 · step %2/%3").arg(last.epoch, 0, 'f', 2).arg(last.step).arg(total));
    const double rate = run.samplesPerSecond > 0 ? run.samplesPerSecond : double(last.samples) / std::max(1e-9, last.seconds);
    const double eta = last.step > 0 ? last.seconds / double(last.step) * double(total - last.step) : NAN;
    QString text = tr("%1 samples/s · elapsed %2").arg(QLocale().toString(rate, 'f', 0), duration(last.seconds));
    switch (run.state) {
        case app::RunState::Running: text += tr(" · ETA %1").arg(duration(eta)); break;
        case app::RunState::Paused: text = tr("Paused · ") + text; break;
        case app::RunState::Finished:
            if (run.summary) {
                text = QString::fromStdString(run.summary->message);
                if (run.summary->hasTest) text += tr(" · test accuracy %1%").arg(100 * run.summary->testAccuracy, 0, 'f', 2);
            }
            break;
        case app::RunState::Idle: break;
    }
    m_statusText->setText(text);
}

void MainWindow::updateActions() {
    const app::RunState state = m_controller.run().state;
    const bool active = state == app::RunState::Running || state == app::RunState::Paused;
    m_pause->setEnabled(active);
    m_stop->setEnabled(active);
    m_pause->setText(state == app::RunState::Paused ? tr("Resume") : tr("Pause"));
    m_pause->setIcon(style()->standardIcon(state == app::RunState::Paused ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));
    m_start->setEnabled(m_data != nullptr);
    m_step->setEnabled(m_data != nullptr);
    m_reset->setEnabled(state != app::RunState::Idle);
}

void MainWindow::applyLiveChange(const engine::LiveChange& change) {
    try {
        m_controller.requestChange(change);
        clearError();
    } catch (const std::exception& e) {
        showError(tr("The change was not applied: %1").arg(QString::fromStdString(e.what())));
        if (m_controller.isActive()) m_config->setConfig(m_controller.run().current);
    }
}

void MainWindow::reportChanges() {
    const auto& changes = m_controller.run().changes;
    if (changes.size() < m_reportedChanges) m_reportedChanges = 0;  // a new run
    bool applied = false;
    for (; m_reportedChanges < changes.size(); ++m_reportedChanges) {
        const engine::ChangeRecord& c = changes[m_reportedChanges];
        if (!c.applied) continue;
        applied = true;
        statusBar()->showMessage(tr("After step %1: %2").arg(c.step).arg(QString::fromStdString(c.description)), 10000);
    }
    // The panel shows what the run uses now, also for changes planned with --at.
    if (applied && m_config->isLive()) m_config->setConfig(m_controller.run().current);
}

QString MainWindow::errorText() const { return m_error->isHidden() ? QString() : m_error->text(); }

ChartRequest MainWindow::currentChartRequest(const QString& chart) const {
    ChartRequest r;
    r.chart = chart;
    r.xAxis = static_cast<XAxis>(m_xAxis->currentIndex());
    r.smoothing = m_loss->smoothing();
    if (chart == "activations") {
        r.layer = m_activationBlock->currentText();
        r.postActivation = m_activationSide->currentIndex() == 1;
    } else if (chart == "bn-stats") {
        r.layer = m_bnLayer->currentText();
        r.feature = std::max(0, m_bnFeature->currentIndex());
    }
    return r;
}

void MainWindow::exportChart() {
    bool ok = false;
    const QString chart = QInputDialog::getItem(this, tr("Export Chart"),
                                                tr("Chart (with the x axis, layer and feature chosen in the window):"),
                                                chartNames(), 2, false, &ok);
    if (!ok) return;
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Chart"), QDir::home().filePath(chart + ".png"),
                                                      tr("PNG image, 2× (*.png);;SVG vector image (*.svg);;PDF (*.pdf)"));
    if (path.isEmpty()) return;
    try {
        const app::RunData& run = m_controller.run();
        auto widget = makeChart(currentChartRequest(chart), run, QSize(1200, 600));
        exportWidget(widget.get(), (run.name.isEmpty() ? tr("no run") : run.name) + " — " + chart, path);
        statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
    } catch (const std::exception& e) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(e.what())));
    }
}

void MainWindow::exportDashboard() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export Dashboard"), QDir::home().filePath("bnlab-dashboard.png"),
                                                      tr("PNG image, 2× (*.png);;SVG vector image (*.svg);;PDF (*.pdf)"));
    if (path.isEmpty()) return;
    try {
        const app::RunData& run = m_controller.run();
        exportWidget(centralWidget(), run.name.isEmpty() ? QStringLiteral("BN Lab") : run.name, path);
        statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
    } catch (const std::exception& e) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(e.what())));
    }
}

void MainWindow::showError(const QString& message) {
    m_error->setText(message);
    m_error->show();
}

void MainWindow::clearError() { m_error->hide(); }

bool MainWindow::openDataset(const QString& folder) {
    try {
        auto data = std::make_shared<engine::Dataset>(engine::loadDataset(folder.toStdString()));
        m_data = std::move(data);
        setWindowTitle(tr("BN Lab — %1 (%2 training, %3 test images, %4×%5)")
                           .arg(QString::fromStdString(m_data->name))
                           .arg(m_data->train.size())
                           .arg(m_data->test.size())
                           .arg(m_data->inputShape().h)
                           .arg(m_data->inputShape().w));
        clearError();
        updateActions();
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot open the dataset: %1").arg(QString::fromStdString(e.what())));
        updateActions();
        return false;
    }
}

bool MainWindow::openRun(const QString& folder) {
    try {
        app::RunData run = app::loadRun(folder);  // read whole before anything shown changes
        resetRun();
        const QString name = run.name;
        const bool interrupted = !run.summary.has_value();
        m_config->setConfig(run.config);  // Start makes it again
        m_controller.showSaved(std::move(run));
        QSettings settings;
        QStringList recent = settings.value("runs/recent").toStringList();
        recent.removeAll(QFileInfo(folder).absoluteFilePath());
        recent.prepend(QFileInfo(folder).absoluteFilePath());
        settings.setValue("runs/recent", recent.mid(0, 10));
        rebuildRecentRuns();
        statusBar()->showMessage(interrupted ? tr("Opened %1 (interrupted: no summary; showing what was saved)").arg(name)
                                             : tr("Opened %1").arg(name),
                                 10000);
        m_dirty = true;
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot open the run: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
}

void MainWindow::chooseRun() {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open a run folder (it holds config.json, steps.csv, ...)"),
                                                             m_runsFolder);
    if (!folder.isEmpty()) openRun(folder);
}

void MainWindow::rebuildRecentRuns() {
    m_recentRuns->clear();
    const QStringList recent = QSettings().value("runs/recent").toStringList();
    for (const QString& folder : recent)
        m_recentRuns->addAction(QFileInfo(folder).fileName(), this, [this, folder] { openRun(folder); })->setToolTip(folder);
    m_recentRuns->setEnabled(!recent.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (event->mimeData()->hasUrls()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& url : event->mimeData()->urls())
        if (url.isLocalFile() && QFileInfo(url.toLocalFile()).isDir()) {
            openRun(url.toLocalFile());
            event->acceptProposedAction();
            return;
        }
}

void MainWindow::chooseDataset() {
    const QString folder = QFileDialog::getExistingDirectory(
        this, tr("Open a folder with the four IDX files (train-images-idx3-ubyte[.gz], ...)"));
    if (!folder.isEmpty()) openDataset(folder);
}

void MainWindow::selectPreset(const QString& name) { m_config->selectPreset(name); }

void MainWindow::applySettings(const QStringList& settings) {
    app::RunConfig config = m_config->config();
    for (const QString& s : settings) app::applySetting(config, s);
    m_config->setConfig(config);
}

void MainWindow::stepRun() {
    if (m_controller.isActive()) m_controller.step();
    else if (startRun(true), m_controller.isActive()) m_controller.step();
}

void MainWindow::resetRun() {
    m_controller.reset();
    clearError();
    m_activationBlock->clear();
    m_bnLayer->clear();
    m_bnFeature->clear();
    m_selectorsFilledFor = -1;
    m_reportedChanges = 0;
    m_dirty = true;
}

void MainWindow::startRun(bool paused) {
    if (!m_data) {
        showError(tr("No dataset is open: use File › Open Dataset Folder."));
        return;
    }
    try {
        app::RunConfig config = m_config->config();
        config.train.schedule.clear();  // the panel may show a finished run's configuration, plan included
        for (const QString& change : m_schedule) app::addScheduledChange(config, change);
        engine::validate(config.train, *m_data);
        clearError();
        const QString stamp = QDateTime::currentDateTime().toString("yyyyMMdd-HHmmss");
        const QString name = config.preset.isEmpty() ? stamp : config.preset + " " + stamp;
        const QString base = m_runsFolder + "/" + stamp + "-" + (config.preset.isEmpty() ? "run" : config.preset);
        QString folder = base;
        for (int i = 2; QDir(folder).exists(); ++i) folder = base + "~" + QString::number(i);
        m_selectorsFilledFor = -1;
        m_activationBlock->clear();
        m_bnLayer->clear();
        m_bnFeature->clear();
        m_reportedChanges = 0;
        m_controller.start(config, m_data, name, folder, paused);
        m_dirty = true;
    } catch (const std::exception& e) {
        showError(QString::fromStdString(e.what()));
        m_config->showProblem(QString::fromStdString(e.what()));  // and the field it is about, framed in red
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSettings();
    m_redraw->stop();
    m_controller.stop();
    QMainWindow::closeEvent(event);
}

}  // namespace bnlab::ui
