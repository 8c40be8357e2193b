#pragma once

// Several runs on the same axes, each in its own colour: loss and accuracy (CompareCharts), and one block's
// activation distribution as small multiples with a shared y axis or overlaid (ActivationCompare). Runs
// repeated with other seeds (one group) are drawn as one: their mean, and a band from the lowest to the
// highest run or of ±1 standard deviation.

#include "chart_style.h"
#include "run_data.h"

#include <QLineSeries>
#include <QStringList>
#include <QWidget>

#include <string>
#include <vector>

class QGridLayout;

namespace bnlab::ui {

// One run as the comparison draws it.
struct ComparedRun {
    const app::RunData* run = nullptr;
    QColor colour;
    QString label;  // its name and what it sets differently from the first run
    int group = 0;  // runs with the same non-zero group are drawn as one (seeds)
};

// The compare widgets' setters: field = value, and a change clears the widget's signature so that its next
// refresh redraws. Returns whether it changed.
template <typename T>
bool changeAndRedraw(T& field, const T& value, QString& signature) {
    if (field == value) return false;
    field = value;
    signature.clear();
    return true;
}

// The names the runs offer to a chooser (layers, blocks, parameters), each once, in the order first seen:
// visit(run, add) calls add(name) for every name of one run.
template <typename Visit>
[[nodiscard]] QStringList distinctNames(const std::vector<ComparedRun>& runs, Visit visit) {
    QStringList out;
    auto add = [&out](const std::string& name) {
        if (const QString q = QString::fromStdString(name); !out.contains(q)) out << q;
    };
    for (const ComparedRun& r : runs)
        if (r.run) visit(*r.run, add);
    return out;
}

// How a group of runs with other seeds is drawn.
enum class SeedBand { MinMax, StdDev, EveryRun };

// A line of the comparison: one run, or a group of runs drawn as their mean.
struct ComparedLine {
    QColor colour;
    QString label;
    std::vector<const app::RunData*> runs;  // more than one: a group
};
[[nodiscard]] std::vector<ComparedLine> comparedLines(const std::vector<ComparedRun>& runs, SeedBand band);
// What identifies a drawing of lines (the runs, their colours and labels), and what each run held when drawn: a
// comparison redraws when either changes.
[[nodiscard]] QString signatureOf(const std::vector<ComparedLine>& lines);
[[nodiscard]] std::vector<RunStamp> stampsOf(const std::vector<ComparedLine>& lines, qsizetype budget);

// The mean of several curves point by point (over the points all of them have), and the band around it:
// min-max or ±1 standard deviation. One curve: itself, with an empty band.
struct Spread {
    QList<QPointF> mean, lower, upper;
};
[[nodiscard]] Spread spreadOf(const std::vector<QList<QPointF>>& curves, SeedBand band);

// The training values of a run smoothed by an exponential moving average of weight `smoothing` (bias-corrected,
// as LossChart draws them), and the validation evaluations, as points on the axis.
[[nodiscard]] QList<QPointF> smoothedTraining(const app::RunData& run, XAxis axis, double smoothing, bool accuracy);
[[nodiscard]] QList<QPointF> validationCurve(const app::RunData& run, XAxis axis, bool accuracy);

class CompareCharts final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(CompareCharts)

public:
    explicit CompareCharts(QWidget* parent = nullptr);

    // All take effect at the next refresh().
    void setXAxis(XAxis axis);
    void setSmoothing(double weight);
    void setSeedBand(SeedBand band);
    void setPanels(bool loss, bool accuracy);

    // Redraws from runs (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const std::vector<ComparedRun>& runs);
    [[nodiscard]] int lineCount() const { return int(m_lines.size()); }  // runs and groups drawn
    [[nodiscard]] QChart* lossChart() const { return m_loss.chart; }
    [[nodiscard]] QChart* accuracyChart() const { return m_accuracy.chart; }

private:
    struct Panel {
        QChart* chart = nullptr;
        QValueAxis* x = nullptr;
        QValueAxis* y = nullptr;
        QWidget* view = nullptr;
    };
    struct Drawn {  // what one line has on one panel
        QLineSeries* train = nullptr;
        QLineSeries* validation = nullptr;
        Band trainBand, validationBand;
    };
    Panel makePanel(const QString& yTitle);
    void rebuild();
    void fill(Panel& panel, std::vector<Drawn>& drawn, bool accuracy);

    Panel m_loss, m_accuracy;
    std::vector<Drawn> m_lossLines, m_accuracyLines;
    LegendLabel* m_legend = nullptr;
    std::vector<ComparedLine> m_lines;
    QString m_signature;  // of m_lines: which runs, colours and labels
    std::vector<RunStamp> m_stamps;
    XAxis m_xAxis = XAxis::Step;
    double m_smoothing = 0.98;
    SeedBand m_band = SeedBand::MinMax;
};

class ActivationCompare final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(ActivationCompare)

public:
    explicit ActivationCompare(QWidget* parent = nullptr);

    // All take effect at the next refresh(). block names a block ("dense2", as ActivationProbe::block).
    void setBlock(const QString& block);
    void setPostActivation(bool post);
    void setOverlay(bool overlay);  // one chart with every run's 15-85 band, instead of one chart per run
    void setXAxis(XAxis axis);

    void refresh(const std::vector<ComparedRun>& runs);
    // The blocks that the runs' latest probes describe, in network order (for a selector).
    [[nodiscard]] static QStringList blocks(const std::vector<ComparedRun>& runs);
    [[nodiscard]] int chartCount() const { return int(m_charts.size()); }
    [[nodiscard]] const std::vector<QChart*>& charts() const { return m_charts; }

private:
    void clear();
    QChart* addChart(const QString& title, int total);

    QGridLayout* m_grid = nullptr;
    LegendLabel* m_legend = nullptr;
    std::vector<QChart*> m_charts;  // owned by their views in m_grid
    std::vector<QWidget*> m_views;
    QString m_block;
    bool m_post = false;
    bool m_overlay = false;
    XAxis m_xAxis = XAxis::Step;
    QString m_signature;
    std::vector<RunStamp> m_stamps;
};

// One parameter's gradient norm (or update-to-weight ratio) over the probe steps, one line per run, log axis.
class GradientCompare final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GradientCompare)

public:
    explicit GradientCompare(QWidget* parent = nullptr);
    // All take effect at the next refresh(). param names a parameter ("dense1.weight", as ParamProbe::name).
    void setParam(const QString& param);
    void setShowUpdateRatio(bool ratio);
    void setXAxis(XAxis axis);
    void refresh(const std::vector<ComparedRun>& runs);
    // The parameters that the runs' latest probes describe, in network order (for a selector).
    [[nodiscard]] static QStringList params(const std::vector<ComparedRun>& runs);
    [[nodiscard]] QChart* chart() const { return m_chart; }

private:
    QChart* m_chart = nullptr;
    QValueAxis* m_x = nullptr;
    QLogValueAxis* m_y = nullptr;
    LegendLabel* m_legend = nullptr;
    QString m_param;
    bool m_ratio = false;
    XAxis m_xAxis = XAxis::Step;
    QString m_signature;
    std::vector<RunStamp> m_stamps;
};

}  // namespace bnlab::ui
