#include "config_panel.h"

#include "trainer.h"

#include "error.h"
#include "network_diagram.h"
#include "presets.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QDoubleValidator>
#include <QFormLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>

namespace bnlab::ui {
namespace {

using app::applySetting;
using app::settingValue;

const QStringList kNorms = {"none", "before", "after"};
const QStringList kNormKinds = {"batch", "layer", "group", "renorm"};
const QStringList kActivations = {"relu", "sigmoid", "tanh", "none"};

QComboBox* combo(const QStringList& items, const QString& tip, QWidget* parent) {
    auto* c = new QComboBox(parent);
    c->addItems(items);
    c->setToolTip(tip);
    return c;
}

QSpinBox* spin(int lo, int hi, const QString& tip, QWidget* parent) {
    auto* s = new QSpinBox(parent);
    s->setRange(lo, hi);
    s->setToolTip(tip);
    s->setAccelerated(true);
    return s;
}

QLineEdit* numberEdit(const QString& tip, QWidget* parent) {
    auto* e = new QLineEdit(parent);
    auto* v = new QDoubleValidator(e);
    v->setNotation(QDoubleValidator::ScientificNotation);
    v->setLocale(QLocale::c());
    e->setValidator(v);
    e->setToolTip(tip);
    return e;
}

std::vector<const engine::BlockSpec*> linearBlocks(const engine::NetworkSpec& spec) {
    std::vector<const engine::BlockSpec*> out;
    for (const auto& b : spec.blocks)
        if (b.isLinear()) out.push_back(&b);
    return out;
}

}  // namespace

ConfigPanel::ConfigPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(6, 6, 6, 6);

    m_liveHint = new QLabel(tr("<b>Live:</b> learning rate, BN momentum, batch size and BN placement apply to the "
                               "running run from its next step, and the charts mark the change. The other settings "
                               "are for the next run."), this);
    m_liveHint->setWordWrap(true);
    m_liveHint->setStyleSheet("QLabel { background: #e8f0fa; border: 1px solid #b5c9e3; padding: 4px; }");
    m_liveHint->hide();
    layout->addWidget(m_liveHint);

    // Network
    auto* netBox = new QGroupBox(tr("Network"), this);
    auto* netLayout = new QVBoxLayout(netBox);
    m_preset = new QComboBox(netBox);
    for (const app::Preset& p : app::presets()) {
        m_preset->addItem(p.name, p.name);
        m_preset->setItemData(m_preset->count() - 1, p.description, Qt::ToolTipRole);
    }
    m_preset->setToolTip(tr("A network and its training settings to start from. Each preset has a twin "
                            "without Batch Normalization (-nobn) for comparison."));
    netLayout->addWidget(m_preset);

