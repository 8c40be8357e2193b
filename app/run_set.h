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
    // past: records the run starts with (RunController::start).
    int start(const RunConfig& config, std::shared_ptr<const engine::Dataset> data, const QString& name,
              const QString& runFolder, bool paused = false, int group = 0, const RunData& past = {});
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
// deterministic (the tests prove parallel = serial, bit for bit), so a branch trained from step 0 with this
// configuration shares the parent's first `step` steps exactly. Throws ConfigError naming what is wrong: a step
// outside 1 .. the parent's last step, a bad change.
[[nodiscard]] RunConfig forkConfig(const RunData& parent, long step, const QStringList& changes);

// How a branch starts: from the latest of the parent's checkpoints at or before the fork step (engine/checkpoint.h),
// replaying only the steps after it, with the parent's records up to it copied, so that its charts show the
// shared past. A checkpoint that cannot be read or does not belong to the parent is passed over for the one
// before it, and with none the branch replays from step 0: the result is the same, only slower, and `note` says
// which checkpoint is used and why others were not.
struct ForkPlan {
    RunConfig config;       // forkConfig(); config.train.resumeFrom is the checkpoint, if one is used
    long resumeStep = 0;    // the checkpoint's step (0: none, the branch replays from the start)
    RunData past;           // the parent's records the branch starts with: steps 1..resumeStep, their
                            // evaluations and probes, the changes applied before resumeStep
    QString note;           // for people: "continues from the checkpoint of step 120, replays steps 121..150"
};
// parentFolder: where the parent is saved (empty: not saved, so no checkpoints). Throws as forkConfig.
[[nodiscard]] ForkPlan planFork(const RunData& parent, const QString& parentFolder, long step,
                                const QStringList& changes);

}  // namespace bnlab::app
