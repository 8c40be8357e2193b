#include "run_list.h"

#include "chart_style.h"
#include "run_config.h"

#include <QColorDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QMenu>
#include <QPainter>
#include <QPixmap>
#include <QPushButton>
#include <QSlider>
#include <QTableWidget>
#include <QTreeWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <limits>

namespace bnlab::ui {
namespace {

enum Column { kName, kDiffers, kState, kProgress, kValidation, kTest, kColumns };

const app::RunSet::Entry* firstShown(const app::RunSet& runs) {
    for (const auto& e : runs.entries())
        if (e->shown) return e.get();
    return runs.entries().empty() ? nullptr : runs.entries().front().get();
}

QIcon swatch(const QColor& colour) {
    QPixmap pixmap(14, 14);
    pixmap.fill(Qt::transparent);
    QPainter p(&pixmap);
    p.setRenderHint(QPainter::Antialiasing);
    p.setBrush(colour);
    p.setPen(colour.darker(130));
    p.drawRoundedRect(QRectF(1.5, 1.5, 11, 11), 2, 2);
    return QIcon(pixmap);
}

QString stateText(const app::RunData& run) {
    switch (run.state) {
        case app::RunState::Idle: return QObject::tr("idle");
        case app::RunState::Running: return QObject::tr("running");
        case app::RunState::Paused: return QObject::tr("paused");
        case app::RunState::Finished: break;
    }
    if (!run.error.isEmpty()) return QObject::tr("failed");
    if (!run.summary) return QObject::tr("saved (interrupted)");
    switch (run.summary->reason) {
        case engine::StopReason::Completed: return QObject::tr("done");
        case engine::StopReason::MaxSteps: return QObject::tr("done (step limit)");
        case engine::StopReason::Stopped: return QObject::tr("stopped");
        case engine::StopReason::Diverged: return QObject::tr("diverged at step %1").arg(run.summary->divergedStep);
    }
    return {};
}

QString percent(double fraction) { return QString::number(100 * fraction, 'f', 2) + " %"; }

const engine::EvalRecord* lastEval(const app::RunData& run, const char* split, long atOrBefore) {
    const engine::EvalRecord* found = nullptr;
    for (const engine::EvalRecord& e : run.evals)
        if (e.split == split && e.step <= atOrBefore) found = &e;
    return found;
}

// A table cell that sorts by its number, not its text.
class NumberItem final : public QTableWidgetItem {
public:
    NumberItem(double value, const QString& text) : QTableWidgetItem(text) {
        setData(Qt::UserRole, value);
        setTextAlignment(Qt::AlignRight | Qt::AlignVCenter);
    }
    bool operator<(const QTableWidgetItem& other) const override {
        const QVariant a = data(Qt::UserRole), b = other.data(Qt::UserRole);
        if (a.isValid() && b.isValid()) return a.toDouble() < b.toDouble();
        return QTableWidgetItem::operator<(other);
    }
};

}  // namespace

QStringList differencesFromFirst(const app::RunSet& runs, int id) {
    const app::RunSet::Entry* first = firstShown(runs);
    const app::RunSet::Entry* entry = runs.find(id);
    if (!first || !entry || first == entry) return {};
    return app::settingDifferences(first->run().config, entry->run().config);
}

QString comparisonLabel(const app::RunSet& runs, int id) {
    const app::RunSet::Entry* entry = runs.find(id);
    if (!entry) return {};
    const QStringList d = differencesFromFirst(runs, id);
    return d.isEmpty() ? entry->run().name : entry->run().name + ": " + d.join(", ");
}

// --- RunList ----------------------------------------------------------------------------------------------

RunList::RunList(app::RunSet& runs, QWidget* parent) : QWidget(parent), m_runs(runs) {
    m_tree = new QTreeWidget(this);
    m_tree->setObjectName("runList");
    m_tree->setColumnCount(kColumns);
    m_tree->setHeaderLabels({tr("Run"), tr("Differs from the first run"), tr("State"), tr("Progress"),
                             tr("Validation"), tr("Test")});
    m_tree->setRootIsDecorated(false);
    m_tree->setUniformRowHeights(true);
    m_tree->setAlternatingRowColors(true);
    m_tree->setSelectionMode(QAbstractItemView::SingleSelection);
    m_tree->setContextMenuPolicy(Qt::CustomContextMenu);
    m_tree->setEditTriggers(QAbstractItemView::DoubleClicked | QAbstractItemView::EditKeyPressed);
    m_tree->header()->setStretchLastSection(false);
    m_tree->header()->setSectionResizeMode(kDiffers, QHeaderView::Stretch);
    for (int c : {kState, kProgress, kValidation, kTest}) m_tree->header()->setSectionResizeMode(c, QHeaderView::ResizeToContents);
    m_tree->setColumnWidth(kName, 260);
    m_tree->setToolTip(tr("Every run of this session and the ones you opened. Select one to see it on the Run tab and "
                          "to control it; tick the ones to compare; double-click a name to rename it; right-click "
                          "for more."));
    connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
        updateButtons();
        if (!m_filling) Q_EMIT currentChanged(item ? item->data(kName, Qt::UserRole).toInt() : 0);
    });
    connect(m_tree, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem* item, int column) {
        if (m_filling || column != kName) return;
        app::RunSet::Entry* e = m_runs.find(item->data(kName, Qt::UserRole).toInt());
        if (!e) return;
        const bool shown = item->checkState(kName) == Qt::Checked;
        const QString name = item->text(kName).trimmed();
        if (shown != e->shown || (!name.isEmpty() && name != e->run().name)) {
            e->shown = shown;
            if (!name.isEmpty()) e->controller->setName(name);
            Q_EMIT shownChanged();
        }
    });
    connect(m_tree, &QTreeWidget::customContextMenuRequested, this, &RunList::showMenu);

    auto button = [this](const QString& text, const QString& tip) {
        auto* b = new QPushButton(text, this);
        b->setToolTip(tip);
        return b;
    };
    QPushButton* add = button(tr("New Run"), tr("Set up another run in the configuration panel, then press Start: "
                                                "it trains beside the others (Ctrl+N)."));
    m_duplicate = button(tr("Duplicate with Change"),
                         tr("Copy the selected run's settings into the configuration panel: change what you want to "
                            "compare, then press Start."));
    m_toggleBn = button(tr("With / Without BN"),
                        tr("Start the selected run's twin at once: the same settings and seed, with Batch "
                           "Normalization removed (or, if it has none, placed before every activation)."));
    m_seeds = button(tr("Repeat with Seeds..."),
                     tr("Start the selected run again with other seeds: the comparison draws the group's mean and "
                        "its spread, so you can tell an effect from luck."));
    m_remove = button(tr("Remove"), tr("Stop the selected run if it trains and take it off the list. Its folder stays "
                                       "on disk (File › Open Run brings it back)."));
    connect(add, &QPushButton::clicked, this, &RunList::newRunRequested);
    connect(m_duplicate, &QPushButton::clicked, this, [this] { Q_EMIT duplicateRequested(current()); });
    connect(m_toggleBn, &QPushButton::clicked, this, [this] { Q_EMIT toggleBnRequested(current()); });
    connect(m_seeds, &QPushButton::clicked, this, [this] { Q_EMIT seedsRequested(current()); });
    connect(m_remove, &QPushButton::clicked, this, [this] { Q_EMIT removeRequested(current()); });

    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : {add, m_duplicate, m_toggleBn, m_seeds, m_remove}) buttons->addWidget(b);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(2);
    layout->addLayout(buttons);
    layout->addWidget(m_tree, 1);
    updateButtons();
}

