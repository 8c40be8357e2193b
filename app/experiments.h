#pragma once

// The guided experiments: each claim about Batch Normalization as a set of runs that differ in one thing,
// the charts that show the effect (or its absence), and the words that go with them. The window's
// Experiments menu and `bnlab-cli experiment NAME` both start from these definitions.

#include "run_config.h"
#include "run_data.h"

#include <QString>
#include <QStringList>

#include <vector>

namespace bnlab::app {

struct ExperimentRun {
    QString label;         // "BN before", "no BN, learning rate 3"
    QString preset;        // empty: the experiment's
    QStringList settings;  // KEY=VALUE on top of the preset and the experiment's common settings
    QStringList quick{};   // the quick version's settings for this run, instead of the experiment's
};

// A figure `bnlab-cli experiment` writes (PNG and SVG): one chart of all runs, as `bnlab-cli plot` draws it.
struct ExperimentFigure {
    QString file;    // without suffix: "accuracy", "activations-dense3"
    QString chart;   // a chart name of `bnlab-cli plot`
    QString layer;   // activations / bn-stats
    bool post = false;
    QString x = QStringLiteral("step");  // step, epoch, samples, time
    QStringList runs;  // labels of the runs it draws (empty: every run)
};

struct Experiment {
    QString name;    // "covariate-shift"
    QString title;   // "Internal covariate shift (Ioffe & Szegedy, Figure 1)"
    QString claim;   // what people say
    QString lookFor; // what to look at, and how to read the charts
    QString tryNext; // what to try next
    QString preset;
    QStringList common;  // settings of every run
    QStringList quick;   // added by --quick: about a minute on 2 cores in all
    std::vector<ExperimentRun> runs;
    std::vector<ExperimentFigure> figures;
    // The window's comparison: the layer whose activations matter and the x axis.
    QString layer;
    QString x = QStringLiteral("step");
};

[[nodiscard]] const std::vector<Experiment>& experiments();
// Throws ConfigError listing the known names.
[[nodiscard]] const Experiment& findExperiment(const QString& name);

// The configuration of each run: preset, common settings, the quick ones when quick, the run's own, then
// overrides (KEY=VALUE, e.g. a smaller train_size for tests). Throws ConfigError naming the run and setting.
[[nodiscard]] std::vector<RunConfig> experimentConfigs(const Experiment& e, bool quick, const QStringList& overrides = {});

// summary.csv: one row per run with its label, the settings that differ between the runs, and its results.
[[nodiscard]] QString experimentSummaryCsv(const Experiment& e, const std::vector<RunData>& runs);

}  // namespace bnlab::app
