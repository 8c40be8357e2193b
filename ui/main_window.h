#pragma once

// The main window: configuration on the left, run controls in the toolbar, the runs of the session in a list
// below, and three tabs in the middle: the current run's live charts (Run), the ticked runs on shared axes
// (Compare) and a table of their settings and results (Table). Progress is in the status bar. Charts are redrawn
// by a timer, one at a time, from the run data that each run's RunController appends as metric batches arrive
// from its training thread.

#include "chart_export.h"
#include "run_controller.h"
#include "run_set.h"

#include <QElapsedTimer>
#include <QMainWindow>

#include <memory>

class QAction;
class QComboBox;
class QLabel;
class QProgressBar;
class QTimer;
class QCheckBox;
class QDoubleSpinBox;
class QDockWidget;
class QTextBrowser;

namespace bnlab::engine {
struct Dataset;
struct LiveChange;
}

namespace bnlab::ui {

class ActivationChart;
class BnStatsChart;
class ConfigPanel;
class GradNormChart;
class LandscapeChart;
class LossChart;
class PredictionsPage;
class CompareCharts;
class ActivationCompare;
class GradientCompare;
class BnStatsCompare;
class RunList;
class RunTable;

class MainWindow final : public QMainWindow {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(MainWindow)

public:
    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Loads a dataset folder; on failure shows the message and keeps the previous dataset. Returns success.
    bool openDataset(const QString& folder);
    // Shows a saved run folder (of bnlab or bnlab-cli) in the charts; on failure shows why and keeps what is shown.
    bool openRun(const QString& folder);
    void selectPreset(const QString& name);
    // Starts a run with the panel's settings beside the runs already going; it becomes the current run.
    void startRun(bool paused = false);
    void stepRun();   // one training step of the current run (starting a paused run if none is active)
    void resetRun();  // stops the current run and takes it off the list (its folder stays)
    // The current run: the one the Run tab shows and the toolbar and the panel act on (for tests and benchmarks).
    [[nodiscard]] const app::RunData& currentRun() const { return controller().run(); }
    [[nodiscard]] int currentRunId() const { return m_current; }
    void setCurrentRun(int id);
    [[nodiscard]] app::RunSet& runs() { return m_runs; }

    // Comparing runs. newRun: the panel becomes editable for another run (Start starts it). duplicateRun: the
    // same, with run id's settings in the panel. toggleBatchNorm: starts id's twin without BN (or with BN before
    // every activation if id has none) and returns its id. repeatWithSeeds: starts count - 1 more runs of id's
    // settings with the next seeds, grouped with id. Failures (too many runs, no dataset) show in the banner and
    // return 0 / start nothing.
    void newRun();
    void duplicateRun(int id);
    int toggleBatchNorm(int id);
    void repeatWithSeeds(int id, int count);
    void removeRun(int id);
    // A branch of run id at `step` with `changes` (KEY=VALUE) from then on, beside it (see app::planFork: from the
    // parent's latest checkpoint at or before `step`, with its records up to it); the status bar says how it starts;
    // returns its id, or 0 with the reason in the banner.
    int forkRun(int id, long step, const QStringList& changes);
    // Starts a guided experiment's runs (app::experiments()) beside the others, shows only them on the Compare
    // tab and its explanation in the Experiment panel. Returns the ids started (none, with the reason in the
    // banner, when there is no room or no dataset).
    std::vector<int> startExperiment(const QString& name, bool quick);
    [[nodiscard]] QString experimentText() const;  // the Experiment panel's text (for tests)
    // The metrics of the ticked runs as one CSV file (one row per step or evaluation). Throws Error naming the path.
    void exportMetrics(const QString& path) const;
    [[nodiscard]] CompareCharts* compareCharts() const { return m_compare; }
    [[nodiscard]] ActivationCompare* compareActivations() const { return m_compareActivations; }
    [[nodiscard]] GradientCompare* compareGradients() const { return m_compareGradients; }
    [[nodiscard]] BnStatsCompare* compareBnStats() const { return m_compareBnStats; }
    // The Compare tab's lower panel by chart name, as bnlab-cli plot spells it: activations, grad-norms,
    // update-ratios, bn-stats or a landscape measure. False for another name.
    bool showCompareView(const QString& chart);
    [[nodiscard]] static QStringList compareViewNames();
    [[nodiscard]] RunTable* runTable() const { return m_runTable; }
    [[nodiscard]] RunList* runList() const { return m_runList; }
    [[nodiscard]] PredictionsPage* predictionsPage() const { return m_predictions; }
    void showTab(int index);  // 0 Run, 1 Compare, 2 Table, 3 Predictions
    // Applies KEY=VALUE settings on top of the panel's configuration (as bnlab-cli's --set does).
    void applySettings(const QStringList& settings);
    // Planned changes ("STEP:KEY=VALUE") for the runs started from now on (bnlab --at).
    void setSchedule(const QStringList& changes) { m_schedule = changes; }
    // The configuration panel and the charts (for tests).
    [[nodiscard]] ConfigPanel* configPanel() const { return m_config; }
    [[nodiscard]] LossChart* lossChart() const { return m_loss; }
    [[nodiscard]] QString errorText() const;  // the banner's message, empty when hidden
    void exportChart();      // File › Export Chart: one chart as PNG, SVG or PDF
    // What the Export Chart dialog does once accepted: the chart (a chartNames() name) of the current run, or of
    // the ticked runs on shared axes, to path (.png, .svg, .pdf). False (and the reason on screen) when it failed.
    bool exportChartTo(const QString& chart, bool compare, QSize size, double scale, const QString& path);

protected:
    void closeEvent(class QCloseEvent* event) override;
    void dragEnterEvent(class QDragEnterEvent* event) override;
    void dropEvent(class QDropEvent* event) override;

private:
    void buildActions();
    void buildCharts();
    QWidget* buildComparePage();
    [[nodiscard]] app::RunController& controller();
    [[nodiscard]] const app::RunController& controller() const;
    // Starts config beside the other runs and returns its id; throws Error/ConfigError with the reason.
    int launch(const app::RunConfig& config, bool paused = false, int group = 0, const app::RunData& past = {});
    [[nodiscard]] quint32 nextColour() const;
    [[nodiscard]] std::vector<struct ComparedRun> comparedRuns() const;
    void refillBnSelectors(const std::vector<struct ComparedRun>& runs);  // the Compare panel's BN layer and feature
    void chooseRunsFolder();
    void chooseFork(int id);
    void exportMetricsDialog();
    void refreshNextChart();  // refreshes the next stale chart in turn
    void updateStatus();
    void updateActions();
    void showError(const QString& message);
    void clearError();
    void chooseDataset();
    void refillChartSelectors();
    void chooseRun();
    void rebuildRecentRuns();
    void exportDashboard();  // File › Export Dashboard: the four panels as they are
    [[nodiscard]] ChartRequest currentChartRequest(const QString& chart) const;
    void applyLiveChange(const engine::LiveChange& change);
    void reportChanges();  // new change records: applied ones in the status bar
    void restoreSettings();
    void saveSettings() const;