QTreeWidgetItem* RunList::itemOf(int id) const {
    for (int i = 0; i < m_tree->topLevelItemCount(); ++i)
        if (m_tree->topLevelItem(i)->data(kName, Qt::UserRole).toInt() == id) return m_tree->topLevelItem(i);
    return nullptr;
}

int RunList::current() const {
    const QTreeWidgetItem* item = m_tree->currentItem();
    return item ? item->data(kName, Qt::UserRole).toInt() : 0;
}

void RunList::setCurrent(int id) {
    m_filling = true;
    m_tree->setCurrentItem(itemOf(id));
    m_filling = false;
    updateButtons();
}

void RunList::updateButtons() {
    const bool selected = m_runs.find(current()) != nullptr;
    for (QPushButton* b : {m_duplicate, m_toggleBn, m_seeds, m_remove}) b->setEnabled(selected);
}

void RunList::refresh() {
    m_filling = true;
    // Rows of runs that are gone.
    for (int i = m_tree->topLevelItemCount() - 1; i >= 0; --i)
        if (!m_runs.find(m_tree->topLevelItem(i)->data(kName, Qt::UserRole).toInt())) delete m_tree->takeTopLevelItem(i);
    for (const auto& e : m_runs.entries()) {
        QTreeWidgetItem* item = itemOf(e->id);
        if (!item) {
            item = new QTreeWidgetItem(m_tree);
            item->setData(kName, Qt::UserRole, e->id);
            item->setFlags(item->flags() | Qt::ItemIsUserCheckable | Qt::ItemIsEditable);
        }
        const app::RunData& run = e->run();
        auto set = [item](int column, const QString& text) {
            if (item->text(column) != text) item->setText(column, text);
        };
        if (m_tree->currentItem() != item || !m_tree->isPersistentEditorOpen(item, kName)) set(kName, run.name);
        item->setCheckState(kName, e->shown ? Qt::Checked : Qt::Unchecked);
        const QColor colour = QColor::fromRgb(e->colour);
        if (item->data(kName, Qt::DecorationRole).value<QIcon>().isNull() ||
            item->data(kName, Qt::UserRole + 1).toUInt() != e->colour) {
            item->setIcon(kName, swatch(colour));
            item->setData(kName, Qt::UserRole + 1, e->colour);
        }
        QStringList differs = differencesFromFirst(m_runs, e->id);
        if (e->group != 0) differs << tr("seed group %1").arg(e->group);
        set(kDiffers, differs.join(", "));
        item->setToolTip(kDiffers, differs.join("\n"));
        item->setToolTip(kName, e->folder.isEmpty() ? run.name : run.name + "\n" + e->folder);
        set(kState, run.error.isEmpty() ? stateText(run) : tr("failed: %1").arg(run.error));
        const long total = run.info.totalSteps;
        const long done = run.steps.empty() ? 0 : run.steps.back().step;
        set(kProgress, total > 0 ? QString("%1 / %2 steps").arg(done).arg(total) : QString::number(done));
        const engine::EvalRecord* val = lastEval(run, "validation", std::numeric_limits<long>::max());
        const engine::EvalRecord* test = lastEval(run, "test", std::numeric_limits<long>::max());
        set(kValidation, val ? percent(val->accuracy) : QString());
        set(kTest, test ? percent(test->accuracy) : QString());
    }
    m_filling = false;
    updateButtons();
}

