#pragma once

// Writes a run folder as it trains:
//   config.json   the full configuration (loadable with bnlab-cli train --config)
//   steps.csv     one line per training step
//   evals.csv     one line per evaluation (validation during training, test at the end)
//   probes.jsonl  one JSON object per probe snapshot
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
    void onProbe(const engine::ProbeSnapshot& p) override;
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
    std::ofstream m_steps, m_evals, m_probes, m_changes;
    std::chrono::steady_clock::time_point m_lastFlush;
};

[[nodiscard]] QJsonObject toJson(const engine::ProbeSnapshot& p);
[[nodiscard]] QJsonObject toJson(const engine::RunSummary& s);

}  // namespace bnlab::app
