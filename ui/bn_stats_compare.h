#pragma once

// One BatchNorm layer's statistics in several runs on shared axes: for one followed feature, each run's batch
// mean and running mean (left) and batch variance and running variance (right), in the run's colour. Shows
// how BN momentum, batch size or a learning rate changes how far the running statistics (what Eval mode
// normalises with) lag behind the batch statistics (what training normalises with).

#include "compare_charts.h"

#include <QWidget>

#include <vector>

namespace bnlab::ui {

class BnStatsCompare final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(BnStatsCompare)

public:
    explicit BnStatsCompare(QWidget* parent = nullptr);

    // All take effect at the next refresh(). layer names a BN layer ("bn2", as BatchNormProbe::layer); empty:
    // the first BN layer of the runs. feature indexes the layer's followed features (0-3), as BnStatsChart.
    void setLayer(const QString& layer);
    void setFeature(int index);
    void setXAxis(XAxis axis);

    // Redraws from runs (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const std::vector<ComparedRun>& runs);
    // The BN layers that the runs' probes describe, in the order they were first seen (for a selector).
    [[nodiscard]] static QStringList layers(const std::vector<ComparedRun>& runs);
    [[nodiscard]] QChart* meanChart() const { return m_mean.chart; }
    [[nodiscard]] QChart* varianceChart() const { return m_variance.chart; }
    [[nodiscard]] int drawnRuns() const { return m_drawn; }  // runs that have the layer and feature

private:
    struct Panel {
        QChart* chart = nullptr;
        QValueAxis* x = nullptr;
        QValueAxis* y = nullptr;
    };
    Panel makePanel(const QString& what);

    Panel m_mean, m_variance;
    LegendLabel* m_legend = nullptr;
    QString m_layer;
    int m_feature = 0;
    XAxis m_xAxis = XAxis::Step;
    int m_drawn = 0;
    QString m_signature;
    std::vector<RunStamp> m_stamps;
};

}  // namespace bnlab::ui