void RunList::showMenu(const QPoint& pos) {
    QTreeWidgetItem* item = m_tree->itemAt(pos);
    if (!item) return;
    const int id = item->data(kName, Qt::UserRole).toInt();
    app::RunSet::Entry* e = m_runs.find(id);
    if (!e) return;
    const app::RunState state = e->run().state;
    const bool active = e->controller->isActive() && (state == app::RunState::Running || state == app::RunState::Paused);
    QMenu menu(this);
    menu.addAction(state == app::RunState::Paused ? tr("Resume") : tr("Pause"), this, [this, id] { Q_EMIT pauseRequested(id); })
        ->setEnabled(active);
    menu.addAction(tr("Stop"), this, [this, id] { Q_EMIT stopRequested(id); })->setEnabled(active);
    menu.addSeparator();
    menu.addAction(tr("Rename..."), this, [this, item] { m_tree->editItem(item, kName); });
    menu.addAction(tr("Colour..."), this, [this, id] {
        app::RunSet::Entry* entry = m_runs.find(id);
        if (!entry) return;
        const QColor c = QColorDialog::getColor(QColor::fromRgb(entry->colour), this, tr("Colour of %1").arg(entry->run().name));
        if (!c.isValid() || !m_runs.find(id)) return;
        m_runs.find(id)->colour = c.rgb() & 0xffffff;
        refresh();
        Q_EMIT shownChanged();
    });
    menu.addAction(e->shown ? tr("Hide from the Comparison") : tr("Show in the Comparison"), this, [this, id] {
        if (app::RunSet::Entry* entry = m_runs.find(id)) entry->shown = !entry->shown;
        refresh();
        Q_EMIT shownChanged();
    });
    menu.addSeparator();
    menu.addAction(m_duplicate->text(), this, [this, id] { Q_EMIT duplicateRequested(id); });
    menu.addAction(m_toggleBn->text(), this, [this, id] { Q_EMIT toggleBnRequested(id); });
    menu.addAction(m_seeds->text(), this, [this, id] { Q_EMIT seedsRequested(id); });
    menu.addAction(tr("Fork at Step..."), this, [this, id] { Q_EMIT forkRequested(id); })->setEnabled(!e->run().steps.empty());
    menu.addSeparator();
    menu.addAction(m_remove->text(), this, [this, id] { Q_EMIT removeRequested(id); });
    menu.exec(m_tree->viewport()->mapToGlobal(pos));
}

// --- RunTable ---------------------------------------------------------------------------------------------

RunTable::RunTable(const app::RunSet& runs, QWidget* parent) : QWidget(parent), m_runs(runs) {
    m_table = new QTableWidget(this);
    m_table->setObjectName("runTable");
    m_table->setSortingEnabled(true);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setToolTip(tr("Read every run at one step: each column then shows the last value at or before it. "
                            "All the way right: the final values."));
    m_stepLabel = new QLabel(this);
    m_stepLabel->setMinimumWidth(140);
    connect(m_slider, &QSlider::valueChanged, this, [this] {
        m_signature.clear();
        refresh();
    });
    auto* row = new QHBoxLayout;
    row->addWidget(new QLabel(tr("Values at"), this));
    row->addWidget(m_slider, 1);
    row->addWidget(m_stepLabel);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(row);
    layout->addWidget(m_table, 1);
}

