#pragma once

// The main window: configuration on the left, run controls in the toolbar, live charts in the middle,
// progress in the status bar. Charts are redrawn by a timer at most 10 times a second, from the run data
// that the RunController appends as metric batches arrive from the training thread.

#include "chart_export.h"
#include "run_controller.h"

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

namespace bnlab::engine {
struct Dataset;
struct LiveChange;
}

namespace bnlab::ui {

class ActivationChart;
class BnStatsChart;
class ConfigPanel;
class GradNormChart;
class LossChart;

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
    void startRun(bool paused = false);
    void stepRun();   // one training step (starting a paused run if none is active)
    void resetRun();  // stop and clear the charts
    // The run shown (for tests and benchmarks).
    [[nodiscard]] const app::RunData& currentRun() const { return m_controller.run(); }
    // Applies KEY=VALUE settings on top of the panel's configuration (as bnlab-cli's --set does).
    void applySettings(const QStringList& settings);
    // Planned changes ("STEP:KEY=VALUE") for the runs started from now on (bnlab --at).
    void setSchedule(const QStringList& changes) { m_schedule = changes; }
    // The configuration panel and the charts (for tests).
    [[nodiscard]] ConfigPanel* configPanel() const { return m_config; }
    [[nodiscard]] LossChart* lossChart() const { return m_loss; }
    [[nodiscard]] QString errorText() const;  // the banner's message, empty when hidden

protected:
    void closeEvent(class QCloseEvent* event) override;
    void dragEnterEvent(class QDragEnterEvent* event) override;
    void dropEvent(class QDropEvent* event) override;

private:
    void buildActions();
    void buildCharts();
    void refreshNextChart();  // refreshes the next stale chart in turn
    void updateStatus();
    void updateActions();
    void showError(const QString& message);
    void clearError();
    void chooseDataset();
    void refillChartSelectors();
    void chooseRun();
    void rebuildRecentRuns();
    void exportChart();      // File › Export Chart: one chart as PNG, SVG or PDF
    void exportDashboard();  // File › Export Dashboard: the four panels as they are
    [[nodiscard]] ChartRequest currentChartRequest(const QString& chart) const;
    void applyLiveChange(const engine::LiveChange& change);
    void reportChanges();  // new change records: applied ones in the status bar
    void restoreSettings();
    void saveSettings() const;

    ConfigPanel* m_config = nullptr;
    app::RunController m_controller;
    std::shared_ptr<const engine::Dataset> m_data;
    QString m_runsFolder;
    QStringList m_schedule;
    class QMenu* m_recentRuns = nullptr;

    LossChart* m_loss = nullptr;
    GradNormChart* m_grads = nullptr;
    ActivationChart* m_activations = nullptr;
    BnStatsChart* m_bnStats = nullptr;
    QComboBox* m_xAxis = nullptr;
    QComboBox* m_activationBlock = nullptr;
    QComboBox* m_activationSide = nullptr;
    QComboBox* m_bnLayer = nullptr;
    QComboBox* m_bnFeature = nullptr;
    QCheckBox* m_updateRatio = nullptr;
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
