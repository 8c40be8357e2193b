#pragma once

// Runs one training run off the GUI thread and keeps what it measured.
//
// The trainer runs in a TrainingWorker, a QObject moved to a QThread that the controller owns (the thread
// lives in a unique_ptr whose deleter calls quit() then wait()). The worker batches the records it receives
// and sends them as MetricsBatch values through a queued signal at most every 50 ms; the controller appends
// them to its RunData on the GUI thread. Pause and stop are thread-safe calls into the trainer; the GUI thread
// never waits on training except when the controller is destroyed (at most one step): RunSet::remove keeps a
// removed run's controller until threadEnded, so only closing the window waits.

#include "run_data.h"

#include <QObject>
#include <QThread>

#include <chrono>
#include <memory>
#include <mutex>

namespace bnlab::engine {
struct Dataset;
struct LiveChange;
class Trainer;
}  // namespace bnlab::engine

namespace bnlab::app {

class TrainingWorker final : public QObject, public engine::MetricsSink {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(TrainingWorker)

public:
    // runFolder: where the run is saved as it trains (RunWriter) with its checkpoints; empty = not saved.
    // past: records the run starts with (a fork's copy of its parent's), written to the folder first.
    TrainingWorker(std::shared_ptr<const engine::Dataset> data, RunConfig config, QString runFolder, RunData past = {});

    void requestStop();           // any thread
    void setPaused(bool paused);  // any thread
    void step();                  // any thread: one training step while paused
    // Any thread: hands the change to the trainer (queued until it exists). Throws ConfigError for a value
    // that is never valid.
    void requestChange(const engine::LiveChange& change);

    void onStart(const engine::RunInfo& info) override;
    void onStep(const engine::StepRecord& r) override;
    void onEval(const engine::EvalRecord& r) override;
    void onPredictions(const engine::PredictionRecord& p) override;
    void onProbe(const engine::ProbeSnapshot& p) override;
    void onLandscape(const engine::LandscapeRecord& l) override;
    void onChange(const engine::ChangeRecord& c) override;
    void onFinish(const engine::RunSummary& s) override;
    void onPause() override;  // hands over what is batched, so a paused run shows its last steps

public Q_SLOTS:
    void run();  // in the worker thread

Q_SIGNALS:
    void batchReady(bnlab::app::MetricsBatch batch);
    void failed(QString message);
    void done();

private:
    void flush(bool force);

    std::shared_ptr<const engine::Dataset> m_data;
    RunConfig m_config;
    QString m_runFolder;
    RunData m_past;
    std::mutex m_mutex;                  // guards m_trainer and the two flags against the GUI thread
    engine::Trainer* m_trainer = nullptr;
    bool m_stopRequested = false;
    bool m_pauseRequested = false;
    int m_pendingSteps = 0;
    std::vector<engine::LiveChange> m_pendingChanges;
    MetricsBatch m_pending;
    std::chrono::steady_clock::time_point m_lastFlush;
    std::chrono::steady_clock::time_point m_rateStart;
    std::int64_t m_rateSamples = 0;
    std::int64_t m_lastSamples = 0;
};

class RunController final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunController)

public:
    explicit RunController(QObject* parent = nullptr);
    ~RunController() override;

    // Starts a run; a run still going is stopped first (its data is replaced: save it before if needed).
    // runFolder: where the run is saved as it trains (empty: not saved).
    // paused: the run starts paused (step() then advances it one step at a time).
    // past: records the run starts with, a fork's copy of its parent's up to the checkpoint it continues from
    // (ForkPlan; config.train.resumeFrom is then that checkpoint).
    void start(const RunConfig& config, std::shared_ptr<const engine::Dataset> data, const QString& name,
               const QString& runFolder, bool paused = false, const RunData& past = {});
    void setPaused(bool paused);
    // One training step of the active run, pausing it first if it is running.
    void step();
    void stop();
    // Changes the learning rate, BN momentum, batch size or a block's BN placement of the active run from its
    // next step (at once while paused). The outcome arrives as a ChangeRecord in run().changes (applied, or
    // refused with the reason) and as changeRefused. Throws ConfigError for a value that is never valid and
    // Error when no run is active.
    void requestChange(const engine::LiveChange& change);
    // Stops the run (keeping its saved folder) and clears what is shown.
    void reset();
    // Shows a saved run (loadRun) instead: a run still going is stopped first, and keeps its folder.
    void showSaved(RunData run);
    [[nodiscard]] bool isActive() const { return m_thread != nullptr; }
    void setName(const QString& name) { m_run.name = name; }

    [[nodiscard]] const RunData& run() const { return m_run; }

Q_SIGNALS:
    void updated();                 // new records arrived (the window redraws at its own bounded rate)
    void stateChanged(bnlab::app::RunState state);
    void failed(QString message);
    void changeRefused(QString message);  // a live change the run could not take, and why
    void threadEnded();             // the training thread of the run has ended (isActive() is false now)

private:
    void onBatch(MetricsBatch batch);
    void shutDown();                // stops the worker and joins its thread

    struct ThreadDeleter {
        void operator()(QThread* t) const {
            t->quit();
            t->wait();
            delete t;
        }
    };
    std::unique_ptr<QThread, ThreadDeleter> m_thread;
    TrainingWorker* m_worker = nullptr;  // lives in m_thread; deleted with deleteLater when the thread ends
    RunData m_run;
    quint64 m_generation = 0;  // of the current worker; queued records of older ones are dropped
};

}  // namespace bnlab::app
