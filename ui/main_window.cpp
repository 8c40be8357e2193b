#include "main_window.h"

#include "activation_chart.h"
#include "bn_stats_chart.h"
#include "bn_stats_compare.h"
#include "chart_export.h"
#include "chart_style.h"
#include "compare_charts.h"
#include "run_list.h"
#include "experiments.h"
#include "config_panel.h"
#include "dataset.h"
#include "error.h"
#include "grad_norm_chart.h"
#include "landscape_chart.h"
#include "loss_chart.h"
#include "predictions_page.h"
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
#include <QStackedWidget>
#include <QProgressBar>
#include <QPushButton>
#include <QHBoxLayout>
#include <QScreen>
#include <QScrollArea>
#include <QStandardPaths>
#include <QStatusBar>
#include <QStyle>
#include <QTabWidget>
#include <QStackedWidget>
#include <QTextBrowser>
#include <QDialog>
#include <QDialogButtonBox>
#include <QFormLayout>
#include <QLineEdit>
#include <QSpinBox>
#include <QColorDialog>
#include <QFile>
#include <QTextStream>
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
// The charts redrawn in turn: the Run tab's four, the Compare tab's two, the table and the Predictions tab.
constexpr int kChartCount = 8;

// Puts items in box when they differ from what it lists, keeping the current item when it is still there
// (else item fallback), without signals. True when the items changed.
bool refill(QComboBox* box, const QStringList& items, int fallback) {
    QStringList listed;
    for (int k = 0; k < box->count(); ++k) listed << box->itemText(k);
    if (listed == items) return false;
    const QSignalBlocker block(box);
    const QString current = box->currentText();
    box->clear();
    box->addItems(items);
    box->setCurrentIndex(items.isEmpty() ? -1 : items.contains(current) ? int(items.indexOf(current)) : fallback);
    return true;
}
constexpr int kRunCharts = 0b1111, kCompareCharts = 0b110000, kTableChart = 0b1000000, kPredictionsChart = 0b10000000;
// The tabs, in order (showTab, bnlab --tab).
enum Tab { kRunTab, kCompareTab, kTableTab, kPredictionsTab };

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

    m_runList = new RunList(m_runs, this);
    auto* runsDock = new QDockWidget(tr("Runs"), this);
    runsDock->setObjectName("runs");
    runsDock->setWidget(m_runList);
    runsDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
    addDockWidget(Qt::BottomDockWidgetArea, runsDock);
    resizeDocks({runsDock}, {170}, Qt::Vertical);
    connect(m_runList, &RunList::currentChanged, this, &MainWindow::setCurrentRun);
    connect(m_runList, &RunList::shownChanged, this, [this] {
        m_compareDirty = true;
        m_listDirty = true;
    });
    connect(m_runList, &RunList::newRunRequested, this, &MainWindow::newRun);
    connect(m_runList, &RunList::duplicateRequested, this, &MainWindow::duplicateRun);
    connect(m_runList, &RunList::toggleBnRequested, this, &MainWindow::toggleBatchNorm);
    connect(m_runList, &RunList::seedsRequested, this, [this](int id) {
        bool ok = false;
        const int count = QInputDialog::getInt(this, tr("Repeat with Seeds"),
                                               tr("Runs in the group, this one included (each with the next seed):"), 3, 2,
                                               app::RunSet::kMaxActive, 1, &ok);
        if (ok) repeatWithSeeds(id, count);
    });
    connect(m_runList, &RunList::removeRequested, this, &MainWindow::removeRun);
    connect(m_runList, &RunList::forkRequested, this, &MainWindow::chooseFork);
    connect(m_runList, &RunList::pauseRequested, this, [this](int id) {
        if (auto* e = m_runs.find(id)) e->controller->setPaused(e->run().state == app::RunState::Running);
    });
    connect(m_runList, &RunList::stopRequested, this, [this](int id) {
        if (auto* e = m_runs.find(id)) e->controller->stop();
    });

    m_experimentText = new QTextBrowser(this);
    m_experimentText->setOpenExternalLinks(true);
    m_experimentDock = new QDockWidget(tr("Experiment"), this);
    m_experimentDock->setObjectName("experiment");
    m_experimentDock->setWidget(m_experimentText);
    m_experimentDock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable |
                                  QDockWidget::DockWidgetClosable);
    addDockWidget(Qt::RightDockWidgetArea, m_experimentDock);
    resizeDocks({m_experimentDock}, {300}, Qt::Horizontal);
    m_experimentDock->hide();  // shown when an experiment starts

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
            m_staleCharts |= kRunCharts | kPredictionsChart;
            updateStatus();
        }
        if (m_compareDirty) {
            m_compareDirty = false;
            m_staleCharts |= kCompareCharts | kTableChart;
        }
        if (m_listDirty) {
            m_listDirty = false;
            m_runList->refresh();
        }
        refreshNextChart();
    });
    m_tickClock.start();
    m_redraw->start();

    connect(&m_runs, &app::RunSet::updated, this, [this](int id) {
        if (id == m_current) {
            m_dirty = true;
            reportChanges();
        }
        if (const auto* e = m_runs.find(id); e && e->shown) m_compareDirty = true;
        m_listDirty = true;
    });
    connect(&m_runs, &app::RunSet::stateChanged, this, [this](int id) {
        m_listDirty = m_compareDirty = true;
        if (id != m_current) return;
        updateActions();
        const app::RunState state = controller().run().state;
        if (!m_draft)
            m_config->setLive(controller().isActive() && (state == app::RunState::Running || state == app::RunState::Paused));
        m_dirty = true;
        const app::RunData& run = controller().run();
        if (run.summary && run.summary->reason == engine::StopReason::Diverged)
            showError(tr("The run diverged: %1").arg(QString::fromStdString(run.summary->message)));
    });
    connect(&m_runs, &app::RunSet::failed, this, [this](int id, const QString& message) {
        const auto* e = m_runs.find(id);
        showError(id == m_current || !e ? message : tr("%1: %2").arg(e->run().name, message));
    });
    connect(&m_runs, &app::RunSet::changeRefused, this, [this](int id, const QString& message) {
        if (id != m_current) return;
        showError(tr("The change was not applied: %1").arg(message));
        m_config->setConfig(controller().run().current);  // the panel shows what the run really uses
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
    const QString folder = settings.value("runs/folder").toString();
    if (!folder.isEmpty()) m_runsFolder = folder;
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
    m_start->setToolTip(tr("Start a run with the settings on the left (Ctrl+R). Runs already going keep training: "
                           "compare them on the Compare tab."));
    m_pause = bar->addAction(style()->standardIcon(QStyle::SP_MediaPause), tr("Pause"), this, [this] {
        controller().setPaused(controller().run().state == app::RunState::Running);
    });
    m_pause->setShortcut(QKeySequence(Qt::Key_Space));
    m_pause->setToolTip(tr("Pause or resume training (Space). The charts stay live."));
    m_stop = bar->addAction(style()->standardIcon(QStyle::SP_MediaStop), tr("Stop"), this, [this] { controller().stop(); });
    m_stop->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Period));
    m_stop->setToolTip(tr("Stop after the current step (Ctrl+.). Everything measured so far is kept and saved."));
    m_step = bar->addAction(style()->standardIcon(QStyle::SP_MediaSkipForward), tr("Step"), this, &MainWindow::stepRun);
    m_step->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_Right));
    m_step->setToolTip(tr("Train on one batch and pause (Ctrl+Right): watch a single update. Starts a paused run if "
                          "none is going."));
    m_reset = bar->addAction(style()->standardIcon(QStyle::SP_TrashIcon), tr("Remove"), this, &MainWindow::resetRun);
    m_reset->setShortcut(QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_R));
    m_reset->setToolTip(tr("Stop the current run and take it off the Runs list (Ctrl+Shift+R). It stays saved in its "
                           "folder."));
    bar->addSeparator();
    QAction* newRunAction = bar->addAction(style()->standardIcon(QStyle::SP_FileIcon), tr("New Run"), this, &MainWindow::newRun);
    newRunAction->setShortcut(QKeySequence::New);
    newRunAction->setToolTip(tr("Set up another run on the left while the others train (Ctrl+N), then press Start."));
    QAction* twin = bar->addAction(tr("With / Without BN"), this, [this] { toggleBatchNorm(m_current); });
    twin->setShortcut(QKeySequence(Qt::CTRL | Qt::Key_B));
    twin->setToolTip(tr("Start the current run's twin without Batch Normalization (or with it, before every "
                        "activation, if it has none), and compare the two (Ctrl+B)."));

    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &Dataset Folder..."), QKeySequence::Open, this, &MainWindow::chooseDataset);
    file->addAction(tr("Open &Run..."), QKeySequence(Qt::CTRL | Qt::SHIFT | Qt::Key_O), this, &MainWindow::chooseRun);
    m_recentRuns = file->addMenu(tr("Recent R&uns"));
    rebuildRecentRuns();
    file->addSeparator();
    file->addAction(tr("&Export Chart..."), QKeySequence(Qt::CTRL | Qt::Key_E), this, &MainWindow::exportChart);
    file->addAction(tr("Export Dash&board or Comparison..."), this, &MainWindow::exportDashboard);
    file->addAction(tr("Export &Metrics as CSV..."), this, &MainWindow::exportMetricsDialog);
    file->addSeparator();
    file->addAction(tr("Runs &Folder..."), this, &MainWindow::chooseRunsFolder);
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
    run->addSeparator();
    run->addAction(newRunAction);
    run->addAction(tr("&Duplicate with Change"), this, [this] { duplicateRun(m_current); });
    run->addAction(twin);
    run->addAction(tr("Repeat with &Seeds..."), this, [this] { Q_EMIT m_runList->seedsRequested(m_current); });
    QMenu* experimentsMenu = menuBar()->addMenu(tr("E&xperiments"));
    m_quickExperiments = experimentsMenu->addAction(tr("&Quick Versions (about a minute each)"));
    m_quickExperiments->setCheckable(true);
    m_quickExperiments->setChecked(true);
    m_quickExperiments->setToolTip(tr("Shorter runs; untick for the full, published setup (minutes to an hour)."));
    experimentsMenu->addSeparator();
    for (const app::Experiment& e : app::experiments()) {
        QAction* a = experimentsMenu->addAction(e.title, this, [this, name = e.name] {
            startExperiment(name, m_quickExperiments->isChecked());
        });
        a->setToolTip(e.claim);
        a->setStatusTip(e.claim);
    }
    experimentsMenu->setToolTipsVisible(true);

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

    m_tabs = new QTabWidget(central);
    m_tabs->setDocumentMode(true);
    outer->addWidget(m_tabs, 1);
    auto* runPage = new QWidget(m_tabs);
    auto* grid = new QGridLayout(runPage);
    grid->setContentsMargins(0, 4, 0, 0);
    central = runPage;  // the Run tab's charts are built on it

    m_loss = new LossChart(central);
    m_xAxis = new QComboBox(central);
    m_xAxis->addItems({tr("x: step"), tr("x: epoch"), tr("x: samples seen"), tr("x: wall-clock time")});
    m_xAxis->setToolTip(tr("What the horizontal axis counts: training steps, epochs, samples seen (fair when runs "
                           "use different batch sizes) or wall-clock seconds (fair when one run is slower per step)."));
    connect(m_xAxis, &QComboBox::currentIndexChanged, this, [this](int i) {
        const auto axis = static_cast<XAxis>(i);
        m_loss->setXAxis(axis);
        m_grads->setXAxis(axis);
        m_landscape->setXAxis(axis);
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

    // Gradient norms or update ratios per parameter, or the loss-landscape measures (landscape_interval).
    auto* gradStack = new QStackedWidget(central);
    m_grads = new GradNormChart(gradStack);
    m_landscape = new LandscapeChart(gradStack);
    gradStack->addWidget(m_grads);
    gradStack->addWidget(m_landscape);
    m_gradWhat = new QComboBox(central);
    m_gradWhat->addItems({tr("gradient norms"), tr("update / weight ratio")});
    for (int m = 0; m < int(landscapeChartNames().size()); ++m)
        m_gradWhat->addItem(landscapeChartTitle(static_cast<LandscapeMeasure>(m)));
    m_gradWhat->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_gradWhat->setToolTip(tr("Gradient norms per parameter, or ‖Δw‖/‖w‖ of each step (about 1e-3 is healthy); or "
                              "the loss-landscape measures of Santurkar et al. (2018), taken every "
                              "landscape_interval steps on the training batch: the loss at 0.25-4 × the learning "
                              "rate along the gradient, how much the gradient changes there (predictiveness, "
                              "β-smoothness), and internal covariate shift per weight layer."));
    connect(m_gradWhat, &QComboBox::currentIndexChanged, this, [this, gradStack](int i) {
        gradStack->setCurrentIndex(i < 2 ? 0 : 1);
        if (i < 2) m_grads->setShowUpdateRatio(i == 1);
        else m_landscape->setMeasure(static_cast<LandscapeMeasure>(i - 2));
        m_dirty = true;
    });
    grid->addWidget(panel(tr("Gradients"), gradStack, {m_gradWhat}, central), 0, 1);

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
    m_bandStyle = new QComboBox(central);
    m_bandStyle->addItems({tr("BN paper bands"), tr("TensorBoard lines")});
    m_bandStyle->setToolTip(tr("BN paper: the 0-100, 2-98 and 15-85th percentile bands and the median, as Figure 1 of "
                               "Ioffe & Szegedy. TensorBoard: its nine lines (min, the normal's ±1.5σ, ±1σ, ±0.5σ as "
                               "percentiles, median, max) as nested bands. Both from the same probes."));
    connect(m_bandStyle, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_activations->setBandStyle(i == 1 ? BandStyle::TensorBoard : BandStyle::Paper);
        m_dirty = true;
    });
    grid->addWidget(panel(tr("Activations"), m_activations,
                          {m_activationBlock, m_activationSide, m_bandStyle}, central), 1, 0);

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
    m_tabs->addTab(runPage, tr("Run"));
    m_tabs->setTabToolTip(0, tr("The current run (selected in the Runs list), live"));
    m_tabs->addTab(buildComparePage(), tr("Compare"));
    m_tabs->setTabToolTip(1, tr("The runs ticked in the Runs list, on shared axes"));
    m_runTable = new RunTable(m_runs, m_tabs);
    m_tabs->addTab(m_runTable, tr("Table"));
    m_tabs->setTabToolTip(2, tr("Every run's differing settings and results side by side; click a header to sort"));
    m_predictions = new PredictionsPage(m_tabs);
    m_tabs->addTab(m_predictions, tr("Predictions"));
    // The other split: redrawn at the next tick also when the run has finished (nothing else marks it stale).
    connect(m_predictions, &PredictionsPage::splitChanged, this, [this] { m_staleCharts |= kPredictionsChart; });
    m_tabs->setTabToolTip(kPredictionsTab, tr("The current run's confusion matrix and its digits, the misclassified first: "
                                              "validation live, test at the end"));
    connect(m_tabs, &QTabWidget::currentChanged, this,
            [this] { m_staleCharts |= kRunCharts | kCompareCharts | kTableChart | kPredictionsChart; });
    setCentralWidget(m_tabs->parentWidget());
}