    m_layers = new QTableWidget(0, 6, netBox);
    m_layers->setHorizontalHeaderLabels({tr("Block"), tr("Size"), tr("Activation"), tr("Norm"), tr("Kind"), tr("Dropout")});
    m_layers->verticalHeader()->hide();
    m_layers->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    m_layers->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);  // block names on one line
    m_layers->setWordWrap(false);
    m_layers->setSelectionMode(QAbstractItemView::NoSelection);
    m_layers->setToolTip(tr("Per hidden block: its width, its nonlinearity, and where Batch Normalization sits: "
                            "before the activation (Linear → BN → activation, as in the original paper), after it "
                            "(Linear → activation → BN, as the Keras tutorial code does) or none; which normalisation "
                            "(Batch Normalization, LayerNorm, GroupNorm or Batch Renormalization); and the rate of a "
                            "Dropout layer at the end of the block (0 = none)."));
    netLayout->addWidget(m_layers);

    auto* allRow = new QHBoxLayout;
    allRow->addWidget(new QLabel(tr("BN on all layers:"), netBox));
    m_allNorm = combo({tr("(as set per layer)"), "none", "before", "after"},
                      tr("Set the Batch Normalization placement of every block at once."), netBox);
    allRow->addWidget(m_allNorm, 1);
    netLayout->addLayout(allRow);
    m_diagram = new NetworkDiagram(netBox);
    netLayout->addWidget(m_diagram);
    layout->addWidget(netBox);

    // Batch Normalization
    auto* bnBox = new QGroupBox(tr("Batch Normalization"), this);
    auto* bnForm = new QFormLayout(bnBox);
    m_bnMomentum = new QDoubleSpinBox(bnBox);
    m_bnMomentum->setRange(0.0, 0.9999);
    m_bnMomentum->setDecimals(4);
    m_bnMomentum->setSingleStep(0.01);
    m_bnMomentum->setToolTip(tr("How much of the old running mean and variance is kept at each training step "
                                "(Keras convention; PyTorch's momentum is 1 minus this). Inference uses the running "
                                "statistics, so with 0.99 they follow the network with a lag of about 100 steps."));
    m_bnMomentumTorch = new QLabel(bnBox);
    m_bnMomentumTorch->setToolTip(tr("The same setting in PyTorch's convention (nn.BatchNorm momentum)."));
    auto* momRow = new QHBoxLayout;
    momRow->addWidget(m_bnMomentum, 1);
    momRow->addWidget(m_bnMomentumTorch);
    bnForm->addRow(tr("Momentum"), momRow);
    m_bnEpsilon = numberEdit(tr("Added to the batch variance before the square root, so a feature that barely "
                                "varies in a batch is not blown up (Keras 1e-3, PyTorch 1e-5)."), bnBox);
    bnForm->addRow(tr("Epsilon ε"), m_bnEpsilon);
    m_evalStatistics = new QComboBox(bnBox);
    m_evalStatistics->addItem(tr("running statistics (inference)"), QStringLiteral("running"));
    m_evalStatistics->addItem(tr("batch statistics (training mode)"), QStringLiteral("batch"));
    m_evalStatistics->setToolTip(tr("What validation and test accuracy normalise BN layers with. Running statistics: "
                                    "as a deployed network does (inference mode). Batch statistics: the mean and "
                                    "variance of each evaluation chunk of eval_batch_size images (500 by default), as "
                                    "in training, without updating anything, so training is the same either way. "
                                    "Comparing two runs that differ only here shows the train/inference gap directly, "
                                    "e.g. early in training with BN momentum 0.999. LayerNorm and GroupNorm are "
                                    "unaffected."));
    bnForm->addRow(tr("Evaluate BN with"), m_evalStatistics);
    layout->addWidget(bnBox);

    // Training
    auto* trainBox = new QGroupBox(tr("Training"), this);
    auto* form = new QFormLayout(trainBox);
    m_batchSize = spin(1, 60000, tr("Samples per step. BN normalises each feature with the mean and variance of the "
                                    "batch, so small batches give noisy statistics, and a batch of 1 cannot be "
                                    "normalised at all."), trainBox);
    form->addRow(tr("Batch size"), m_batchSize);
    m_epochs = spin(1, 1000, tr("Passes over the training split."), trainBox);
    form->addRow(tr("Epochs"), m_epochs);
    m_learningRate = numberEdit(tr("Step size of the optimizer. BN keeps each layer's inputs at a stable scale, which "
                                   "lets much larger learning rates train without diverging."), trainBox);
    form->addRow(tr("Learning rate"), m_learningRate);
    m_optimizer = combo({"sgd", "adam"}, tr("Plain SGD (as in the BN paper) or Adam (as in the Keras tutorial)."),
                        trainBox);
    form->addRow(tr("Optimizer"), m_optimizer);
    m_momentum = new QDoubleSpinBox(trainBox);
    m_momentum->setRange(0, 0.999);
    m_momentum->setDecimals(3);
    m_momentum->setSingleStep(0.1);
    m_momentum->setToolTip(tr("SGD momentum (0 = plain SGD). Not to be confused with BN momentum."));
    form->addRow(tr("SGD momentum"), m_momentum);
    m_init = combo({"he", "glorot", "gaussian"},
                   tr("Initial weights: He (for ReLU), Glorot (for sigmoid and tanh) or a Gaussian whose standard "
                      "deviation is the scale, for bad-initialisation experiments: BN makes training far less "
                      "sensitive to it."), trainBox);
    m_initScale = numberEdit(tr("He/Glorot: a factor on the standard scale. Gaussian: the standard deviation."), trainBox);
    auto* initRow = new QHBoxLayout;
    initRow->addWidget(m_init, 1);
    initRow->addWidget(new QLabel(tr("scale"), trainBox));
    initRow->addWidget(m_initScale, 1);
    form->addRow(tr("Initialisation"), initRow);
    m_seed = new QLineEdit(trainBox);
    m_seed->setValidator(new QRegularExpressionValidator(QRegularExpression("\\d{1,20}"), m_seed));
    m_seed->setToolTip(tr("One seed for the initial weights, the shuffle and the probe batch: the same seed gives "
                          "the same run, bit for bit."));
    form->addRow(tr("Seed"), m_seed);
    m_validationSize = spin(0, 59999, tr("Images carved from the end of the training files to measure accuracy in "
                                        "inference mode (running statistics) during training."), trainBox);
    form->addRow(tr("Validation images"), m_validationSize);
    m_trainSize = spin(0, 60000, tr("Train on the first N images only (0 = all that remain): quick runs, or "
                                   "the regularising effect of BN on small data."), trainBox);
    m_trainSize->setSpecialValueText(tr("all"));
    form->addRow(tr("Training images"), m_trainSize);
    m_probeInterval = spin(0, 100000, tr("Steps between measurements of the activation distributions, gradient norms "
                                        "and BN statistics (0 = off)."), trainBox);
    form->addRow(tr("Probe every"), m_probeInterval);
    m_evalInterval = spin(0, 100000, tr("Steps between validation evaluations (0 = at epoch ends only)."), trainBox);
    form->addRow(tr("Validate every"), m_evalInterval);
    m_threads = spin(0, 256, tr("Worker threads (0 = all cores). The results do not depend on it."), trainBox);
    m_threads->setSpecialValueText(tr("all cores"));
    form->addRow(tr("Threads"), m_threads);
    layout->addWidget(trainBox);
    layout->addStretch(1);

    connect(m_preset, &QComboBox::currentIndexChanged, this, [this] {
        if (!m_updating) setConfig(app::findPreset(m_preset->currentData().toString()).config);
    });
    connect(m_allNorm, &QComboBox::currentIndexChanged, this, [this](int index) {
        if (m_updating || index <= 0) return;
        for (int r = 0; r < m_layers->rowCount(); ++r)
            static_cast<QComboBox*>(m_layers->cellWidget(r, 3))->setCurrentText(m_allNorm->currentText());
        m_allNorm->setCurrentIndex(0);
    });
    connect(m_bnMomentum, &QDoubleSpinBox::valueChanged, this, [this](double v) {
        updatePytorchMomentum();
        if (m_live && !m_updating) Q_EMIT liveChange(engine::LiveChange::batchNormMomentum(v));
    });
    connect(m_batchSize, &QSpinBox::valueChanged, this, [this](int v) {
        if (m_live && !m_updating) Q_EMIT liveChange(engine::LiveChange::batchSize(v));
    });
    connect(m_learningRate, &QLineEdit::editingFinished, this, [this] {
        if (!m_live || m_updating) return;
        bool ok = false;
        const double lr = m_learningRate->text().toDouble(&ok);
        if (ok && lr != double(m_liveLearningRate)) {
            m_liveLearningRate = float(lr);
            Q_EMIT liveChange(engine::LiveChange::learningRate(lr));
        }
    });
    // Live edits take effect when the value is complete (Enter, focus change, arrows), not at each keystroke.
    m_bnMomentum->setKeyboardTracking(false);
    m_batchSize->setKeyboardTracking(false);
    for (QSpinBox* s : {m_batchSize, m_epochs, m_validationSize, m_trainSize, m_probeInterval, m_evalInterval, m_threads})
        connect(s, &QSpinBox::valueChanged, this, &ConfigPanel::changed);
    for (QLineEdit* e : {m_learningRate, m_bnEpsilon, m_initScale, m_seed})
        connect(e, &QLineEdit::textChanged, this, &ConfigPanel::changed);
    connect(m_evalStatistics, &QComboBox::currentIndexChanged, this, &ConfigPanel::changed);

    // Each control is named by its setting key (for tests and accessibility tools).
    const std::pair<QWidget*, const char*> names[] = {
        {m_preset, "preset"}, {m_allNorm, "norm"}, {m_batchSize, "batch_size"}, {m_epochs, "epochs"},
        {m_learningRate, "learning_rate"}, {m_optimizer, "optimizer"}, {m_momentum, "momentum"},
        {m_bnMomentum, "bn_momentum"}, {m_bnEpsilon, "bn_epsilon"}, {m_evalStatistics, "eval_statistics"},
        {m_init, "init"}, {m_initScale, "init_scale"},
        {m_seed, "seed"}, {m_validationSize, "validation_size"}, {m_trainSize, "train_size"},
        {m_probeInterval, "probe_interval"}, {m_evalInterval, "eval_interval"}, {m_threads, "threads"}};
    for (const auto& [widget, name] : names) widget->setObjectName(QString::fromLatin1(name));

    connect(this, &ConfigPanel::changed, this, &ConfigPanel::clearProblem);
    selectPreset(app::defaultPresetName());
}

