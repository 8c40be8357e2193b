#pragma once

// Progress of a training run on the terminal: a line redrawn in place on a terminal (epoch, step, loss,
// accuracy, samples/s, ETA), plain lines every few seconds and at every epoch end otherwise.

#include "metrics.h"

#include <chrono>
#include <cstdio>
#include <functional>

namespace bnlab::app {

class CliProgress final : public engine::MetricsSink {
public:
    CliProgress(std::FILE* out, bool terminal);

    void onStart(const engine::RunInfo& info) override;
    void onStep(const engine::StepRecord& r) override;
    void onEval(const engine::EvalRecord& r) override;
    void onChange(const engine::ChangeRecord& c) override;  // one line per change, applied or not
    void onFinish(const engine::RunSummary& s) override;

private:
    void printLine(const engine::StepRecord& r, bool final);

    std::FILE* m_out;
    bool m_terminal;
    engine::RunInfo m_info;
    engine::StepRecord m_last;
    double m_lastValAccuracy = -1;
    std::chrono::steady_clock::time_point m_lastPrint;
};

// Forwards every record to several sinks in order.
class TeeSink final : public engine::MetricsSink {
public:
    explicit TeeSink(std::vector<engine::MetricsSink*> sinks) : m_sinks(std::move(sinks)) {}
    void onStart(const engine::RunInfo& i) override { for (auto* s : m_sinks) s->onStart(i); }
    void onStep(const engine::StepRecord& r) override { for (auto* s : m_sinks) s->onStep(r); }
    void onEval(const engine::EvalRecord& r) override { for (auto* s : m_sinks) s->onEval(r); }
    void onPredictions(const engine::PredictionRecord& p) override { for (auto* s : m_sinks) s->onPredictions(p); }
    void onProbe(const engine::ProbeSnapshot& p) override { for (auto* s : m_sinks) s->onProbe(p); }
    void onLandscape(const engine::LandscapeRecord& l) override { for (auto* s : m_sinks) s->onLandscape(l); }
    void onChange(const engine::ChangeRecord& c) override { for (auto* s : m_sinks) s->onChange(c); }
    void onFinish(const engine::RunSummary& r) override { for (auto* s : m_sinks) s->onFinish(r); }
    void onPause() override { for (auto* s : m_sinks) s->onPause(); }

private:
    std::vector<engine::MetricsSink*> m_sinks;
};

}  // namespace bnlab::app