QWidget* MainWindow::buildComparePage() {
    auto* page = new QWidget(m_tabs);
    auto* layout = new QVBoxLayout(page);
    layout->setContentsMargins(0, 4, 0, 0);
    m_compare = new CompareCharts(page);
    m_compareX = new QComboBox(page);
    for (int i = 0; i < m_xAxis->count(); ++i) m_compareX->addItem(m_xAxis->itemText(i));
    m_compareX->setToolTip(m_xAxis->toolTip());
    m_compareX->setCurrentIndex(int(XAxis::Samples));  // fair between batch sizes
    m_compare->setXAxis(XAxis::Samples);
    m_seedBand = new QComboBox(page);
    m_seedBand->addItems({tr("seed groups: mean, min–max band"), tr("seed groups: mean ± 1 std"), tr("seed groups: every run")});
    m_seedBand->setToolTip(tr("How runs repeated with other seeds are drawn: as one line (their mean) with the spread "
                              "around it, or each run on its own."));
    auto* smoothingLabel = new QLabel(tr("smoothing"), page);
    auto* smoothing = new QDoubleSpinBox(page);
    smoothing->setRange(0, 0.999);
    smoothing->setDecimals(3);
    smoothing->setSingleStep(0.01);
    smoothing->setValue(0.98);
    smoothing->setToolTip(m_smoothing->toolTip());
    connect(smoothing, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        m_compare->setSmoothing(v);
        m_compareDirty = true;
    });
    connect(m_seedBand, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_compare->setSeedBand(static_cast<SeedBand>(i));
        m_compareDirty = true;
    });
    layout->addWidget(panel(tr("Loss and accuracy of the ticked runs"), m_compare,
                            {m_compareX, smoothingLabel, smoothing, m_seedBand}, page), 1);

    m_compareActivations = new ActivationCompare(page);
    m_compareActivations->setXAxis(XAxis::Samples);
    m_compareBlock = new QComboBox(page);
    m_compareBlock->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_compareBlock->setToolTip(tr("The layer whose activations are compared."));
    m_compareSide = new QComboBox(page);
    for (int i = 0; i < m_activationSide->count(); ++i) m_compareSide->addItem(m_activationSide->itemText(i));
    m_compareSide->setToolTip(m_activationSide->toolTip());
    m_overlay = new QCheckBox(tr("overlay"), page);
    m_overlay->setToolTip(tr("All runs on one chart (each run's 15th-85th percentile band and median in its colour) "
                             "instead of one chart per run with a shared y axis."));
    connect(m_compareX, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_compare->setXAxis(static_cast<XAxis>(i));
        m_compareActivations->setXAxis(static_cast<XAxis>(i));
        if (m_compareGradients) m_compareGradients->setXAxis(static_cast<XAxis>(i));
        if (m_compareBnStats) m_compareBnStats->setXAxis(static_cast<XAxis>(i));
        if (m_compareLandscape) m_compareLandscape->setXAxis(static_cast<XAxis>(i));
        m_compareDirty = true;
    });
    connect(m_compareBlock, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_compareActivations->setBlock(m_compareBlock->itemText(i));
        m_compareDirty = true;
    });
    connect(m_compareSide, &QComboBox::currentIndexChanged, this, [this](int i) {
        m_compareActivations->setPostActivation(i == 1);
        m_compareDirty = true;
    });
    connect(m_overlay, &QCheckBox::toggled, this, [this](bool on) {
        m_compareActivations->setOverlay(on);
        m_compareDirty = true;
    });
    // The same panel shows gradient norms or update ratios of one parameter, or one BN layer's statistics, instead.
    m_compareGradients = new GradientCompare(page);
    m_compareGradients->setXAxis(XAxis::Samples);
    m_compareBnStats = new BnStatsCompare(page);
    m_compareBnStats->setXAxis(XAxis::Samples);
    auto* stack = new QStackedWidget(page);
    stack->addWidget(m_compareActivations);
    stack->addWidget(m_compareGradients);
    stack->addWidget(m_compareBnStats);
    // Or the loss-landscape measures of runs trained with landscape_interval (ICS: every weight layer, a dash each).
    m_compareLandscape = new LandscapeChart(page);
    m_compareLandscape->setXAxis(XAxis::Samples);
    stack->addWidget(m_compareLandscape);
    m_compareWhat = new QComboBox(page);
    m_compareWhat->addItems({tr("activations"), tr("gradient norms"), tr("update / weight ratios"), tr("BN statistics")});
    for (int m = 0; m < int(landscapeChartNames().size()); ++m)
        m_compareWhat->addItem(landscapeChartTitle(static_cast<LandscapeMeasure>(m)));
    m_compareWhat->setToolTip(tr("What the lower panel compares: one layer's activation distribution, one "
                                 "parameter's gradient norm or update-to-weight ratio (log scale), one BN layer's "
                                 "batch and running statistics, or a loss-landscape measure (runs trained with "
                                 "landscape_interval)."));
    m_compareParam = new QComboBox(page);
    m_compareParam->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_compareParam->setToolTip(tr("The parameter whose gradient is compared."));
    m_compareParam->hide();
    m_compareBnLayer = new QComboBox(page);
    m_compareBnLayer->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_compareBnLayer->setToolTip(tr("The BN layer whose statistics are compared."));
    m_compareBnFeature = new QComboBox(page);
    m_compareBnFeature->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_compareBnFeature->setToolTip(m_bnFeature->toolTip());
    for (QWidget* w : std::initializer_list<QWidget*>{m_compareBnLayer, m_compareBnFeature}) w->hide();
    connect(m_compareWhat, &QComboBox::currentIndexChanged, this, [this, stack](int i) {
        stack->setCurrentIndex(i == 0 ? 0 : i < 3 ? 1 : i == 3 ? 2 : 3);
        for (QWidget* w : std::initializer_list<QWidget*>{m_compareBlock, m_compareSide, m_overlay}) w->setVisible(i == 0);
        m_compareParam->setVisible(i == 1 || i == 2);
        for (QWidget* w : std::initializer_list<QWidget*>{m_compareBnLayer, m_compareBnFeature}) w->setVisible(i == 3);
        m_compareGradients->setShowUpdateRatio(i == 2);
        if (i >= 4) m_compareLandscape->setMeasure(static_cast<LandscapeMeasure>(i - 4));
        m_compareDirty = true;
    });
    connect(m_compareParam, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_compareGradients->setParam(m_compareParam->itemText(i));
        m_compareDirty = true;
    });
    connect(m_compareBnLayer, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_compareBnStats->setLayer(m_compareBnLayer->itemText(i));
        m_compareDirty = true;
    });
    connect(m_compareBnFeature, &QComboBox::currentIndexChanged, this, [this](int i) {
        if (i >= 0) m_compareBnStats->setFeature(i);
        m_compareDirty = true;
    });
    layout->addWidget(panel(tr("Activations, gradients and BN statistics of the ticked runs"), stack,
                            {m_compareWhat, m_compareBlock, m_compareSide, m_overlay, m_compareParam, m_compareBnLayer,
                             m_compareBnFeature},
                            page),
                      1);
    return page;
}