    ConfigPanel* m_config = nullptr;
    app::RunSet m_runs;
    app::RunController m_idle;  // stands for the current run when there is none
    int m_current = 0;          // id of the current run in m_runs (0: none)
    bool m_draft = false;       // the panel holds settings for a new run, not the current run's
    RunList* m_runList = nullptr;
    RunTable* m_runTable = nullptr;
    PredictionsPage* m_predictions = nullptr;
    class QTabWidget* m_tabs = nullptr;
    CompareCharts* m_compare = nullptr;
    ActivationCompare* m_compareActivations = nullptr;
    GradientCompare* m_compareGradients = nullptr;
    BnStatsCompare* m_compareBnStats = nullptr;
    QComboBox* m_compareWhat = nullptr;   // activations, gradient norms, update ratios, BN statistics or a landscape measure
    LandscapeChart* m_compareLandscape = nullptr;
    QComboBox* m_compareParam = nullptr;
    QComboBox* m_compareBnLayer = nullptr;
    QComboBox* m_compareBnFeature = nullptr;
    QComboBox* m_compareX = nullptr;
    QComboBox* m_compareBlock = nullptr;
    QComboBox* m_compareSide = nullptr;
    QComboBox* m_seedBand = nullptr;
    QCheckBox* m_overlay = nullptr;
    bool m_compareDirty = false;  // records of any run arrived, or what is compared changed
    bool m_listDirty = false;
    QTextBrowser* m_experimentText = nullptr;
    QDockWidget* m_experimentDock = nullptr;
    QAction* m_quickExperiments = nullptr;
    std::shared_ptr<const engine::Dataset> m_data;
    QString m_runsFolder;
    QStringList m_schedule;
    class QMenu* m_recentRuns = nullptr;

    LossChart* m_loss = nullptr;
    GradNormChart* m_grads = nullptr;
    LandscapeChart* m_landscape = nullptr;  // shares the Gradients panel, chosen by m_gradWhat
    ActivationChart* m_activations = nullptr;
    BnStatsChart* m_bnStats = nullptr;
    QComboBox* m_xAxis = nullptr;
    QComboBox* m_activationBlock = nullptr;
    QComboBox* m_activationSide = nullptr;
    QComboBox* m_bandStyle = nullptr;     // BN paper's bands or TensorBoard's lines
    QComboBox* m_bnLayer = nullptr;
    QComboBox* m_bnFeature = nullptr;
    QComboBox* m_gradWhat = nullptr;  // gradient norms, update ratios, or one of the landscape measures
    QDoubleSpinBox* m_smoothing = nullptr;
    QLabel* m_error = nullptr;

    QAction* m_start = nullptr;
    QAction* m_pause = nullptr;
    QAction* m_stop = nullptr;
    QAction* m_step = nullptr;
    QAction* m_reset = nullptr;
    QProgressBar* m_progress = nullptr;
    QLabel* m_statusText = nullptr;
    QTimer* m_redraw = nullptr;
    bool m_dirty = false;    // new records since the last tick
    QElapsedTimer m_tickClock;  // wall time between redraw ticks
    double m_lastCpu = 0;       // the GUI thread's CPU seconds at the last tick
    int m_staleCharts = 0;   // bit i: chart i has not drawn the latest records
    int m_nextChart = 0;
    int m_selectorsFilledFor = -1;  // the BN layer whose features the feature selector lists
    std::size_t m_reportedChanges = 0;
};

}  // namespace bnlab::ui
