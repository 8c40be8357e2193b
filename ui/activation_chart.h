#pragma once

// The distribution of one block's activations over training, as in Figure 1 of the BN paper and
// TensorBoard's distributions: nested percentile bands 0-100, 2-98 and 15-85 (darker inside) with the
// median as a line; beside it the histogram of the latest probe. Pre-activation is the input of the
// nonlinearity (the BN output when BN comes before it), post-activation its output.

#include "chart_style.h"
#include "run_data.h"

#include <QAreaSeries>
#include <QLineSeries>
#include <QWidget>

#include <memory>
#include <vector>

#include <array>

namespace bnlab::ui {

class ActivationChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivationChart)

public:
    explicit ActivationChart(QWidget* parent = nullptr);

    // All take effect at the next refresh(). index is into ProbeSnapshot::activations.
    void setBlock(int index);
    [[nodiscard]] int block() const { return m_block; }
    void setPostActivation(bool post);
    [[nodiscard]] bool postActivation() const { return m_post; }
    void setXAxis(XAxis axis);
    [[nodiscard]] XAxis xAxis() const { return m_xAxis; }

    // Redraws from run (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const app::RunData& run);

private:
    void fillBands(const app::RunData& run);
    void fillHistogram(const app::RunData& run);
    [[nodiscard]] const engine::Distribution* distribution(const engine::ProbeSnapshot& snapshot) const;
    [[nodiscard]] QString blockName(const app::RunData& run) const;
    [[nodiscard]] QString placeholder(const app::RunData& run) const;  // why there is nothing to show

    QChart* m_bandsChart = nullptr;
    QValueAxis* m_bandsX = nullptr;
    QValueAxis* m_bandsY = nullptr;
    std::array<Band, 3> m_bands;  // 0-100, 2-98, 15-85 percentiles
    QLineSeries* m_median = nullptr;
    LegendLabel* m_legend = nullptr;

    QChart* m_histogramChart = nullptr;
    QValueAxis* m_histogramX = nullptr;
    QValueAxis* m_histogramY = nullptr;
    Band m_histogram;

    int m_block = 0;
    bool m_post = false;
    XAxis m_xAxis = XAxis::Step;
    RunStamp m_stamp;
    std::vector<std::unique_ptr<ChangeMarks>> m_marks;
};

}  // namespace bnlab::ui