void MainWindow::refillChartSelectors() {
    const app::RunData& run = controller().run();
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
    // Only the charts of the tab on screen; the others stay stale until their tab is shown.
    const int tab = m_tabs->currentIndex();
    const int visible = tab == kRunTab       ? kRunCharts
                        : tab == kCompareTab ? kCompareCharts
                        : tab == kTableTab   ? kTableChart
                                             : kPredictionsChart;
    if ((m_staleCharts & visible) == 0) return;
    const app::RunData& run = controller().run();
    if (visible == kRunCharts) refillChartSelectors();
    for (int i = 0; i < kChartCount; ++i) {
        m_nextChart = (m_nextChart + 1) % kChartCount;
        const int bit = 1 << m_nextChart;
        if (!(m_staleCharts & visible & bit)) continue;
        m_staleCharts &= ~bit;
        switch (m_nextChart) {
            case 0: m_loss->refresh(run); break;
            case 1:
                if (m_gradWhat->currentIndex() < 2) m_grads->refresh(run);
                else m_landscape->refresh(run);
                break;
            case 2: m_activations->refresh(run); break;
            case 3: m_bnStats->refresh(run); break;
            case 4: m_compare->refresh(comparedRuns()); break;
            case 5: {
                const std::vector<ComparedRun> runs = comparedRuns();
                // The last hidden block by default: where the difference BN makes shows most.
                const QStringList blocks = ActivationCompare::blocks(runs);
                if (refill(m_compareBlock, blocks, std::max(0, int(blocks.size()) - 2)))
                    m_compareActivations->setBlock(m_compareBlock->currentText());
                if (m_compareWhat->currentIndex() == 0) {
                    m_compareActivations->refresh(runs);
                    break;
                }
                if (m_compareWhat->currentIndex() == 3) {
                    refillBnSelectors(runs);
                    m_compareBnStats->refresh(runs);
                    break;
                }
                if (m_compareWhat->currentIndex() >= 4) {
                    m_compareLandscape->refresh(runs);
                    break;
                }
                if (refill(m_compareParam, GradientCompare::params(runs), 0))
                    m_compareGradients->setParam(m_compareParam->currentText());
                m_compareGradients->refresh(runs);
                break;
            }
            case 6: m_runTable->refresh(); break;
            case 7: m_predictions->refresh(run, m_data); break;
        }
        return;
    }
}