void RunTable::refresh() {
    // The settings that differ between runs become columns, in the order of configKeys().
    QStringList keys;
    if (!m_runs.entries().empty()) {
        for (const app::ConfigKey& k : app::configKeys()) {
            if (k.name.contains(".N.")) continue;
            const QString first = app::settingValue(m_runs.entries().front()->run().config, k.name);
            for (const auto& e : m_runs.entries())
                if (app::settingValue(e->run().config, k.name) != first) {
                    keys << k.name;
                    break;
                }
        }
    }
    long maxStep = 0;
    for (const auto& e : m_runs.entries())
        if (!e->run().steps.empty()) maxStep = std::max(maxStep, e->run().steps.back().step);
    {
        const QSignalBlocker block(m_slider);
        const bool atEnd = m_slider->value() == m_slider->maximum();
        m_slider->setRange(1, int(std::max(1L, maxStep)));
        if (atEnd) m_slider->setValue(m_slider->maximum());
    }
    const long at = m_slider->value() >= m_slider->maximum() ? std::numeric_limits<long>::max() : m_slider->value();
    m_stepLabel->setText(at == std::numeric_limits<long>::max() ? tr("the end (final values)") : tr("step %1").arg(at));

    QString signature = keys.join(",") + QString::number(at);
    for (const auto& e : m_runs.entries()) {
        const RunStamp s = stampOf(e->run(), 0);
        signature += QString("%1:%2:%3:%4:%5;").arg(e->id).arg(s.steps).arg(s.evals).arg(e->run().name).arg(int(e->run().state));
    }
    if (signature == m_signature) return;
    m_signature = signature;

    const QStringList results = {tr("steps"), tr("epochs"), tr("training loss (avg)"), tr("validation loss"),
                                 tr("validation accuracy"), tr("best validation"), tr("test accuracy"), tr("time (s)"),
                                 tr("samples/s"), tr("state")};
    const int sortColumn = m_table->horizontalHeader()->sortIndicatorSection();
    const Qt::SortOrder order = m_table->horizontalHeader()->sortIndicatorOrder();
    m_table->setSortingEnabled(false);
    m_table->clear();
    m_table->setColumnCount(int(1 + keys.size() + results.size()));
    m_table->setRowCount(int(m_runs.entries().size()));
    m_table->setHorizontalHeaderLabels(QStringList{tr("run")} + keys + results);
    int row = 0;
    for (const auto& e : m_runs.entries()) {
        const app::RunData& run = e->run();
        int col = 0;
        auto* name = new QTableWidgetItem(swatch(QColor::fromRgb(e->colour)), run.name);
        m_table->setItem(row, col++, name);
        for (const QString& k : keys) m_table->setItem(row, col++, new QTableWidgetItem(app::settingValue(run.config, k)));
        const engine::StepRecord* step = nullptr;
        for (const engine::StepRecord& s : run.steps)
            if (s.step <= at) step = &s;
            else break;
        const engine::EvalRecord* val = lastEval(run, "validation", at);
        const engine::EvalRecord* test = lastEval(run, "test", at);
        double best = -1;
        for (const engine::EvalRecord& v : run.evals)
            if (v.split == "validation" && v.step <= at) best = std::max(best, v.accuracy);
        auto number = [&](bool has, double value, const QString& text) {
            m_table->setItem(row, col++, has ? new NumberItem(value, text) : new QTableWidgetItem());
        };
        number(step, step ? double(step->step) : 0, step ? QString::number(step->step) : QString());
        number(step, step ? step->epoch : 0, step ? QString::number(step->epoch, 'f', 2) : QString());
        number(step, step ? step->lossEma : 0, step ? QString::number(step->lossEma, 'f', 4) : QString());
        number(val, val ? val->loss : 0, val ? QString::number(val->loss, 'f', 4) : QString());
        number(val, val ? val->accuracy : 0, val ? percent(val->accuracy) : QString());
        number(best >= 0, best, best >= 0 ? percent(best) : QString());
        number(test, test ? test->accuracy : 0, test ? percent(test->accuracy) : QString());
        number(step, step ? step->seconds : 0, step ? QString::number(step->seconds, 'f', 1) : QString());
        const double rate = step && step->seconds > 0 ? double(step->samples) / step->seconds : 0;
        number(rate > 0, rate, rate > 0 ? QString::number(rate, 'f', 0) : QString());
        m_table->setItem(row, col++, new QTableWidgetItem(stateText(run)));
        ++row;
    }
    m_table->setSortingEnabled(true);
    if (sortColumn >= 0 && sortColumn < m_table->columnCount()) m_table->sortByColumn(sortColumn, order);
    m_table->resizeColumnsToContents();
}

}  // namespace bnlab::ui
