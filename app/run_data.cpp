#include "run_data.h"

namespace bnlab::app {

void RunData::append(MetricsBatch&& batch) {
    if (batch.started) info = std::move(*batch.started);
    steps.insert(steps.end(), batch.steps.begin(), batch.steps.end());
    evals.insert(evals.end(), batch.evals.begin(), batch.evals.end());
    for (auto& p : batch.predictions) addPredictions(std::move(p));
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

void RunData::addPredictions(engine::PredictionRecord&& p) {
    confusions.push_back(p.confusion);
    if (p.predictions.size() == 0) return;
    if (p.confusion.split == "test") testPredictions = std::move(p);
    else validationPredictions = std::move(p);
}

const engine::PredictionRecord* RunData::latestPredictions(const std::string& split) const {
    const auto& latest = split == "test" ? testPredictions : validationPredictions;
    return latest ? &*latest : nullptr;
}

}  // namespace bnlab::app