void MainWindow::refillBnSelectors(const std::vector<ComparedRun>& runs) {
    if (refill(m_compareBnLayer, BnStatsCompare::layers(runs), 0)) m_compareBnStats->setLayer(m_compareBnLayer->currentText());
    // The followed features of that layer, as the first run that has it numbers them.
    const std::string layer = m_compareBnLayer->currentText().toStdString();
    QStringList features;
    for (const ComparedRun& r : runs) {
        for (auto s = r.run->probes.rbegin(); s != r.run->probes.rend() && features.isEmpty(); ++s)
            for (const engine::BatchNormProbe& b : s->batchNorm)
                if (b.layer == layer)
                    for (int f : b.features) features << tr("feature %1").arg(f);
        if (!features.isEmpty()) break;
    }
    if (refill(m_compareBnFeature, features, 0)) m_compareBnStats->setFeature(std::max(0, m_compareBnFeature->currentIndex()));
}

std::vector<ComparedRun> MainWindow::comparedRuns() const {
    std::vector<ComparedRun> out;
    for (const auto& e : m_runs.entries())
        if (e->shown) out.push_back({&e->run(), QColor::fromRgb(e->colour), comparisonLabel(m_runs, e->id), e->group});
    return out;
}

void MainWindow::updateStatus() {
    const app::RunData& run = controller().run();
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
    const app::RunState state = controller().run().state;
    const bool active = state == app::RunState::Running || state == app::RunState::Paused;
    m_pause->setEnabled(active);
    m_stop->setEnabled(active);
    m_pause->setText(state == app::RunState::Paused ? tr("Resume") : tr("Pause"));
    m_pause->setIcon(style()->standardIcon(state == app::RunState::Paused ? QStyle::SP_MediaPlay : QStyle::SP_MediaPause));
    m_start->setEnabled(m_data != nullptr);
    m_step->setEnabled(m_data != nullptr);
    m_reset->setEnabled(m_current != 0);
}

