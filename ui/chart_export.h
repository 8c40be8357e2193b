#pragma once

// Charts as images: the window's File › Export and `bnlab-cli plot` draw the same chart widgets, at a chosen
// size, into PNG (at a scale, 2× by default, sharp on slides), SVG or PDF (vector), with a title line
// naming the run above the chart and the chart's own legend under it.

#include "activation_chart.h"
#include "chart_style.h"
#include "compare_charts.h"
#include "run_data.h"

#include <QSize>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <memory>

namespace bnlab::ui {

struct ChartRequest {
    QString chart;            // one of chartNames()
    XAxis xAxis = XAxis::Step;
    QString layer;            // activations: a block name ("dense2") or its 1-based number; bn-stats: a BN layer name;
                              // ics, ics-cosine: a weight layer ("dense2"; empty: every one)
    bool postActivation = false;
    int feature = 0;          // bn-stats: which of the followed features (0-3)
    double smoothing = 0.98;  // loss, accuracy
    bool overlay = false;     // activations of several runs: on one chart instead of one chart per run
    BandStyle bands = BandStyle::Paper;  // activations of one run: the BN paper's bands or TensorBoard's lines
    QString split;            // confusion: "validation" or "test" (empty: test when the run has it, else validation)
};

// "loss", "accuracy", "loss-accuracy", "grad-norms", "update-ratios", "activations", "bn-stats", "confusion", and
// the landscape measures "loss-landscape", "gradient-predictiveness", "beta-smoothness", "ics", "ics-cosine"
// (--layer: one weight layer for ics and ics-cosine).
[[nodiscard]] const QStringList& chartNames();

// The chart widget for the request, drawn from run at `size` (logical pixels, without the title). Throws Error
// for an unknown chart name (listing the known ones), a layer the run does not have or a split other than
// validation or test. (A run without a confusion matrix of the split gets a chart that says so: see
// requireConfusion.)
[[nodiscard]] std::unique_ptr<QWidget> makeChart(const ChartRequest& request, const app::RunData& run, QSize size);

// Several runs in one chart: loss, accuracy and loss-accuracy on shared axes, activations as small multiples
// with one y axis (or overlaid), bn-stats of one BN layer and feature (each run's batch and running statistics),
// grad-norms and update-ratios of one parameter (request.layer names it) one line per run. Other requests
// return false from comparable(): draw them per run.
[[nodiscard]] bool comparable(const ChartRequest& request);
// Whether run has the confusion matrix a "confusion" request draws; else Error names what is missing.
void requireConfusion(const ChartRequest& request, const app::RunData& run);
// Each run in a palette colour, labelled with its name and what it sets differently from the first run.
[[nodiscard]] std::vector<ComparedRun> comparedRuns(const std::vector<app::RunData>& runs);
[[nodiscard]] std::unique_ptr<QWidget> makeComparison(const ChartRequest& request, const std::vector<ComparedRun>& runs,
                                                      QSize size);

// Writes widget under a title line to path: .png (at scale× the logical size), .svg or .pdf. Throws Error
// naming the path for another suffix or when the file cannot be written.
void exportWidget(QWidget* widget, const QString& title, const QString& path, double scale = 2.0);

}  // namespace bnlab::ui