void ConfigPanel::updatePytorchMomentum() {
    m_bnMomentumTorch->setText(tr("PyTorch: %1").arg(1.0 - m_bnMomentum->value(), 0, 'g', 4));
    Q_EMIT changed();
}

void ConfigPanel::selectPreset(const QString& name) {
    const int index = m_preset->findData(name);
    if (index < 0) throw ConfigError("preset: unknown preset '" + name.toStdString() + "'");
    m_preset->setCurrentIndex(index);
    setConfig(app::findPreset(name).config);
}

QString ConfigPanel::presetName() const { return m_base.preset; }

void ConfigPanel::setConfig(const app::RunConfig& config) {
    m_updating = true;
    m_base = config;
    const int index = m_preset->findData(config.preset);
    if (index >= 0) m_preset->setCurrentIndex(index);
    buildLayerTable();
    auto value = [&](const char* key) { return settingValue(config, key); };
    m_batchSize->setValue(value("batch_size").toInt());
    m_epochs->setValue(value("epochs").toInt());
    m_learningRate->setText(value("learning_rate"));
    m_liveLearningRate = m_learningRate->text().toFloat();
    m_optimizer->setCurrentText(value("optimizer"));
    m_momentum->setValue(value("momentum").toDouble());
    m_bnMomentum->setValue(value("bn_momentum").toDouble());
    m_bnEpsilon->setText(value("bn_epsilon"));
    m_evalStatistics->setCurrentIndex(m_evalStatistics->findData(value("eval_statistics")));
    m_init->setCurrentText(value("init"));
    m_initScale->setText(value("init_scale"));
    m_seed->setText(value("seed"));
    m_validationSize->setValue(value("validation_size").toInt());
    m_trainSize->setValue(value("train_size").toInt());
    m_probeInterval->setValue(value("probe_interval").toInt());
    m_evalInterval->setValue(value("eval_interval").toInt());
    m_threads->setValue(value("threads").toInt());
    m_diagram->setSpec(config.train.network);
    m_diagram->setBatchNormNoise(config.train.batchNorm.noise);
    m_updating = false;
    updatePytorchMomentum();
}

