#pragma once

// One feature of one BatchNorm layer over the probe steps: the batch mean against the running mean, and
// the batch variance against the running variance, side by side. The running statistics are an
// exponential moving average of the batch ones (momentum), so they are smoother and lag behind them;
// Eval mode normalises with them. (The batch variance is biased, the running one the unbiased estimate.)

#include "chart_style.h"
#include "run_data.h"

#include <QLineSeries>
#include <QWidget>

#include <memory>
#include <vector>

namespace bnlab::ui {

// One followed feature of one BN layer over a run's probes, as points on an x axis: the batch and running
// mean and variance (non-finite values left out), their extents, and the latest probe that had it.
struct BnPoints {
    QList<QPointF> batchMean, runningMean, batchVar, runningVar;
    Extent xs, means, variances;
    const engine::BatchNormProbe* last = nullptr;  // null: no probe has the layer with that feature index
};
// featureIndex indexes BatchNormProbe::features (0-3).
[[nodiscard]] BnPoints bnPoints(const app::RunData& run, const std::string& layer, int featureIndex, XAxis axis);

class BnStatsChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BnStatsChart)

public:
    explicit BnStatsChart(QWidget* parent = nullptr);

    // All take effect at the next refresh(). layer names a BN layer ("bn2", as BatchNormProbe::layer; BN
    // switched on or off mid-run makes it come and go), feature indexes that layer's BatchNormProbe::features
    // (the followed features, not the feature number itself).
    void setLayer(const QString& name);
    [[nodiscard]] const QString& layer() const { return m_layer; }
    void setFeature(int index);
    [[nodiscard]] int feature() const { return m_feature; }
    void setXAxis(XAxis axis);
    [[nodiscard]] XAxis xAxis() const { return m_xAxis; }

    // Redraws from run (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const app::RunData& run);

private:
    struct Panel {
        QChart* chart = nullptr;
        QValueAxis* x = nullptr;
        QValueAxis* y = nullptr;
        QLineSeries* batch = nullptr;
        QLineSeries* running = nullptr;
    };
    Panel makePanel(const QString& what);

    Panel m_mean;
    Panel m_variance;
    QString m_layer;
    std::string m_layerName;
    int m_feature = 0;
    XAxis m_xAxis = XAxis::Step;
    RunStamp m_stamp;
    std::vector<std::unique_ptr<ChangeMarks>> m_marks;
};

}  // namespace bnlab::ui
