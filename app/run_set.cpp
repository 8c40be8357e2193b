#include "run_set.h"

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
                  const QString& runFolder, bool paused, int group) {
    if (activeCount() >= kMaxActive)
        throw Error(std::to_string(kMaxActive) +
                    " runs are training already: stop one first (each takes memory and a share of the cores)");
    Entry& e = add();
    e.group = group;
    e.folder = runFolder;
    const int id = e.id;
    Q_EMIT added(id);
    e.controller->start(config, std::move(data), name, runFolder, paused);
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

}  // namespace bnlab::app