void MainWindow::applyLiveChange(const engine::LiveChange& change) {
    try {
        controller().requestChange(change);
        clearError();
    } catch (const std::exception& e) {
        showError(tr("The change was not applied: %1").arg(QString::fromStdString(e.what())));
        if (controller().isActive()) m_config->setConfig(controller().run().current);
    }
}

void MainWindow::reportChanges() {
    const auto& changes = controller().run().changes;
    if (changes.size() < m_reportedChanges) m_reportedChanges = 0;  // a new run
    bool applied = false;
    for (; m_reportedChanges < changes.size(); ++m_reportedChanges) {
        const engine::ChangeRecord& c = changes[m_reportedChanges];
        if (!c.applied) continue;
        applied = true;
        statusBar()->showMessage(tr("After step %1: %2").arg(c.step).arg(QString::fromStdString(c.description)), 10000);
    }
    // The panel shows what the run uses now, also for changes planned with --at.
    if (applied && m_config->isLive()) m_config->setConfig(controller().run().current);
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
        r.bands = m_activations->bandStyle();
    } else if (chart == "bn-stats") {
        r.layer = m_bnLayer->currentText();
        r.feature = std::max(0, m_bnFeature->currentIndex());
    } else if (chart == "confusion") {
        r.split = QString::fromStdString(m_predictions->split());
    }
    return r;
}

void MainWindow::exportChart() {
    // Which chart, its size, the PNG scale and the file, in one dialog.
    QDialog dialog(this);
    dialog.setObjectName(QStringLiteral("exportChartDialog"));
    dialog.setWindowTitle(tr("Export Chart"));
    auto* form = new QFormLayout(&dialog);
    auto* chartBox = new QComboBox(&dialog);
    chartBox->setObjectName(QStringLiteral("chart"));
    chartBox->addItems(chartNames());
    chartBox->setCurrentIndex(m_tabs->currentIndex() == kPredictionsTab ? int(chartNames().indexOf("confusion")) : 2);
    form->addRow(tr("Chart"), chartBox);
    const bool comparing = m_tabs->currentIndex() == 1 && comparedRuns().size() > 1;
    auto* compare = new QCheckBox(tr("the ticked runs on shared axes (all but grad-norms without a parameter)"), &dialog);
    compare->setObjectName(QStringLiteral("compare"));
    compare->setChecked(comparing);
    form->addRow(QString(), compare);
    auto* width = new QSpinBox(&dialog);
    width->setObjectName(QStringLiteral("width"));
    width->setRange(200, 10000);
    width->setValue(1200);
    width->setSuffix(tr(" px"));
    auto* height = new QSpinBox(&dialog);
    height->setObjectName(QStringLiteral("height"));
    height->setRange(150, 10000);
    height->setValue(600);
    height->setSuffix(tr(" px"));
    auto* scale = new QDoubleSpinBox(&dialog);
    scale->setObjectName(QStringLiteral("scale"));
    scale->setRange(0.25, 8);
    scale->setValue(2);
    scale->setSuffix(QStringLiteral("×"));
    scale->setToolTip(tr("PNG pixels per logical pixel: 2 is sharp on slides and high-DPI screens. SVG and PDF are "
                         "vector images."));
    form->addRow(tr("Width"), width);
    form->addRow(tr("Height"), height);
    form->addRow(tr("PNG scale"), scale);
    // The file: .png, .svg or .pdf; its name follows the chart until the user edits it.
    auto* path = new QLineEdit(QDir::home().filePath(chartBox->currentText() + ".png"), &dialog);
    path->setObjectName(QStringLiteral("path"));
    path->setMinimumWidth(380);
    path->setToolTip(tr("The image file: its ending (.png, .svg or .pdf) chooses the format."));
    connect(chartBox, &QComboBox::currentTextChanged, path, [path](const QString& chart) {
        if (path->isModified()) return;
        const QFileInfo f(path->text());
        path->setText(f.dir().filePath(chart + "." + (f.suffix().isEmpty() ? QStringLiteral("png") : f.suffix())));
    });
    auto* browse = new QPushButton(tr("Browse…"), &dialog);
    connect(browse, &QPushButton::clicked, &dialog, [this, path] {
        const QString chosen = QFileDialog::getSaveFileName(this, tr("Export Chart"), path->text(),
                                                            tr("PNG image (*.png);;SVG vector image (*.svg);;PDF (*.pdf)"));
        if (chosen.isEmpty()) return;
        path->setText(chosen);
        path->setModified(true);
    });
    auto* file = new QHBoxLayout;
    file->addWidget(path, 1);
    file->addWidget(browse);
    form->addRow(tr("File"), file);
    auto* note = new QLabel(tr("With the x axis, layer and feature (confusion: the split) chosen in the window."), &dialog);
    form->addRow(note);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return;
    (void)exportChartTo(chartBox->currentText(), compare->isChecked(), QSize(width->value(), height->value()),
                        scale->value(), path->text().trimmed());
}

