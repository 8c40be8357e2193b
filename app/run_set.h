#pragma once

// The runs of a session, for comparing them: any number of runs, each a RunController with its own training
// thread, training at the same time (they share the cores through oneTBB's one worker pool: each run's arena
// gets its turn, none starves), plus saved runs opened from disk. Each run has a stable id, a colour and a
// "shown" flag (whether the comparison charts draw it); runs made with "repeat with seeds" share a group.
//
// Every run is independent: its results do not depend on what else trains (the engine's results do not
// depend on the number of threads), so a run trained beside three others equals the same run trained alone.

#include "run_controller.h"

#include <QObject>
#include <QString>

#include <memory>
#include <vector>

namespace bnlab::app {

class RunSet final : public QObject {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunSet)

public:
    // Runs that may train at the same time; more are refused (each takes memory and a share of the cores).
    static constexpr int kMaxActive = 8;

    struct Entry {
        int id = 0;
        std::unique_ptr<RunController> controller;
        quint32 colour = 0;  // 0xRRGGBB; set by the window when the run is added
        bool shown = true;   // drawn in the comparison charts
        int group = 0;       // runs repeated with other seeds share a group id (0: none)
        QString folder;      // where the run is saved (empty: not saved)
        [[nodiscard]] const RunData& run() const { return controller->run(); }
    };

    explicit RunSet(QObject* parent = nullptr);
    ~RunSet() override;

    // Starts a run beside the others and returns its id. Throws Error when kMaxActive runs are already
    // training.
    int start(const RunConfig& config, std::shared_ptr<const engine::Dataset> data, const QString& name,
              const QString& runFolder, bool paused = false, int group = 0);
    // Adds a saved run (loadRun) and returns its id.
    int addSaved(RunData run, const QString& folder);
    // Stops the run (its folder stays, with the summary of a stopped run) and forgets it. Does not wait: the
    // run's thread ends its current step in the background and the controller is deleted when it has.
    void remove(int id);
    // Removed runs whose thread is still ending its last step (for tests).
    [[nodiscard]] int stoppingCount() const;
    void stopAll();

    [[nodiscard]] Entry* find(int id);
    [[nodiscard]] const Entry* find(int id) const;
    [[nodiscard]] const std::vector<std::unique_ptr<Entry>>& entries() const { return m_entries; }
    [[nodiscard]] int activeCount() const;  // running or paused
    [[nodiscard]] int newGroup() { return ++m_lastGroup; }

Q_SIGNALS:
    void added(int id);
    void removed(int id);
    void updated(int id);  // new records of a run
    void stateChanged(int id);
    void failed(int id, QString message);
    void changeRefused(int id, QString message);

private:
    Entry& add();

    std::vector<std::unique_ptr<Entry>> m_entries;
    int m_lastId = 0;
    int m_lastGroup = 0;
};

// A branch of parent at `step`: the parent's start configuration, its applied changes before `step` as planned
// changes, and `changes` (KEY=VALUE, the keys that can change during a run) planned after `step`. Training is
// deterministic (the tests prove parallel = serial, bit for bit), so the branch's first `step` steps are
// the parent's exactly; it replays them rather than loading a saved state. Throws ConfigError naming what is
// wrong: a step outside 1 .. the parent's last step, a bad change.
[[nodiscard]] RunConfig forkConfig(const RunData& parent, long step, const QStringList& changes);

}  // namespace bnlab::app
