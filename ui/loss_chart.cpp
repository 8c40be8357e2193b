#include "loss_chart.h"

#include "compare_charts.h"

#include <QHBoxLayout>

#include <algorithm>
#include <QVBoxLayout>

namespace bnlab::ui {

LossChart::LossChart(QWidget* parent) : QWidget(parent) {
    m_loss = makePanel(QStringLiteral("cross-entropy loss"));
    m_accuracy = makePanel(QStringLiteral("accuracy"));
    m_legend = newLegendLabel(this);
    auto* charts = new QHBoxLayout;
    charts->setSpacing(2);
    for (QChart* chart : {m_loss.chart, m_accuracy.chart}) {
        ChartView* view = newChartView(chart, this);
        refitOnZoomReset(view, this, m_stamp);
        charts->addWidget(view);
        (chart == m_loss.chart ? m_lossView : m_accuracyView) = view;
    }
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    layout->addLayout(charts, 1);
    layout->addWidget(m_legend);
    paintWhite(this);
    refresh(app::RunData{});
}

LossChart::Panel LossChart::makePanel(const QString& yTitle) {
    Panel p;
    const AxesChart a = newAxesChart(xAxisTitle(m_xAxis), yTitle);  // one legend under both charts
    p.chart = a.chart;
    p.x = a.x;
    p.y = a.y;

    p.train = new QLineSeries;
    p.train->setName(QStringLiteral("training batch"));
    p.train->setPen(linePen(palette::mix(palette::kBlue, Qt::white, 0.6), 1));
    p.average = new QLineSeries;
    p.average->setName(QStringLiteral("training (moving average)"));
    p.average->setPen(linePen(palette::kBlue, 2.4));
    p.validation = new QLineSeries;
    p.validation->setName(QStringLiteral("validation"));
    p.validation->setPen(linePen(palette::kOrange, 1.8));
    p.validation->setPointsVisible(true);
    p.validation->setMarkerSize(5);
    p.test = new QScatterSeries;
    p.test->setName(QStringLiteral("test"));
    p.test->setMarkerShape(QScatterSeries::MarkerShapeRectangle);
    p.test->setMarkerSize(9);
    p.test->setColor(palette::kRed);
    p.test->setBorderColor(palette::kRed.darker(130));
    for (QAbstractSeries* s :
         {static_cast<QAbstractSeries*>(p.train), static_cast<QAbstractSeries*>(p.average),
          static_cast<QAbstractSeries*>(p.validation), static_cast<QAbstractSeries*>(p.test)})
        addSeries(p.chart, s, p.x, p.y);
    m_marks.push_back(std::make_unique<ChangeMarks>(p.chart, p.x, p.y));
    p.marks = m_marks.back().get();
    return p;
}

void LossChart::setXAxis(XAxis axis) {
    if (axis == m_xAxis) return;
    m_xAxis = axis;
    m_loss.x->setTitleText(xAxisTitle(axis));
    m_accuracy.x->setTitleText(xAxisTitle(axis));
    m_stamp = {};
}

void LossChart::setPanels(bool loss, bool accuracy) {
    m_lossView->setVisible(loss);
    m_accuracyView->setVisible(accuracy);
}

void LossChart::setSmoothing(double weight) {
    weight = std::clamp(weight, 0.0, 0.999);
    if (weight == m_smoothing) return;
    m_smoothing = weight;
    m_stamp = {};
}

void LossChart::refresh(const app::RunData& run) {
    const RunStamp stamp = stampOf(run, budgetOf(m_loss.chart));
    if (stamp == m_stamp) return;
    m_stamp = stamp;
    fill(m_loss, run, false);
    fill(m_accuracy, run, true);

    const bool validation = m_loss.validation->count() > 0;
    const bool test = m_loss.test->count() > 0;
    const QString average = m_smoothing > 0
                                ? QStringLiteral("training (moving average, %1)").arg(m_smoothing, 0, 'g', 3)
                                : QStringLiteral("training (no smoothing)");
    m_loss.average->setName(average);
    m_accuracy.average->setName(average);
    std::vector<LegendEntry> entries = {
        {QStringLiteral("──"), m_loss.train->pen().color(), QStringLiteral("training batch"),
         {m_loss.train, m_accuracy.train}},
        {QStringLiteral("━━"), m_loss.average->pen().color(), average, {m_loss.average, m_accuracy.average}}};
    if (validation)
        entries.push_back({QStringLiteral("━●━"), palette::kOrange, QStringLiteral("validation"),
                           {m_loss.validation, m_accuracy.validation}});
    if (test)
        entries.push_back({QStringLiteral("■"), palette::kRed, QStringLiteral("test"), {m_loss.test, m_accuracy.test}});
    const int marks = m_loss.marks->count();
    if (marks > 0)
        entries.push_back({QStringLiteral("┆"), QColor(0x55, 0x55, 0x55),
                           marks == 1 ? QStringLiteral("a setting changed (hover the line)")
                                      : QStringLiteral("settings changed (hover the lines)")});
    setLegend(m_legend, entries);
}

void LossChart::fill(Panel& p, const app::RunData& run, bool accuracy) {
    // Accuracy is shown in percent.
    const double scale = accuracy ? 100.0 : 1.0;
    QList<QPointF> train, test;
    train.reserve(static_cast<qsizetype>(run.steps.size()));
    for (const engine::StepRecord& r : run.steps)
        if (const double v = accuracy ? r.accuracy : r.loss; std::isfinite(v))
            train.append({xOf(m_xAxis, r), v * scale});
    for (const engine::EvalRecord& r : run.evals)
        if (const double v = accuracy ? r.accuracy : r.loss; r.split == "test" && std::isfinite(v))
            test.append({xOf(m_xAxis, r), v * scale});
    // The moving average with bias correction (as the trainer's own, which this equals at 0.98), so that the
    // first values are not pulled toward 0; the same curve the Compare tab draws.
    QList<QPointF> average = smoothedTraining(run, m_xAxis, m_smoothing, accuracy);
    QList<QPointF> validation = validationCurve(run, m_xAxis, accuracy);
    Extent xs, ys;
    for (const QList<QPointF>* points : {&train, &average, &validation, &test})
        for (const QPointF& point : *points) {
            xs.add(point.x());
            ys.add(point.y());
        }

    const qsizetype budget = budgetOf(p.chart);
    showPoints(p.train, train, budget);
    showPoints(p.average, average, budget);
    showPoints(p.validation, validation, budget);
    p.test->replace(test);

    fitAxis(p.chart, p.x, xs, xAxisFit(m_xAxis));
    if (accuracy)
        fitAxis(p.chart, p.y, ys,
                {.lowerBound = 0, .upperBound = 100, .fallbackHi = 100, .suffix = QStringLiteral(" %%")});
    else
        fitAxis(p.chart, p.y, ys, {.lowerBound = 0, .fallbackHi = 2.5});
    p.marks->update(run, m_xAxis);

    // The title names the latest held-out values (the training one when there are none yet), or says that
    // there is nothing yet.
    const QString what = accuracy ? QStringLiteral("Accuracy") : QStringLiteral("Loss");
    if (run.steps.empty()) {
        p.chart->setTitle(what + QStringLiteral(" — no step yet"));
        return;
    }
    auto text = [&](double v) {
        return accuracy ? QString::number(v * 100, 'f', 1) + QStringLiteral("%") : QString::number(v, 'f', 3);
    };
    QStringList values;
    if (!validation.isEmpty()) values << QStringLiteral("val ") + text(validation.back().y() / scale);
    if (!test.isEmpty()) values << QStringLiteral("test ") + text(test.back().y() / scale);
    if (values.isEmpty() && !average.isEmpty())
        values << QStringLiteral("training ") + text(average.back().y() / scale);
    p.chart->setTitle(values.isEmpty() ? what
                                       : what + QStringLiteral(" — ") + values.join(QStringLiteral(" · ")));
}

}  // namespace bnlab::ui
