#pragma once

// The runs of the session, as a list in a dock (RunList) and as a sortable table of settings and results
// (RunTable). Each row: a tick (drawn in the comparison), the run's colour and name (both editable), what
// it sets differently from the first run, its state, progress and accuracies. The selected row is the
// current run: the one the dashboard, the configuration panel and the toolbar act on.

#include "run_set.h"

#include <QColor>
#include <QWidget>

#include <vector>

class QTableWidget;
class QTreeWidget;
class QTreeWidgetItem;
class QPushButton;
class QSlider;
class QLabel;

namespace bnlab::ui {

// The first shown run's start configuration is what the others are compared with.
[[nodiscard]] QStringList differencesFromFirst(const app::RunSet& runs, int id);
// "keras-cnn 20261125-101500: BN after → none, batch 128 → 8" (the name alone for the first run).
[[nodiscard]] QString comparisonLabel(const app::RunSet& runs, int id);

class RunList final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunList)

public:
    RunList(app::RunSet& runs, QWidget* parent);

    // Brings the rows up to date with the set (names, states, progress, accuracies). Call at a bounded rate.
    void refresh();
    void setCurrent(int id);  // selects its row (0: none)
    [[nodiscard]] int current() const;
    [[nodiscard]] QTreeWidget* tree() const { return m_tree; }

Q_SIGNALS:
    void currentChanged(int id);   // the user selected another run (0: none)
    void shownChanged();           // a tick, a colour or a name changed: redraw the comparison
    void newRunRequested();
    void duplicateRequested(int id);
    void toggleBnRequested(int id);
    void seedsRequested(int id);
    void forkRequested(int id);
    void removeRequested(int id);
    void pauseRequested(int id);   // pause or resume
    void stopRequested(int id);

private:
    void showMenu(const QPoint& pos);
    void updateButtons();
    [[nodiscard]] QTreeWidgetItem* itemOf(int id) const;

    app::RunSet& m_runs;
    QTreeWidget* m_tree = nullptr;
    QPushButton* m_duplicate = nullptr;
    QPushButton* m_toggleBn = nullptr;
    QPushButton* m_seeds = nullptr;
    QPushButton* m_remove = nullptr;
    bool m_filling = false;  // itemChanged from refresh(), not from the user
};

// Every run in a row with the settings that differ between runs and the results, sortable by any column.
// The step slider reads every run's values at one step (the last value at or before it) instead of the final.
class RunTable final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(RunTable)

public:
    RunTable(const app::RunSet& runs, QWidget* parent);
    void refresh();
    [[nodiscard]] QTableWidget* table() const { return m_table; }
    [[nodiscard]] QSlider* stepSlider() const { return m_slider; }

private:
    const app::RunSet& m_runs;
    QTableWidget* m_table = nullptr;
    QSlider* m_slider = nullptr;
    QLabel* m_stepLabel = nullptr;
    QString m_signature;
};

}  // namespace bnlab::ui