bool MainWindow::exportChartTo(const QString& chart, bool compare, QSize size, double scale, const QString& path) {
    try {
        if (path.isEmpty()) throw Error("no file name given");
        ChartRequest request = currentChartRequest(chart);
        std::unique_ptr<QWidget> widget;
        QString title;
        if (compare) {
            const std::vector<ComparedRun> runs = comparedRuns();
            if (chart == "activations") request.layer = m_compareBlock->currentText(), request.overlay = m_overlay->isChecked();
            if (chart == "grad-norms" || chart == "update-ratios") {
                request.layer = m_compareParam->currentText();
                if (request.layer.isEmpty()) request.layer = GradientCompare::params(runs).value(0);
            }
            if (chart == "bn-stats") {
                refillBnSelectors(runs);
                request.layer = m_compareBnLayer->currentText();
                request.feature = std::max(0, m_compareBnFeature->currentIndex());
            }
            request.xAxis = static_cast<XAxis>(m_compareX->currentIndex());
            widget = makeComparison(request, runs, size);
            title = tr("%1 of %2 runs").arg(chart).arg(runs.size());
        } else {
            const app::RunData& run = controller().run();
            widget = makeChart(request, run, size);
            title = (run.name.isEmpty() ? tr("no run") : run.name) + " — " + chart;
        }
        exportWidget(widget.get(), title, path, scale);
        statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
        clearError();
        return true;
    } catch (const std::exception& e) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(e.what())));
        return false;
    }
}

void MainWindow::exportDashboard() {
    const bool comparing = m_tabs->currentIndex() == kCompareTab || m_tabs->currentIndex() == kTableTab;
    const QString path = QFileDialog::getSaveFileName(
        this, comparing ? tr("Export the Comparison") : tr("Export the Dashboard"),
        QDir::home().filePath(comparing ? "bnlab-comparison.png" : "bnlab-dashboard.png"),
        tr("PNG image, 2× (*.png);;SVG vector image (*.svg);;PDF (*.pdf)"));
    if (path.isEmpty()) return;
    try {
        const app::RunData& run = controller().run();
        const QString title = comparing ? tr("BN Lab — %1 of %2 runs").arg(m_tabs->tabText(m_tabs->currentIndex())).arg(comparedRuns().size())
                                        : run.name.isEmpty() ? QStringLiteral("BN Lab") : run.name;
        exportWidget(m_tabs->currentWidget(), title, path);
        statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
    } catch (const std::exception& e) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(e.what())));
    }
}

void MainWindow::exportMetrics(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text))
        throw Error((path + ": cannot write (" + file.errorString() + ")").toStdString());
    QTextStream out(&file);
    // One row per training step and per evaluation, every ticked run in one long table (as pandas and R like it).
    out << "run,differences,split,step,epoch,samples,seconds,loss,accuracy\n";
    auto quoted = [](QString text) { return "\"" + text.replace("\"", "\"\"") + "\""; };
    auto number = [](double v) { return QString::number(v, 'g', 17); };
    for (const auto& e : m_runs.entries()) {
        if (!e->shown) continue;
        const app::RunData& run = e->run();
        const QString head = quoted(run.name) + "," + quoted(differencesFromFirst(m_runs, e->id).join("; ")) + ",";
        for (const engine::StepRecord& r : run.steps)
            out << head << "train," << r.step << "," << number(r.epoch) << "," << r.samples << "," << number(r.seconds)
                << "," << number(r.loss) << "," << number(r.accuracy) << "\n";
        for (const engine::EvalRecord& r : run.evals)
            out << head << QString::fromStdString(r.split) << "," << r.step << "," << number(r.epoch) << "," << r.samples
                << "," << number(r.seconds) << "," << number(r.loss) << "," << number(r.accuracy) << "\n";
    }
    out.flush();
    if (out.status() != QTextStream::Ok || !file.flush()) throw Error((path + ": writing failed").toStdString());
}

void MainWindow::exportMetricsDialog() {
    const QString path = QFileDialog::getSaveFileName(this, tr("Export the Metrics of the Ticked Runs"),
                                                      QDir::home().filePath("bnlab-metrics.csv"), tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    try {
        exportMetrics(path);
        statusBar()->showMessage(tr("Exported %1").arg(path), 8000);
    } catch (const std::exception& e) {
        showError(tr("Export failed: %1").arg(QString::fromStdString(e.what())));
    }
}

void MainWindow::chooseRunsFolder() {
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Folder for new runs (each run gets a folder in it)"),
                                                             m_runsFolder);
    if (folder.isEmpty()) return;
    if (!QFileInfo(folder).isWritable()) {
        showError(tr("Cannot save runs in %1: the folder is not writable.").arg(folder));
        return;
    }
    m_runsFolder = folder;
    QSettings().setValue("runs/folder", folder);
    statusBar()->showMessage(tr("New runs are saved in %1").arg(folder), 10000);
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
        const QString name = run.name;
        const bool interrupted = !run.summary.has_value();
        const int id = m_runs.addSaved(std::move(run), QFileInfo(folder).absoluteFilePath());
        m_runs.find(id)->colour = nextColour();
        setCurrentRun(id);
        m_listDirty = m_compareDirty = true;
        QSettings settings;
        QStringList recent = settings.value("runs/recent").toStringList();
        recent.removeAll(QFileInfo(folder).absoluteFilePath());
        recent.prepend(QFileInfo(folder).absoluteFilePath());
        settings.setValue("runs/recent", recent.mid(0, 10));
        rebuildRecentRuns();
        statusBar()->showMessage(interrupted ? tr("Opened %1 (interrupted: no summary; showing what was saved)").arg(name)
                                             : tr("Opened %1").arg(name),
                                 10000);
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
    if (controller().isActive()) controller().step();
    else if (startRun(true), controller().isActive()) controller().step();
}

