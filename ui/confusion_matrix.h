#pragma once

// The confusion matrix of one evaluation as a heat map: rows are the true class, columns the predicted one;
// each cell shows its count and its share of the row (row-normalised: of all the 4s, how many were called 9).
// The diagonal (right answers) is shaded in blue by that share, the mistakes in red relative to the most
// frequent mistake, so that the few mistakes that matter stand out next to a diagonal near 100%. A caption
// above names the split, the step and the accuracy (the trace over the total). Clicking a cell selects it
// (cellClicked); clicking it again clears the selection. Drawn with QPainter: 100 cells need no chart.

#include "metrics.h"
#include "run_data.h"

#include <QWidget>

#include <optional>
#include <string>
#include <utility>

namespace bnlab::ui {

class ConfusionMatrixView final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ConfusionMatrixView)

public:
    explicit ConfusionMatrixView(QWidget* parent = nullptr);

    // Shows record (copied; none: an explanation instead). A selection the new record still has stays.
    void setRecord(std::optional<engine::ConfusionRecord> record, const QString& emptyText = {});
    [[nodiscard]] const std::optional<engine::ConfusionRecord>& record() const { return m_record; }
    // For bnlab-cli plot and Export Chart: the latest confusion matrix of split ("validation" or "test";
    // empty: test when the run has it, else validation).
    void setSplit(const std::string& split) { m_split = split; }
    void refresh(const app::RunData& run);

    // The selected (true, predicted) cell, if any.
    [[nodiscard]] std::optional<std::pair<int, int>> selection() const { return m_selection; }
    void setSelection(std::optional<std::pair<int, int>> cell);
    // The cell under a point of the widget (true, predicted), and a cell's rectangle (for tests).
    [[nodiscard]] std::optional<std::pair<int, int>> cellAt(QPointF point) const;
    [[nodiscard]] QRectF cellRect(int trueClass, int predicted) const;

    [[nodiscard]] QSize sizeHint() const override { return {440, 470}; }
    [[nodiscard]] QSize minimumSizeHint() const override { return {260, 280}; }

Q_SIGNALS:
    // The user clicked a cell (selection set) or the selected cell again (selection cleared).
    void selectionChanged(std::optional<std::pair<int, int>> cell);

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    bool event(QEvent* event) override;  // tooltips

private:
    struct Geometry {
        QRectF grid;  // the cells
        double cell = 0;
    };
    [[nodiscard]] Geometry geometry() const;
    [[nodiscard]] QString caption() const;

    std::optional<engine::ConfusionRecord> m_record;
    std::optional<std::pair<int, int>> m_selection;
    std::string m_split;
    QString m_emptyText;
};

// "validation" or "test" for a request: split itself when given, else test when the run has it, else
// validation.
[[nodiscard]] std::string splitToShow(const app::RunData& run, const std::string& split);
// The latest confusion matrix of split in run, if any.
[[nodiscard]] std::optional<engine::ConfusionRecord> latestConfusion(const app::RunData& run,
                                                                     const std::string& split);

}  // namespace bnlab::ui
