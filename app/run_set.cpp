#include "run_set.h"

#include "checkpoint.h"
#include "error.h"
#include "trainer.h"

#include <algorithm>
#include <string>

namespace bnlab::app {

RunSet::RunSet(QObject* parent) : QObject(parent) {}

// Each controller joins its thread when destroyed (at most one step); so do removed runs still stopping,
// which are children of the set.
RunSet::~RunSet() = default;

RunSet::Entry& RunSet::add() {
    auto entry = std::make_unique<Entry>();
    entry->id = ++m_lastId;
    entry->controller = std::make_unique<RunController>();
    RunController* c = entry->controller.get();
    const int id = entry->id;
    connect(c, &RunController::updated, this, [this, id] { Q_EMIT updated(id); });
    connect(c, &RunController::stateChanged, this, [this, id] { Q_EMIT stateChanged(id); });
    connect(c, &RunController::failed, this, [this, id](const QString& message) { Q_EMIT failed(id, message); });
    connect(c, &RunController::changeRefused, this,
            [this, id](const QString& message) { Q_EMIT changeRefused(id, message); });
    m_entries.push_back(std::move(entry));
    return *m_entries.back();
}

int RunSet::start(const RunConfig& config, std::shared_ptr<const engine::Dataset> data, const QString& name,
                  const QString& runFolder, bool paused, int group, const RunData& past) {
    // Removed runs still ending their step count too: their threads and memory are not free yet.
    if (const int stopping = stoppingCount(); activeCount() + stopping >= kMaxActive)
        throw Error(std::to_string(kMaxActive) + " runs are training already" +
                    (stopping > 0 ? " (" + std::to_string(stopping) + " of them removed and ending their step)" : "") +
                    ": stop one first (each takes memory and a share of the cores)");
    Entry& e = add();
    e.group = group;
    e.folder = runFolder;
    const int id = e.id;
    Q_EMIT added(id);
    e.controller->start(config, std::move(data), name, runFolder, paused, past);
    return id;
}

int RunSet::addSaved(RunData run, const QString& folder) {
    Entry& e = add();
    e.folder = folder;
    e.controller->showSaved(std::move(run));
    Q_EMIT added(e.id);
    return e.id;
}

void RunSet::remove(int id) {
    const auto it = std::find_if(m_entries.begin(), m_entries.end(), [id](const auto& e) { return e->id == id; });
    if (it == m_entries.end()) return;
    std::unique_ptr<Entry> gone = std::move(*it);
    m_entries.erase(it);
    RunController* c = gone->controller.release();
    c->disconnect(this);
    c->stop();
    if (c->isActive()) {
        // The GUI thread does not wait for the step in progress: the controller goes when its thread has ended.
        c->setParent(this);
        c->setObjectName(QStringLiteral("stopping"));
        connect(c, &RunController::threadEnded, c, &QObject::deleteLater);
    } else {
        delete c;
    }
    Q_EMIT removed(id);
}

int RunSet::stoppingCount() const {
    return int(findChildren<RunController*>(QStringLiteral("stopping"), Qt::FindDirectChildrenOnly).size());
}

void RunSet::stopAll() {
    for (const auto& e : m_entries) e->controller->stop();
}

RunSet::Entry* RunSet::find(int id) {
    for (const auto& e : m_entries)
        if (e->id == id) return e.get();
    return nullptr;
}

const RunSet::Entry* RunSet::find(int id) const { return const_cast<RunSet*>(this)->find(id); }

int RunSet::activeCount() const {
    return int(std::count_if(m_entries.begin(), m_entries.end(), [](const auto& e) {
        return e->controller->isActive() &&
               (e->run().state == RunState::Running || e->run().state == RunState::Paused);
    }));
}

RunConfig forkConfig(const RunData& parent, long step, const QStringList& changes) {
    const long last = parent.steps.empty() ? 0 : parent.steps.back().step;
    if (step < 1 || step > last)
        throw ConfigError("fork: step " + std::to_string(step) + " is not in the run (it has steps 1.." +
                          std::to_string(last) + ")");
    RunConfig config = parent.config;
    config.train.resumeFrom.clear();  // a fork of a fork starts from its own plan, never from its parent's checkpoint
    config.train.resumeState.reset();
    config.train.schedule.clear();
    for (const engine::ChangeRecord& c : parent.changes)
        if (c.applied && c.step < step)
            addScheduledChange(config, QString("%1:%2=%3").arg(c.step).arg(QString::fromStdString(c.key), QString::fromStdString(c.value)));
    for (const QString& change : changes) {
        addScheduledChange(config, QString("%1:%2").arg(step).arg(change.trimmed()));
        engine::Trainer::checkChange(config.train.schedule.back().change, config.train);  // a negative rate, ...
    }
    return config;
}

namespace {

// The parent's records that come before its checkpoint of `step`: the evaluations up to the checkpoint's latest
// validation (a run cut mid-epoch evaluates once more after its last checkpoint), the changes applied before it
// (those at `step` come after the checkpoint, and the branch applies them from its plan).
RunData pastOf(const RunData& parent, long step, long lastValidation) {
    RunData past;
    for (const engine::StepRecord& s : parent.steps)
        if (s.step <= step) past.steps.push_back(s);
    for (const engine::EvalRecord& e : parent.evals)
        if (e.split == "validation" && e.step <= lastValidation) past.evals.push_back(e);
    for (const engine::ProbeSnapshot& p : parent.probes)
        if (p.step <= step) past.probes.push_back(p);
    for (const engine::ChangeRecord& c : parent.changes)
        if (c.applied && c.step < step) past.changes.push_back(c);
    for (const engine::LandscapeRecord& l : parent.landscape)
        if (l.step <= step) past.landscape.push_back(l);
    // The confusion matrices of those evaluations; the per-sample predictions come with the branch's next one.
    for (const engine::ConfusionRecord& c : parent.confusions)
        if (c.split == "validation" && c.step <= lastValidation) past.confusions.push_back(c);
    return past;
}

}  // namespace

ForkPlan planFork(const RunData& parent, const QString& parentFolder, long step, const QStringList& changes) {
    ForkPlan plan;
    plan.config = forkConfig(parent, step, changes);
    QStringList skipped;
    std::vector<std::pair<long, std::filesystem::path>> checkpoints;
    if (!parentFolder.isEmpty()) checkpoints = engine::listCheckpoints(parentFolder.toStdString());
    for (auto it = checkpoints.rbegin(); it != checkpoints.rend(); ++it) {
        const auto& [at, file] = *it;
        if (at > step) continue;
        try {
            auto state = std::make_shared<const engine::Checkpoint>(engine::readCheckpoint(file));
            const engine::Checkpoint& c = *state;
            const auto record = std::find_if(parent.steps.begin(), parent.steps.end(),
                                             [&](const engine::StepRecord& s) { return s.step == at; });
            if (c.loop.step != at || record == parent.steps.end() || record->samples != c.loop.samples)
                throw Error(file.string() + ": the checkpoint does not match the run's records at step " +
                            std::to_string(at));
            engine::TrainOptions check = plan.config.train;  // seed, split, optimizer, blocks
            engine::applyCheckpointSettings(c, check, parent.info.trainSamples, file.string());
            plan.config.train.resumeFrom = file;
            plan.config.train.resumeState = std::move(state);  // the branch does not read the file again
            plan.resumeStep = at;
            plan.past = pastOf(parent, at, c.loop.lastValidationStep);
            break;
        } catch (const std::exception& e) {
            skipped << QString::fromStdString(e.what());
        }
    }
    plan.note = plan.resumeStep > 0
                    ? QString("continues from the checkpoint of step %1").arg(plan.resumeStep) +
                          (plan.resumeStep < step ? QString(", replays steps %1..%2").arg(plan.resumeStep + 1).arg(step)
                                                  : QString())
                    : QString("replays steps 1..%1 (%2)")
                          .arg(step)
                          .arg(parentFolder.isEmpty() ? "the run is not saved, so it has no checkpoints"
                                                      : "no usable checkpoint at or before that step");
    if (!skipped.isEmpty()) plan.note += "; passed over: " + skipped.join("; ");
    return plan;
}

}  // namespace bnlab::app