void ConfigPanel::buildLayerTable() {
    const auto blocks = linearBlocks(m_base.train.network);
    m_layers->setRowCount(int(blocks.size()));
    int dense = 0, conv = 0;
    for (int r = 0; r < int(blocks.size()); ++r) {
        const engine::BlockSpec& b = *blocks[std::size_t(r)];
        const bool isConv = b.kind == engine::BlockKind::Conv2D;
        auto* name = new QTableWidgetItem(isConv ? QString("conv%1 %2x%2").arg(++conv).arg(b.kernel)
                                                 : QString("dense%1").arg(++dense));
        name->setFlags(Qt::ItemIsEnabled);
        m_layers->setItem(r, 0, name);
        auto* size = spin(1, 4096, isConv ? tr("Filters of this convolution.") : tr("Units of this dense layer."), m_layers);
        size->setValue(b.size);
        m_layers->setCellWidget(r, 1, size);
        auto* act = combo(kActivations, tr("The nonlinearity of this block."), m_layers);
        act->setCurrentText(b.activation ? QString::fromStdString(engine::toString(*b.activation)) : "none");
        m_layers->setCellWidget(r, 2, act);
        auto* norm = combo(kNorms, m_layers->toolTip(), m_layers);
        norm->setCurrentText(QString::fromStdString(engine::toString(b.norm)));
        m_layers->setCellWidget(r, 3, norm);
        size->setObjectName(QString("block.%1.size").arg(r + 1));
        act->setObjectName(QString("block.%1.activation").arg(r + 1));
        norm->setObjectName(QString("block.%1.norm").arg(r + 1));
        auto* kind = combo(kNormKinds, tr("Batch Normalization (statistics of the batch), LayerNorm (of each sample's "
                                          "values), GroupNorm (of each sample's groups of channels) or Batch "
                                          "Renormalization (batch statistics corrected towards the running ones). "
                                          "LayerNorm and GroupNorm work with any batch size."), m_layers);
        kind->setCurrentText(QString::fromStdString(engine::toString(b.normKind)));
        kind->setObjectName(QString("block.%1.norm_kind").arg(r + 1));
        m_layers->setCellWidget(r, 4, kind);
        auto* dropout = new QDoubleSpinBox(m_layers);
        dropout->setRange(0, 0.95);
        dropout->setSingleStep(0.05);
        dropout->setDecimals(2);
        dropout->setValue(b.dropout);
        dropout->setToolTip(tr("Dropout rate p after this block in training (kept values are scaled by 1/(1 − p)); "
                               "0 = no Dropout layer. Evaluation never drops."));
        dropout->setObjectName(QString("block.%1.dropout").arg(r + 1));
        m_layers->setCellWidget(r, 5, dropout);
        auto refreshDiagram = [this] {
            if (m_updating) return;
            try {
                m_diagram->setSpec(config().train.network);
            } catch (const std::exception&) {
            }
            Q_EMIT changed();
        };
        connect(size, &QSpinBox::valueChanged, this, refreshDiagram);
        connect(act, &QComboBox::currentIndexChanged, this, refreshDiagram);
        connect(norm, &QComboBox::currentIndexChanged, this, refreshDiagram);
        connect(kind, &QComboBox::currentIndexChanged, this, refreshDiagram);
        connect(dropout, &QDoubleSpinBox::valueChanged, this, refreshDiagram);
        connect(norm, &QComboBox::currentIndexChanged, this, [this, r, norm] {
            if (m_live && !m_updating)
                Q_EMIT liveChange(engine::LiveChange::normPlacement(specBlockOfRow(r),
                                                                     engine::normFromString(norm->currentText().toStdString())));
        });
    }
    applyLiveState();
    m_layers->resizeRowsToContents();
    const int rows = m_layers->rowCount();
    int h = m_layers->horizontalHeader()->height() + 4;
    for (int r = 0; r < rows; ++r) h += m_layers->rowHeight(r);  // every row whole, whatever its height
    m_layers->setFixedHeight(h);
}