app::RunController& MainWindow::controller() {
    app::RunSet::Entry* e = m_runs.find(m_current);
    return e ? *e->controller : m_idle;
}

const app::RunController& MainWindow::controller() const {
    const app::RunSet::Entry* e = m_runs.find(m_current);
    return e ? *e->controller : m_idle;
}

void MainWindow::setCurrentRun(int id) {
    if (!m_runs.find(id)) id = 0;
    m_current = id;
    m_draft = false;
    m_runList->refresh();  // a run just started has no row yet
    m_runList->setCurrent(id);
    const app::RunData& run = controller().run();
    m_selectorsFilledFor = -1;
    m_activationBlock->clear();
    m_bnLayer->clear();
    m_bnFeature->clear();
    m_reportedChanges = run.changes.size();  // only changes from now on are announced
    const bool active = controller().isActive() && (run.state == app::RunState::Running || run.state == app::RunState::Paused);
    if (id != 0) m_config->setConfig(active ? run.current : run.config);  // Start makes a finished run again
    m_config->setLive(active);
    if (run.error.isEmpty()) clearError();
    else showError(run.error);
    m_staleCharts |= kRunCharts | kPredictionsChart;
    m_dirty = true;
    updateActions();
}

void MainWindow::resetRun() { removeRun(m_current); }

void MainWindow::removeRun(int id) {
    if (!m_runs.find(id)) return;
    m_runs.remove(id);  // stops the run in the background and forgets it; the folder stays
    if (id == m_current) setCurrentRun(m_runs.entries().empty() ? 0 : m_runs.entries().back()->id);
    m_listDirty = m_compareDirty = true;
}

quint32 MainWindow::nextColour() const {
    // The first palette colour no run has; the palette again from the start when all ten are taken.
    for (int i = 0; i < 10; ++i) {
        const quint32 c = palette::category(i).rgb() & 0xffffff;
        if (std::none_of(m_runs.entries().begin(), m_runs.entries().end(), [c](const auto& e) { return e->colour == c; }))
            return c;
    }
    return palette::category(int(m_runs.entries().size())).rgb() & 0xffffff;
}

int MainWindow::launch(const app::RunConfig& config, bool paused, int group, const app::RunData& past) {
    if (!m_data) throw Error("no dataset is open: use File › Open Dataset Folder");
    engine::validate(config.train, *m_data);
    const QDateTime now = QDateTime::currentDateTime();
    const QString stamp = now.toString("yyyyMMdd-HHmmss");
    const QString preset = config.preset.isEmpty() ? QStringLiteral("run") : config.preset;
    const QString base = m_runsFolder + "/" + stamp + "-" + preset;
    // Taken: on disk, or by a run started in the same second whose thread has not created its folder yet (two
    // runs writing checkpoints into one folder made a fork continue from the other run's checkpoint).
    auto taken = [this](const QString& f) {
        if (QDir(f).exists()) return true;
        for (const auto& e : m_runs.entries())
            if (e->folder == f) return true;
        return false;
    };
    QString folder = base;
    for (int i = 2; taken(folder); ++i) folder = base + "~" + QString::number(i);
    // Short and unique in the list: a number, the preset and the time.
    const QString name = QString("#%1 %2 %3").arg(m_runs.entries().empty() ? 1 : m_runs.entries().back()->id + 1).arg(preset, now.toString("HH:mm:ss"));
    const int id = m_runs.start(config, m_data, name, folder, paused, group, past);
    m_runs.find(id)->colour = nextColour();
    m_listDirty = m_compareDirty = true;
    return id;
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
        const int id = launch(config, paused);
        clearError();
        setCurrentRun(id);
    } catch (const std::exception& e) {
        showError(QString::fromStdString(e.what()));
        m_config->showProblem(QString::fromStdString(e.what()));  // and the field it is about, framed in red
    }
}

void MainWindow::newRun() {
    m_draft = true;
    m_config->setLive(false);
    m_tabs->setCurrentIndex(0);
    statusBar()->showMessage(tr("Set up the new run on the left, then press Start: it trains beside the others."), 15000);
}

void MainWindow::duplicateRun(int id) {
    const app::RunSet::Entry* e = m_runs.find(id);
    if (!e) return;
    newRun();
    app::RunConfig config = e->run().config;
    config.train.schedule.clear();
    m_config->setConfig(config);
    statusBar()->showMessage(tr("The settings of %1: change what you want to compare, then press Start.").arg(e->run().name), 15000);
}

int MainWindow::toggleBatchNorm(int id) {
    const app::RunSet::Entry* e = m_runs.find(id);
    if (!e) return 0;
    app::RunConfig config = e->run().config;
    const bool hasBn = std::any_of(config.train.network.blocks.begin(), config.train.network.blocks.end(),
                                   [](const engine::BlockSpec& b) { return b.norm != engine::NormPlacement::None; });
    try {
        app::applySetting(config, "norm", hasBn ? "none" : "before");
        const int twin = launch(config, false, 0);
        clearError();
        setCurrentRun(twin);
        if (auto* first = m_runs.find(id)) first->shown = true;
        m_tabs->setCurrentIndex(1);
        return twin;
    } catch (const std::exception& ex) {
        showError(tr("Cannot start the twin: %1").arg(QString::fromStdString(ex.what())));
        return 0;
    }
}

void MainWindow::repeatWithSeeds(int id, int count) {
    app::RunSet::Entry* e = m_runs.find(id);
    if (!e) return;
    if (e->group == 0) e->group = m_runs.newGroup();
    const int group = e->group;
    app::RunConfig config = e->run().config;
    const std::uint64_t seed = config.train.seed;
    try {
        for (int k = 1; k < count; ++k) {
            config.train.seed = seed + std::uint64_t(k);
            launch(config, false, group);
        }
        clearError();
    } catch (const std::exception& ex) {
        showError(tr("Not every seed could start: %1").arg(QString::fromStdString(ex.what())));
    }
    m_tabs->setCurrentIndex(1);
}

