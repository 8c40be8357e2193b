#pragma once

// The distribution of one block's activations over training, in one of two styles from the same probes:
// the BN paper's Figure 1 (nested percentile bands 0-100, 2-98 and 15-85, darker inside, with the median as a
// line) or TensorBoard's distributions (its nine lines: minimum, the normal's ±1.5σ, ±1σ, ±0.5σ as
// percentiles, median, maximum, drawn as four nested bands and the median); beside it the histogram of the
// latest probe. Pre-activation is the input of the nonlinearity (the BN output when BN comes before it),
// post-activation its output.

#include "chart_style.h"
#include "run_data.h"

#include <QAreaSeries>
#include <QLineSeries>
#include <QWidget>

#include <memory>
#include <vector>

#include <array>

namespace bnlab::ui {

// How a distribution over training is drawn.
enum class BandStyle { Paper, TensorBoard };
[[nodiscard]] QString toString(BandStyle style);         // "paper", "tensorboard"
[[nodiscard]] BandStyle bandStyleFromName(const QString& name);  // throws Error naming the value

// The bands of a style, outside in, as pairs of indices into Distribution::percentiles, and their names.
struct PercentileBand {
    std::size_t lower, upper;
    const char* name;
};
[[nodiscard]] std::vector<PercentileBand> bandsOf(BandStyle style);

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
    void setBandStyle(BandStyle style);
    [[nodiscard]] BandStyle bandStyle() const { return m_style; }
    [[nodiscard]] QChart* bandsChart() const { return m_bandsChart; }

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
    std::array<Band, 4> m_bands;  // outside in; as many used as the style has bands
    QLineSeries* m_median = nullptr;
    LegendLabel* m_legend = nullptr;

    QChart* m_histogramChart = nullptr;
    QValueAxis* m_histogramX = nullptr;
    QValueAxis* m_histogramY = nullptr;
    Band m_histogram;

    int m_block = 0;
    bool m_post = false;
    XAxis m_xAxis = XAxis::Step;
    BandStyle m_style = BandStyle::Paper;
    RunStamp m_stamp;
    std::vector<std::unique_ptr<ChangeMarks>> m_marks;
};

}  // namespace bnlab::ui
