#pragma once

// Loss and accuracy of a run, two charts side by side: the training value of every step (thin, light), its
// moving average (bold), validation evaluations (line with markers) and the final test evaluation (a marker),
// with one legend under both.

#include "chart_style.h"
#include "run_data.h"

#include <QLineSeries>
#include <QScatterSeries>
#include <QWidget>

#include <memory>
#include <vector>

namespace bnlab::ui {

class LossChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LossChart)

public:
    explicit LossChart(QWidget* parent = nullptr);

    // Takes effect at the next refresh().
    void setXAxis(XAxis axis);
    [[nodiscard]] XAxis xAxis() const { return m_xAxis; }

    // The weight of the exponential moving average drawn over the training values, in [0, 1): 0 draws the
    // raw values again, 0.98 averages over about 50 steps, 0.999 over about 1000. Takes effect at the next refresh().
    void setSmoothing(double weight);
    // Which of the two charts are shown (both by default; an export may want one).
    void setPanels(bool loss, bool accuracy);
    [[nodiscard]] double smoothing() const { return m_smoothing; }

    // Redraws from run (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const app::RunData& run);

private:
    struct Panel {
        QChart* chart = nullptr;
        QValueAxis* x = nullptr;
        QValueAxis* y = nullptr;
        QLineSeries* train = nullptr;       // every step
        QLineSeries* average = nullptr;     // StepRecord's moving average
        QLineSeries* validation = nullptr;  // validation evaluations
        QScatterSeries* test = nullptr;     // the test evaluation, when there is one
        ChangeMarks* marks = nullptr;
    };
    Panel makePanel(const QString& yTitle);
    void fill(Panel& panel, const app::RunData& run, bool accuracy);

    Panel m_loss;
    Panel m_accuracy;
    LegendLabel* m_legend = nullptr;  // shared by both charts
    QWidget* m_lossView = nullptr;
    QWidget* m_accuracyView = nullptr;
    std::vector<std::unique_ptr<ChangeMarks>> m_marks;
    XAxis m_xAxis = XAxis::Step;
    double m_smoothing = 0.98;
    RunStamp m_stamp;
};

}  // namespace bnlab::ui