void MainWindow::showTab(int index) { m_tabs->setCurrentIndex(index); }

QStringList MainWindow::compareViewNames() {
    return QStringList{"activations", "grad-norms", "update-ratios", "bn-stats"} + landscapeChartNames();
}

bool MainWindow::showCompareView(const QString& chart) {
    const qsizetype index = compareViewNames().indexOf(chart);
    if (index < 0) return false;
    m_compareWhat->setCurrentIndex(int(index));
    return true;
}

std::vector<int> MainWindow::startExperiment(const QString& name, bool quick) {
    std::vector<int> ids;
    try {
        const app::Experiment& e = app::findExperiment(name);
        if (!m_data) throw Error("no dataset is open: use File › Open Dataset Folder");
        const std::vector<app::RunConfig> configs = app::experimentConfigs(e, quick);
        if (m_runs.activeCount() + int(configs.size()) > app::RunSet::kMaxActive)
            throw Error(QString("the experiment has %1 runs and %2 are training already (at most %3 at once): stop some "
                                "first")
                            .arg(configs.size())
                            .arg(m_runs.activeCount())
                            .arg(app::RunSet::kMaxActive)
                            .toStdString());
        for (const app::RunConfig& c : configs) engine::validate(c.train, *m_data);
        // Only the experiment's runs in the comparison.
        for (const auto& entry : m_runs.entries()) entry->shown = false;
        for (std::size_t i = 0; i < configs.size(); ++i) {
            const int id = launch(configs[i]);
            m_runs.find(id)->controller->setName(QString("#%1 %2").arg(id).arg(e.runs[i].label));
            ids.push_back(id);
        }
        clearError();
        setCurrentRun(ids.front());
        XAxis x = XAxis::Step;
        if (xAxisFromName(e.x, x)) m_compareX->setCurrentIndex(int(x));
        m_compareBlock->clear();  // refilled at the next refresh, then set to the experiment's layer
        m_compareActivations->setBlock(e.layer);
        m_compareBlock->addItem(e.layer);
        m_compareSide->setCurrentIndex(0);
        for (const app::ExperimentFigure& f : e.figures)
            if (f.chart == "activations") m_compareSide->setCurrentIndex(f.post ? 1 : 0);
        // An experiment that measures the landscape shows it in the Run tab's Gradients panel.
        for (const app::RunConfig& c : configs)
            if (c.train.landscapeInterval > 0) m_gradWhat->setCurrentIndex(2);
        m_tabs->setCurrentIndex(1);
        m_experimentText->setHtml(
            tr("<h3>%1</h3><p><b>The claim.</b> %2</p><p><b>What to look for.</b> %3</p><p><b>Try next.</b> %4</p>"
               "<p style='color:#666'>%5 runs%6. The same from the command line: <tt>bnlab-cli experiment %7%8 --out "
               "DIR</tt> (figures and a table of the final numbers).</p>")
                .arg(e.title.toHtmlEscaped(), e.claim.toHtmlEscaped(), e.lookFor.toHtmlEscaped(), e.tryNext.toHtmlEscaped())
                .arg(configs.size())
                .arg(quick ? tr(", quick version") : QString())
                .arg(e.name, quick ? QStringLiteral(" --quick") : QString()));
        m_experimentDock->show();
        m_experimentDock->raise();
        m_listDirty = m_compareDirty = true;
    } catch (const std::exception& ex) {
        showError(tr("Cannot start the experiment: %1").arg(QString::fromStdString(ex.what())));
    }
    return ids;
}

QString MainWindow::experimentText() const { return m_experimentText->toPlainText(); }

int MainWindow::forkRun(int id, long step, const QStringList& changes) {
    const app::RunSet::Entry* e = m_runs.find(id);
    if (!e) return 0;
    try {
        const app::ForkPlan plan = app::planFork(e->run(), e->folder, step, changes);
        const QString parent = e->run().name;
        const int branch = launch(plan.config, false, 0, plan.past);
        statusBar()->showMessage(tr("Fork at step %1: %2").arg(step).arg(plan.note), 15000);
        m_runs.find(branch)->controller->setName(tr("%1 fork of %2 at %3").arg(m_runs.find(branch)->run().name.section(' ', 0, 0), parent.section(' ', 0, 0)).arg(step));
        clearError();
        setCurrentRun(branch);
        m_tabs->setCurrentIndex(1);
        return branch;
    } catch (const std::exception& ex) {
        showError(tr("Cannot fork: %1").arg(QString::fromStdString(ex.what())));
        return 0;
    }
}

void MainWindow::chooseFork(int id) {
    const app::RunSet::Entry* e = m_runs.find(id);
    if (!e || e->run().steps.empty()) return;
    QDialog dialog(this);
    dialog.setWindowTitle(tr("Fork %1").arg(e->run().name));
    auto* form = new QFormLayout(&dialog);
    auto* explanation = new QLabel(tr("A new run that shares this run's first steps exactly (it continues from the "
                                      "latest checkpoint at or before the step and replays the steps after it: training "
                                      "is deterministic), then trains with the changes below. Changes: learning_rate, "
                                      "bn_momentum, batch_size, block.N.norm (none, before, after), separated by "
                                      "commas."), &dialog);
    explanation->setWordWrap(true);
    form->addRow(explanation);
    auto* step = new QSpinBox(&dialog);
    const long last = e->run().steps.back().step;
    step->setRange(1, int(last));
    step->setValue(int(last / 2));
    form->addRow(tr("After step"), step);
    auto* changes = new QLineEdit(&dialog);
    changes->setPlaceholderText("block.1.norm=none, learning_rate=0.5");
    form->addRow(tr("Changes"), changes);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, &dialog);
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, &dialog, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    if (dialog.exec() != QDialog::Accepted) return;
    forkRun(id, step->value(), changes->text().split(',', Qt::SkipEmptyParts));
}

void MainWindow::closeEvent(QCloseEvent* event) {
    saveSettings();
    m_redraw->stop();
    m_runs.stopAll();  // each run ends as 'stopped' with its folder complete; the threads are joined on destruction
    QMainWindow::closeEvent(event);
}

}  // namespace bnlab::ui
