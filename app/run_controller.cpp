#include "run_controller.h"

#include "cli_progress.h"
#include "dataset.h"
#include "error.h"
#include "run_writer.h"
#include "trainer.h"

namespace bnlab::app {
namespace {
using Clock = std::chrono::steady_clock;
constexpr auto kFlushInterval = std::chrono::milliseconds(50);
}  // namespace

TrainingWorker::TrainingWorker(std::shared_ptr<const engine::Dataset> data, RunConfig config, QString runFolder,
                               RunData past)
    : m_data(std::move(data)), m_config(std::move(config)), m_runFolder(std::move(runFolder)), m_past(std::move(past)) {}

void TrainingWorker::requestStop() {
    std::lock_guard lock(m_mutex);
    m_stopRequested = true;
    if (m_trainer) m_trainer->requestStop();
}

void TrainingWorker::setPaused(bool paused) {
    std::lock_guard lock(m_mutex);
    m_pauseRequested = paused;
    if (m_trainer) m_trainer->setPaused(paused);
}

void TrainingWorker::step() {
    std::lock_guard lock(m_mutex);
    if (m_trainer) m_trainer->stepWhilePaused(1);
    else ++m_pendingSteps;
}

void TrainingWorker::requestChange(const engine::LiveChange& change) {
    std::lock_guard lock(m_mutex);
    if (m_trainer) m_trainer->requestChange(change);
    else m_pendingChanges.push_back(change);
}

void TrainingWorker::run() {
    try {
        engine::validate(m_config.train, *m_data);  // before the run folder is created
        std::unique_ptr<RunWriter> writer;
        engine::TrainOptions options = m_config.train;
        if (!m_runFolder.isEmpty()) {
            writer = std::make_unique<RunWriter>(m_runFolder, m_config, QString::fromStdString(m_data->folder.string()));
            writer->writePast(std::exchange(m_past, {}));
            options.checkpointFolder = m_runFolder.toStdString();
        }
        std::vector<engine::MetricsSink*> sinks{this};
        if (writer) sinks.insert(sinks.begin(), writer.get());
        TeeSink tee(sinks);
        engine::Trainer trainer(*m_data, options, tee);
        // Declared after the trainer, so destroyed before it, also when run() throws: the GUI thread can
        // never reach a destroyed trainer through m_trainer.
        struct Unpublish {
            TrainingWorker* self;
            ~Unpublish() {
                std::lock_guard lock(self->m_mutex);
                self->m_trainer = nullptr;
            }
        } unpublish{this};
        {
            std::lock_guard lock(m_mutex);
            m_trainer = &trainer;
            if (m_stopRequested) trainer.requestStop();
            trainer.setPaused(m_pauseRequested);
            trainer.stepWhilePaused(std::exchange(m_pendingSteps, 0));
            for (const engine::LiveChange& c : std::exchange(m_pendingChanges, {})) {
                try {
                    trainer.requestChange(c);
                } catch (const std::exception& e) {  // checked by the controller already; report, do not abort
                    engine::ChangeRecord r;
                    r.applied = false;
                    r.description = e.what();
                    onChange(r);
                }
            }
        }
        m_lastFlush = m_rateStart = Clock::now();
        trainer.run();
    } catch (const std::exception& e) {
        flush(true);
        Q_EMIT failed(QString::fromStdString(e.what()));
    }
    Q_EMIT done();
}

void TrainingWorker::flush(bool force) {
    const auto now = Clock::now();
    if (!force && now - m_lastFlush < kFlushInterval) return;
    m_lastFlush = now;
    // Throughput over the last second or so, for the status bar.
    const double seconds = std::chrono::duration<double>(now - m_rateStart).count();
    if (seconds > 0.5) {
        m_pending.samplesPerSecond = double(m_rateSamples) / seconds;
        m_rateStart = now;
        m_rateSamples = 0;
    }
    if (!m_pending.started && m_pending.steps.empty() && m_pending.evals.empty() && m_pending.probes.empty() &&
        m_pending.landscape.empty() && m_pending.predictions.empty() && m_pending.changes.empty() &&
        !m_pending.finished)
        return;
    Q_EMIT batchReady(std::exchange(m_pending, MetricsBatch{}));
}

void TrainingWorker::onStart(const engine::RunInfo& info) {
    m_pending.started = info;
    flush(true);
}

void TrainingWorker::onStep(const engine::StepRecord& r) {
    m_rateSamples += r.samples - m_lastSamples;
    m_lastSamples = r.samples;
    m_pending.steps.push_back(r);
    flush(false);
}

void TrainingWorker::onEval(const engine::EvalRecord& r) {
    m_pending.evals.push_back(r);
    flush(false);
}

void TrainingWorker::onPredictions(const engine::PredictionRecord& p) {
    // Memory stays bounded when evaluations come faster than batches: an older record of the split keeps its
    // confusion matrix only.
    for (engine::PredictionRecord& older : m_pending.predictions)
        if (older.confusion.split == p.confusion.split) older.predictions = {};
    m_pending.predictions.push_back(p);
    flush(false);
}

void TrainingWorker::onProbe(const engine::ProbeSnapshot& p) {
    m_pending.probes.push_back(p);
    flush(false);
}

void TrainingWorker::onLandscape(const engine::LandscapeRecord& l) {
    m_pending.landscape.push_back(l);
    flush(false);
}

void TrainingWorker::onChange(const engine::ChangeRecord& c) {
    m_pending.changes.push_back(c);
    flush(true);  // rare, and the window should show it at once
}

void TrainingWorker::onPause() { flush(true); }

void TrainingWorker::onFinish(const engine::RunSummary& s) {
    m_pending.finished = s;
    flush(true);
}

RunController::RunController(QObject* parent) : QObject(parent) {
    qRegisterMetaType<bnlab::app::MetricsBatch>();
    qRegisterMetaType<bnlab::app::RunState>();
}

RunController::~RunController() { shutDown(); }

void RunController::shutDown() {
    if (!m_thread) return;
    m_worker->requestStop();
    m_worker->setPaused(false);
    m_thread.reset();  // quit() + wait(): the worker finishes its current step and returns
    m_worker = nullptr;
    ++m_generation;    // what the old worker still has queued is dropped
}

void RunController::start(const RunConfig& config, std::shared_ptr<const engine::Dataset> data, const QString& name,
                          const QString& runFolder, bool paused, const RunData& past) {
    shutDown();
    m_run = RunData{};
    m_run.name = name;
    m_run.config = config;
    // Where this run resumes from is how it is launched, not one of its settings: a twin, a duplicate, a seed
    // or a fork of this run must not start from the same checkpoint.
    m_run.config.train.resumeFrom.clear();
    m_run.config.train.resumeState.reset();
    m_run.current = m_run.config;
    m_run.dataset = QString::fromStdString(data->name);
    m_run.state = paused ? RunState::Paused : RunState::Running;
    MetricsBatch history;
    history.steps = past.steps;
    history.evals = past.evals;
    history.probes = past.probes;
    history.changes = past.changes;
    history.landscape = past.landscape;
    for (const engine::ConfusionRecord& c : past.confusions) history.predictions.push_back({c, {}});  // matrices only
    m_run.append(std::move(history));

    m_thread.reset(new QThread);
    m_worker = new TrainingWorker(std::move(data), config, runFolder, past);
    m_worker->setPaused(paused);
    m_worker->moveToThread(m_thread.get());
    connect(m_thread.get(), &QThread::started, m_worker, &TrainingWorker::run);
    connect(m_thread.get(), &QThread::finished, m_worker, &QObject::deleteLater);
    // Records queued by an earlier worker that arrive after a restart belong to the old run: drop them.
    // (A generation number, not the worker's address, which a new worker may reuse.)
    const quint64 generation = ++m_generation;
    connect(m_worker, &TrainingWorker::batchReady, this, [this, generation](MetricsBatch batch) {
        if (generation == m_generation) onBatch(std::move(batch));
    }, Qt::QueuedConnection);
    connect(m_worker, &TrainingWorker::failed, this, [this, generation](const QString& message) {
        if (generation != m_generation) return;
        m_run.error = message;
        m_run.state = RunState::Finished;
        Q_EMIT failed(message);
        Q_EMIT stateChanged(m_run.state);
    }, Qt::QueuedConnection);
    connect(m_worker, &TrainingWorker::done, this, [this, generation] {
        if (generation != m_generation) return;
        // The run is over: let the thread end (joining is immediate now) so a new run can start cleanly.
        m_thread.reset();
        m_worker = nullptr;
        Q_EMIT threadEnded();
    }, Qt::QueuedConnection);
    m_thread->start();
    Q_EMIT stateChanged(m_run.state);
}

void RunController::setPaused(bool paused) {
    if (!m_thread || m_run.state == RunState::Finished) return;
    m_worker->setPaused(paused);
    m_run.state = paused ? RunState::Paused : RunState::Running;
    Q_EMIT stateChanged(m_run.state);
}

void RunController::step() {
    if (!m_worker || m_run.state == RunState::Finished) return;
    if (m_run.state != RunState::Paused) setPaused(true);
    m_worker->step();
}

void RunController::reset() {
    shutDown();
    m_run = RunData{};
    Q_EMIT stateChanged(m_run.state);
    Q_EMIT updated();
}

void RunController::showSaved(RunData run) {
    shutDown();
    m_run = std::move(run);
    m_run.state = RunState::Finished;
    Q_EMIT stateChanged(m_run.state);
    Q_EMIT updated();
}

void RunController::stop() {
    if (m_worker) m_worker->requestStop();
    if (m_worker) m_worker->setPaused(false);
}

void RunController::requestChange(const engine::LiveChange& change) {
    if (!m_worker || m_run.state == RunState::Finished) throw Error("no run is going: the change applies to the next run");
    // The same checks the trainer makes at once, before the change is queued.
    engine::Trainer::checkChange(change, m_run.current.train);
    m_worker->requestChange(change);
}

void RunController::onBatch(MetricsBatch batch) {
    QStringList refused;
    for (const engine::ChangeRecord& c : batch.changes)
        if (!c.applied) refused << QString::fromStdString(c.description);
    const bool finished = batch.finished.has_value();
    m_run.append(std::move(batch));
    Q_EMIT updated();
    for (const QString& message : refused) Q_EMIT changeRefused(message);
    if (finished) Q_EMIT stateChanged(m_run.state);
}

}  // namespace bnlab::app
