#pragma once

// The loss-landscape measures of a run over training (engine/landscape.h, recorded every landscape_interval
// steps), as Santurkar et al. (2018) draw them: the range of the loss along the gradient as a band, gradient
// predictiveness and effective β-smoothness as lines (log scale), and internal covariate shift per weight layer
// (the L2 distance, log scale, or the cosine between a layer's gradient before and after the earlier layers'
// update). One run (a line per weight layer for ICS) or several runs on shared axes, each in its colour.

#include "chart_style.h"
#include "compare_charts.h"
#include "run_data.h"

#include <QStringList>
#include <QWidget>

#include <vector>

namespace bnlab::ui {

enum class LandscapeMeasure { LossRange, Predictiveness, BetaSmoothness, Shift, ShiftCosine };

// "loss-landscape", "gradient-predictiveness", "beta-smoothness", "ics", "ics-cosine", in LandscapeMeasure order.
[[nodiscard]] const QStringList& landscapeChartNames();
[[nodiscard]] QString landscapeChartTitle(LandscapeMeasure measure);  // for selectors: "Loss along the gradient"

class LandscapeChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(LandscapeChart)

public:
    explicit LandscapeChart(QWidget* parent = nullptr);

    // All take effect at the next refresh(). layer: ICS of one weight layer ("dense2"); empty: every weight layer.
    void setMeasure(LandscapeMeasure measure);
    [[nodiscard]] LandscapeMeasure measure() const { return m_measure; }
    void setLayer(const QString& layer);
    void setXAxis(XAxis axis);
    void refresh(const app::RunData& run);
    void refresh(const std::vector<ComparedRun>& runs);
    // The weight layers the runs' measures name, in network order (for a selector and for checking a request).
    [[nodiscard]] static QStringList layers(const std::vector<ComparedRun>& runs);
    [[nodiscard]] QChart* chart() const { return m_chart; }

private:
    void draw(const std::vector<ComparedLine>& lines, bool single);

    QChart* m_chart = nullptr;
    QValueAxis* m_x = nullptr;
    QAbstractAxis* m_y = nullptr;  // a QValueAxis (loss, cosine) or a QLogValueAxis (the others)
    LegendLabel* m_legend = nullptr;
    LandscapeMeasure m_measure = LandscapeMeasure::LossRange;
    QString m_layer;
    XAxis m_xAxis = XAxis::Step;
    QString m_signature;
    std::vector<RunStamp> m_stamps;
};

}  // namespace bnlab::ui