bool ConfigPanel::showProblem(const QString& message) {
    clearProblem();
    // "key: ..." or "source: key: ..." (a file name first)
    for (const QString& part : message.split(QStringLiteral(": "))) {
        auto* w = findChild<QWidget*>(part.trimmed());
        if (!w || part.isEmpty()) continue;
        m_problem = w;
        m_problemTip = w->toolTip();
        w->setStyleSheet(QStringLiteral("border: 2px solid #d9534f;"));
        w->setToolTip(message + QStringLiteral("\n\n") + m_problemTip);
        w->setFocus();
        return true;
    }
    return false;
}

void ConfigPanel::clearProblem() {
    if (!m_problem) return;
    m_problem->setStyleSheet(QString());
    m_problem->setToolTip(m_problemTip);
    m_problem = nullptr;
}

int ConfigPanel::specBlockOfRow(int row) const {
    const auto& blocks = m_base.train.network.blocks;
    for (int i = 0, linear = 0; i < int(blocks.size()); ++i)
        if (blocks[std::size_t(i)].isLinear() && linear++ == row) return i;
    return -1;
}

void ConfigPanel::setLive(bool live) {
    if (live && !m_live) m_liveLearningRate = m_learningRate->text().toFloat();
    m_live = live;
    applyLiveState();
}

