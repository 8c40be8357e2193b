#include "run_data.h"

namespace bnlab::app {

void RunData::append(MetricsBatch&& batch) {
    if (batch.started) info = std::move(*batch.started);
    steps.insert(steps.end(), batch.steps.begin(), batch.steps.end());
    evals.insert(evals.end(), batch.evals.begin(), batch.evals.end());
    for (auto& p : batch.probes) probes.push_back(std::move(p));
    for (auto& l : batch.landscape) landscape.push_back(std::move(l));
    for (auto& c : batch.changes) {
        if (c.applied) {
            info = c.info;
            try {
                applySetting(current, QString::fromStdString(c.key), QString::fromStdString(c.value));
            } catch (const std::exception&) {
                // every key the trainer reports is a setting key; a mismatch only leaves `current` behind
            }
        }
        changes.push_back(std::move(c));
    }
    if (batch.samplesPerSecond > 0) samplesPerSecond = batch.samplesPerSecond;
    if (batch.finished) {
        summary = std::move(*batch.finished);
        state = RunState::Finished;
    }
}

}  // namespace bnlab::app
