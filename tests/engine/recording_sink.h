#pragma once

// A MetricsSink for tests: keeps a copy of every record a run emits, in order.
//
// The trainer calls the sink on its own thread; a test may watch a run in progress from another thread
// through the locked accessors (stepCount, waitForSteps, ...). Once run() has returned (or the thread
// running it has been joined), the public vectors may be read directly.

#include "metrics.h"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bnlab::test {

class RecordingSink final : public engine::MetricsSink {
public:
    // Every record, in the order received. Read them directly only when the run is over.
    std::vector<engine::RunInfo> starts;        // onStart calls (one per run)
    std::vector<engine::StepRecord> steps;
    std::vector<engine::EvalRecord> evals;      // validation and test evaluations, in order
    std::vector<engine::PredictionRecord> predictions;  // one per evaluation, in order
    std::vector<engine::ProbeSnapshot> probes;
    std::vector<engine::LandscapeRecord> landscape;
    std::vector<engine::ChangeRecord> changes;  // live changes, applied or refused
    std::vector<engine::RunSummary> finishes;   // onFinish calls (one per run)

    // Makes every onStep sleep this long (outside the lock), so that a test can act while a short run
    // is still in progress. Set it before the run starts.
    std::chrono::microseconds stepDelay{0};

    void onStart(const engine::RunInfo& info) override {
        std::lock_guard lock(m_mutex);
        starts.push_back(info);
        m_changed.notify_all();
    }
    void onStep(const engine::StepRecord& record) override {
        {
            std::lock_guard lock(m_mutex);
            steps.push_back(record);
            m_changed.notify_all();
        }
        if (stepDelay.count() > 0) std::this_thread::sleep_for(stepDelay);
    }
    void onEval(const engine::EvalRecord& record) override {
        std::lock_guard lock(m_mutex);
        evals.push_back(record);
        m_changed.notify_all();
    }
    void onPredictions(const engine::PredictionRecord& record) override {
        std::lock_guard lock(m_mutex);
        predictions.push_back(record);
        m_changed.notify_all();
    }
    void onProbe(const engine::ProbeSnapshot& snapshot) override {
        std::lock_guard lock(m_mutex);
        probes.push_back(snapshot);
        m_changed.notify_all();
    }
    void onLandscape(const engine::LandscapeRecord& record) override {
        std::lock_guard lock(m_mutex);
        landscape.push_back(record);
        m_changed.notify_all();
    }
    void onChange(const engine::ChangeRecord& record) override {
        std::lock_guard lock(m_mutex);
        changes.push_back(record);
        m_changed.notify_all();
    }
    void onFinish(const engine::RunSummary& summary) override {
        std::lock_guard lock(m_mutex);
        finishes.push_back(summary);
        m_changed.notify_all();
    }

    // Thread-safe views, usable while the run is in progress.
    [[nodiscard]] std::size_t stepCount() const {
        std::lock_guard lock(m_mutex);
        return steps.size();
    }
    [[nodiscard]] std::size_t finishCount() const {
        std::lock_guard lock(m_mutex);
        return finishes.size();
    }
    // Waits until at least n steps have been recorded or the run has finished; true when n were reached.
    bool waitForSteps(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(60)) const {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, timeout, [&] { return steps.size() >= n || !finishes.empty(); });
        return steps.size() >= n;
    }

    // The evaluations of one split ("validation" or "test").
    [[nodiscard]] std::vector<engine::EvalRecord> evalsOf(const std::string& split) const {
        std::lock_guard lock(m_mutex);
        std::vector<engine::EvalRecord> out;
        for (const engine::EvalRecord& e : evals)
            if (e.split == split) out.push_back(e);
        return out;
    }

private:
    mutable std::mutex m_mutex;
    mutable std::condition_variable m_changed;
};

}  // namespace bnlab::test