void ConfigPanel::applyLiveState() {
    const bool locked = m_live;
    m_liveHint->setVisible(m_live);
    for (QWidget* w : std::initializer_list<QWidget*>{m_preset, m_epochs, m_optimizer, m_momentum, m_bnEpsilon,
                                                      m_evalStatistics, m_init,
                                                      m_initScale, m_seed, m_validationSize, m_trainSize,
                                                      m_probeInterval, m_evalInterval, m_threads})
        w->setEnabled(!locked);
    for (int r = 0; r < m_layers->rowCount(); ++r)
        for (int column : {1, 2, 4, 5})
            if (QWidget* w = m_layers->cellWidget(r, column)) w->setEnabled(!locked);
    const QString lockedTip = tr("Locked while a run is going: this setting is for the next run.");
    for (QWidget* w : std::initializer_list<QWidget*>{m_learningRate, m_bnMomentum, m_batchSize, m_allNorm})
        w->setStatusTip(m_live ? tr("Live: applies to the running run from its next step.") : QString());
    m_preset->setStatusTip(m_live ? lockedTip : QString());
}

app::RunConfig ConfigPanel::config() const {
    app::RunConfig c = m_base;
    auto set = [&](const QString& key, const QString& value) { applySetting(c, key, value); };
    for (int r = 0; r < m_layers->rowCount(); ++r) {
        const QString block = QString("block.%1.").arg(r + 1);
        set(block + "size", QString::number(static_cast<QSpinBox*>(m_layers->cellWidget(r, 1))->value()));
        set(block + "activation", static_cast<QComboBox*>(m_layers->cellWidget(r, 2))->currentText());
        set(block + "norm", static_cast<QComboBox*>(m_layers->cellWidget(r, 3))->currentText());
        set(block + "norm_kind", static_cast<QComboBox*>(m_layers->cellWidget(r, 4))->currentText());
        // The spin box shows two decimals; the configured rate is kept when the box still shows it.
        const double shown = static_cast<QDoubleSpinBox*>(m_layers->cellWidget(r, 5))->value();
        const float configured = linearBlocks(m_base.train.network)[std::size_t(r)]->dropout;
        if (std::abs(shown - double(configured)) >= 0.005) set(block + "dropout", QString::number(shown));
    }
    set("batch_size", QString::number(m_batchSize->value()));
    set("epochs", QString::number(m_epochs->value()));
    set("learning_rate", m_learningRate->text());
    set("optimizer", m_optimizer->currentText());
    set("momentum", QString::number(m_momentum->value()));
    set("bn_momentum", QString::number(m_bnMomentum->value()));
    set("bn_epsilon", m_bnEpsilon->text());
    set("eval_statistics", m_evalStatistics->currentData().toString());
    set("init", m_init->currentText());
    set("init_scale", m_initScale->text());
    set("seed", m_seed->text());
    set("validation_size", QString::number(m_validationSize->value()));
    set("train_size", QString::number(m_trainSize->value()));
    set("probe_interval", QString::number(m_probeInterval->value()));
    set("eval_interval", QString::number(m_evalInterval->value()));
    set("threads", QString::number(m_threads->value()));
    return c;
}

}  // namespace bnlab::ui
