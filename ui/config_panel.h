#pragma once

// The configuration panel: preset, per-layer BN placement, and every training knob, each with a tooltip
// that says what it does to Batch Normalization or to training. It edits a RunConfig through the same
// setting keys as bnlab-cli, so the values and the error messages are the same everywhere.

#include "run_config.h"

#include <QWidget>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTableWidget;

namespace bnlab::ui {

class NetworkDiagram;

class ConfigPanel final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConfigPanel)

public:
    explicit ConfigPanel(QWidget* parent = nullptr);

    void setConfig(const app::RunConfig& config);
    // The configuration as shown. Throws ConfigError (naming the key) for a value that does not parse.
    [[nodiscard]] app::RunConfig config() const;
    void selectPreset(const QString& name);
    [[nodiscard]] QString presetName() const;

    // Live mode, while a run is going: the learning rate, BN momentum, batch size and the per-block BN
    // placement stay editable and each edit is emitted as liveChange (the window applies it to the run from
    // its next step); every other control is locked until the run ends.
    void setLive(bool live);

    // Marks the control that a message ("learning_rate: must be ...", as ConfigError words it) is about: a red
    // frame and the message as its tooltip, until the value changes. Returns false when no control matches.
    bool showProblem(const QString& message);
    void clearProblem();
    [[nodiscard]] bool isLive() const { return m_live; }

Q_SIGNALS:
    void changed();
    void liveChange(const bnlab::engine::LiveChange& change);

private:
    void buildLayerTable();
    void applyLiveState();
    [[nodiscard]] int specBlockOfRow(int row) const;  // the index into network.blocks of the table's row
    void updatePytorchMomentum();

    app::RunConfig m_base;  // the preset (or loaded config) the panel started from
    QComboBox* m_preset;
    QTableWidget* m_layers;
    QComboBox* m_allNorm;
    NetworkDiagram* m_diagram;
    QSpinBox* m_batchSize;
    QSpinBox* m_epochs;
    QLineEdit* m_learningRate;
    QComboBox* m_optimizer;
    QDoubleSpinBox* m_momentum;
    QDoubleSpinBox* m_bnMomentum;
    QLabel* m_bnMomentumTorch;
    QLineEdit* m_bnEpsilon;
    QComboBox* m_evalStatistics;  // data: "running" or "batch"
    QComboBox* m_init;
    QLineEdit* m_initScale;
    QLineEdit* m_seed;
    QSpinBox* m_validationSize;
    QSpinBox* m_trainSize;
    QSpinBox* m_probeInterval;
    QSpinBox* m_evalInterval;
    QSpinBox* m_threads;
    QLabel* m_liveHint;
    bool m_updating = false;
    bool m_live = false;
    QWidget* m_problem = nullptr;  // the control marked by showProblem
    QString m_problemTip;          // its tooltip before
    float m_liveLearningRate = 0;  // the learning rate last sent in live mode
};

}  // namespace bnlab::ui
