#pragma once

// Writes a run folder as it trains:
//   config.json   the full configuration (loadable with bnlab-cli train --config)
//   steps.csv     one line per training step
//   evals.csv     one line per evaluation (validation during training, test at the end)
//   probes.jsonl  one JSON object per probe snapshot
//   landscape.jsonl one JSON object per loss-landscape measure, when landscape_interval is on
//   confusion.jsonl  one JSON object per evaluation: its confusion matrix (rows = true class)
//   predictions-validation.json, predictions-test.json  the latest evaluation's per-sample predictions of the
//                 split (true and predicted class, probabilities × 10,000 rounded), rewritten atomically
//   changes.jsonl one JSON object per live change (applied or refused), when there are any; run_info.json is
//                 rewritten when a change alters the layers
//   summary.json  written last, atomically, only when the run ended (completed, stopped or diverged)
//   checkpoints/  training states, written by the trainer itself (TrainOptions::checkpointFolder), for forks
// Files are flushed about once a second, so a crash loses at most the last second of metrics.

#include "metrics.h"
#include "run_config.h"
#include "run_data.h"

#include <QString>

#include <chrono>
#include <fstream>
#include <memory>

namespace bnlab::app {

class RunWriter final : public engine::MetricsSink {
public:
    // Creates the folder (and parents) and writes config.json. Throws Error naming the folder if it cannot
    // be created or written, or if it already holds a run (summary.json or config.json).
    RunWriter(const QString& folder, const RunConfig& config, const QString& datasetFolder);

    void onStart(const engine::RunInfo& info) override;
    void onStep(const engine::StepRecord& r) override;
    void onEval(const engine::EvalRecord& r) override;
    void onPredictions(const engine::PredictionRecord& p) override;
    void onProbe(const engine::ProbeSnapshot& p) override;
    void onLandscape(const engine::LandscapeRecord& l) override;
    void onChange(const engine::ChangeRecord& c) override;
    void onFinish(const engine::RunSummary& s) override;
    // Writes records the run starts with (a fork's copy of its parent's past), before the trainer's own.
    void writePast(const RunData& past);

    [[nodiscard]] const QString& folder() const { return m_folder; }

private:
    void maybeFlush();
    void writeChange(const engine::ChangeRecord& c);
    void check(std::ofstream& out, const char* file);

    QString m_folder;
    QString m_datasetFolder;
    std::ofstream m_steps, m_evals, m_probes, m_changes, m_landscape, m_confusion;
    std::chrono::steady_clock::time_point m_lastFlush;
};

// One line of probes.jsonl (compact JSON, no newline).
[[nodiscard]] std::string toJsonLine(const engine::ProbeSnapshot& p);
[[nodiscard]] QJsonObject toJson(const engine::RunSummary& s);
[[nodiscard]] QJsonObject toJson(const engine::LandscapeRecord& l);
// A predictions-SPLIT.json file's text (see run_reader.h for what is read back).
[[nodiscard]] QByteArray predictionsJson(const engine::PredictionRecord& p);
// Probabilities are written as whole multiples of 1/kProbabilityScale ("probabilities_e4": 0.0123 is 123): what
// the gallery shows, in a third of the characters of a float.
inline constexpr double kProbabilityScale = 1e4;

}  // namespace bnlab::app
