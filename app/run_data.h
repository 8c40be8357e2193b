#pragma once

// Everything a run has measured, as the GUI keeps it: the full series, appended in batches that arrive
// from the training thread (MetricsBatch), read by the charts on the GUI thread only.

#include "metrics.h"
#include "run_config.h"

#include <QMetaType>
#include <QString>

#include <optional>
#include <vector>

namespace bnlab::app {

// What the training thread sends to the GUI thread, at most every ~50 ms: the records since the last batch.
// A plain value, copied (moved) across threads through a queued signal.
struct MetricsBatch {
    std::optional<engine::RunInfo> started;
    std::vector<engine::StepRecord> steps;
    std::vector<engine::EvalRecord> evals;
    // One per evaluation; of several of one split in a batch only the latest keeps its per-sample predictions.
    std::vector<engine::PredictionRecord> predictions;
    std::vector<engine::ProbeSnapshot> probes;
    std::vector<engine::LandscapeRecord> landscape;
    std::vector<engine::ChangeRecord> changes;
    std::optional<engine::RunSummary> finished;
    double samplesPerSecond = 0;  // recent training throughput (over the last second or so)
};

enum class RunState { Idle, Running, Paused, Finished };

struct RunData {
    QString name;
    RunConfig config;                 // as the run started
    RunConfig current;                // with the live changes applied so far
    QString dataset;                  // the dataset folder's name, e.g. "mnist"
    engine::RunInfo info;
    std::vector<engine::StepRecord> steps;
    std::vector<engine::EvalRecord> evals;       // validation and test
    std::vector<engine::ConfusionRecord> confusions;  // of every evaluation, validation and test, in order
    // The latest evaluation's per-sample predictions of each split (a few hundred kB each, so only the latest).
    std::optional<engine::PredictionRecord> validationPredictions, testPredictions;
    std::vector<engine::ProbeSnapshot> probes;
    std::vector<engine::LandscapeRecord> landscape;  // loss-landscape measures (landscape_interval), in order
    std::vector<engine::ChangeRecord> changes;   // live changes, applied or refused, in order
    std::optional<engine::RunSummary> summary;   // set when the run ended
    RunState state = RunState::Idle;
    double samplesPerSecond = 0;
    QString error;                    // a failure before or during training, for the window

    void append(MetricsBatch&& batch);
    // Keeps p's confusion matrix and, when it has them, its per-sample predictions as the latest of its split.
    void addPredictions(engine::PredictionRecord&& p);
    // The latest predictions of "validation" or "test", or null.
    [[nodiscard]] const engine::PredictionRecord* latestPredictions(const std::string& split) const;
};

}  // namespace bnlab::app

Q_DECLARE_METATYPE(bnlab::app::MetricsBatch)
Q_DECLARE_METATYPE(bnlab::app::RunState)
