#include "chart_export.h"

#include "activation_chart.h"
#include "bn_stats_chart.h"
#include "bn_stats_compare.h"
#include "confusion_matrix.h"
#include "error.h"
#include "grad_norm_chart.h"
#include "landscape_chart.h"
#include "loss_chart.h"
#include "run_config.h"

#include <QApplication>
#include <QFileInfo>
#include <QImage>
#include <QPainter>
#include <QPageSize>
#include <QPdfWriter>
#include <QSvgGenerator>


namespace bnlab::ui {
namespace {

[[noreturn]] void fail(const QString& message) { throw Error(message.toStdString()); }

constexpr int kTitleHeight = 30;

void settle() {
    for (int i = 0; i < 3; ++i) QApplication::processEvents();
}

// Lays the chart out at size and draws what in it (twice: ticks and decimation follow the final plot area).
template <typename Chart, typename What>
std::unique_ptr<QWidget> drawn(std::unique_ptr<Chart> chart, const What& what, QSize size) {
    chart->setAttribute(Qt::WA_DontShowOnScreen);
    chart->resize(size);
    chart->show();
    settle();
    chart->refresh(what);
    settle();
    chart->refresh(what);
    return chart;
}

// The block an activations request names (a name or a number from 1; the first when empty).
int blockOf(const ChartRequest& r, const app::RunData& run) {
    if (r.layer.isEmpty()) return 0;
    QStringList blocks;
    for (const auto& b : run.info.blocks) blocks << QString::fromStdString(b);
    bool isNumber = false;
    const int n = r.layer.toInt(&isNumber);
    const int block = isNumber ? n - 1 : int(blocks.indexOf(r.layer));
    if (block < 0 || block >= int(blocks.size()))
        fail("layer: the run has no block '" + r.layer + "' (its blocks: " + blocks.join(", ") + ", or 1.." +
             QString::number(blocks.size()) + ")");
    return block;
}

void checkBatchNormLayer(const ChartRequest& r, const app::RunData& run) {
    if (r.layer.isEmpty()) return;
    QStringList layers;
    for (const auto& p : run.probes)
        for (const auto& b : p.batchNorm)
            if (!layers.contains(QString::fromStdString(b.layer))) layers << QString::fromStdString(b.layer);
    if (!layers.contains(r.layer))
        fail("layer: the run has no BN layer '" + r.layer + "' (" +
             (layers.isEmpty() ? QString("it has none") : "its BN layers: " + layers.join(", ")) + ")");
}

QString known() { return chartNames().join(", "); }

// The measure a landscape chart name asks for, or false for another chart.
bool landscapeMeasure(const QString& chart, LandscapeMeasure& measure) {
    const qsizetype i = landscapeChartNames().indexOf(chart);
    if (i < 0) return false;
    measure = static_cast<LandscapeMeasure>(i);
    return true;
}

// A landscape chart for runs (ICS: checks the requested weight layer).
std::unique_ptr<LandscapeChart> landscapeChart(const ChartRequest& r, LandscapeMeasure measure,
                                               const std::vector<ComparedRun>& runs) {
    if (!r.layer.isEmpty()) {
        const QStringList layers = LandscapeChart::layers(runs);
        if (!layers.contains(r.layer))
            fail("layer: no weight layer '" + r.layer + "' in the landscape measures (" +
                 (layers.isEmpty() ? QString("there are none: train with landscape_interval > 0")
                                   : "their layers: " + layers.join(", ")) + ")");
    }
    auto c = std::make_unique<LandscapeChart>();
    c->setXAxis(r.xAxis);
    c->setMeasure(measure);
    c->setLayer(r.layer);
    return c;
}

}  // namespace

const QStringList& chartNames() {
    static const QStringList names = QStringList{"loss", "accuracy", "loss-accuracy", "grad-norms", "update-ratios",
                                                 "activations", "bn-stats", "confusion"} + landscapeChartNames();
    return names;
}

std::unique_ptr<QWidget> makeChart(const ChartRequest& r, const app::RunData& run, QSize size) {
    if (r.chart == "loss" || r.chart == "accuracy" || r.chart == "loss-accuracy") {
        auto c = std::make_unique<LossChart>();
        c->setXAxis(r.xAxis);
        c->setSmoothing(r.smoothing);
        c->setPanels(r.chart != "accuracy", r.chart != "loss");
        return drawn(std::move(c), run, size);
    }
    if (r.chart == "grad-norms" || r.chart == "update-ratios") {
        auto c = std::make_unique<GradNormChart>();
        c->setXAxis(r.xAxis);
        c->setShowUpdateRatio(r.chart == "update-ratios");
        return drawn(std::move(c), run, size);
    }
    if (r.chart == "activations") {
        const int block = blockOf(r, run);
        auto c = std::make_unique<ActivationChart>();
        c->setXAxis(r.xAxis);
        c->setPostActivation(r.postActivation);
        c->setBandStyle(r.bands);
        c->setBlock(block);
        return drawn(std::move(c), run, size);
    }
    if (r.chart == "bn-stats") {
        checkBatchNormLayer(r, run);
        auto c = std::make_unique<BnStatsChart>();
        c->setXAxis(r.xAxis);
        c->setFeature(r.feature);
        if (!r.layer.isEmpty()) c->setLayer(r.layer);
        return drawn(std::move(c), run, size);
    }
    if (LandscapeMeasure measure; landscapeMeasure(r.chart, measure)) {
        const std::vector<ComparedRun> one{{&run, palette::kBlue, run.name}};
        return drawn(landscapeChart(r, measure, one), run, size);
    }
    if (r.chart == "confusion") {
        if (!r.split.isEmpty() && r.split != "validation" && r.split != "test")
            fail("split: expected validation or test, got '" + r.split + "'");
        auto c = std::make_unique<ConfusionMatrixView>();  // a run without one: the explanation instead
        c->setSplit(splitToShow(run, r.split.toStdString()));
        return drawn(std::move(c), run, size);
    }
    fail("chart: unknown chart '" + r.chart + "' (known: " + known() + ")");
}

void requireConfusion(const ChartRequest& r, const app::RunData& run) {
    const std::string split = splitToShow(run, r.split.toStdString());
    if (latestConfusion(run, split)) return;
    fail(run.name + ": no " + QString::fromStdString(split) + " confusion matrix (" +
         (run.confusions.empty() ? QString("the run has none: saved by a BN Lab without them, or before its first evaluation")
                                 : QString("the test split is evaluated when a run completes or reaches max_steps")) + ")");
}

bool comparable(const ChartRequest& r) {
    if (r.chart == "grad-norms" || r.chart == "update-ratios") return !r.layer.isEmpty();
    return r.chart == "loss" || r.chart == "accuracy" || r.chart == "loss-accuracy" || r.chart == "activations" ||
           r.chart == "bn-stats" || landscapeChartNames().contains(r.chart);
}

std::vector<ComparedRun> comparedRuns(const std::vector<app::RunData>& runs) {
    std::vector<ComparedRun> out;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        const QStringList d = i == 0 ? QStringList() : app::settingDifferences(runs[0].config, runs[i].config);
        out.push_back({&runs[i], palette::category(int(i)), d.isEmpty() ? runs[i].name : runs[i].name + ": " + d.join(", ")});
    }
    return out;
}

std::unique_ptr<QWidget> makeComparison(const ChartRequest& r, const std::vector<ComparedRun>& runs, QSize size) {
    if (runs.empty() || !runs.front().run) fail("no run to compare");
    if (r.chart == "loss" || r.chart == "accuracy" || r.chart == "loss-accuracy") {
        auto c = std::make_unique<CompareCharts>();
        c->setXAxis(r.xAxis);
        c->setSmoothing(r.smoothing);
        c->setPanels(r.chart != "accuracy", r.chart != "loss");
        return drawn(std::move(c), runs, size);
    }
    if (r.chart == "activations") {
        const app::RunData& first = *runs.front().run;
        const int block = blockOf(r, first);
        auto c = std::make_unique<ActivationCompare>();
        c->setXAxis(r.xAxis);
        c->setPostActivation(r.postActivation);
        c->setOverlay(r.overlay);
        c->setBlock(QString::fromStdString(first.info.blocks.at(std::size_t(block))));
        return drawn(std::move(c), runs, size);
    }
    if ((r.chart == "grad-norms" || r.chart == "update-ratios") && !r.layer.isEmpty()) {
        const QStringList params = GradientCompare::params(runs);
        if (!params.contains(r.layer))
            fail("layer: no parameter '" + r.layer + "' in the runs (their parameters: " + params.join(", ") + ")");
        auto c = std::make_unique<GradientCompare>();
        c->setXAxis(r.xAxis);
        c->setShowUpdateRatio(r.chart == "update-ratios");
        c->setParam(r.layer);
        return drawn(std::move(c), runs, size);
    }
    if (r.chart == "bn-stats") {
        const QStringList layers = BnStatsCompare::layers(runs);
        if (layers.isEmpty()) fail("bn-stats: none of the runs has a BN layer");
        if (!r.layer.isEmpty() && !layers.contains(r.layer))
            fail("layer: no BN layer '" + r.layer + "' in the runs (their BN layers: " + layers.join(", ") + ")");
        auto c = std::make_unique<BnStatsCompare>();
        c->setXAxis(r.xAxis);
        c->setLayer(r.layer);
        c->setFeature(r.feature);
        return drawn(std::move(c), runs, size);
    }
    if (LandscapeMeasure measure; landscapeMeasure(r.chart, measure)) return drawn(landscapeChart(r, measure, runs), runs, size);
    fail("chart: '" + r.chart + "' is drawn one run at a time (compared on shared axes: loss, accuracy, "
         "loss-accuracy, activations, bn-stats, and grad-norms or update-ratios with --layer PARAM)");
}

void exportWidget(QWidget* widget, const QString& title, const QString& path, double scale) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    if (suffix != "png" && suffix != "svg" && suffix != "pdf")
        fail(path + ": unknown image type '." + suffix + "' (use .png, .svg or .pdf)");
    const QFileInfo dir(QFileInfo(path).absolutePath());
    if (!dir.isDir() || !dir.isWritable()) fail(path + ": cannot write (the folder does not exist or is not writable)");
    const QSize logical(widget->width(), widget->height() + kTitleHeight);

    auto paint = [&](QPainter& p) {
        p.fillRect(QRect(QPoint(0, 0), logical), Qt::white);
        QFont font = QApplication::font();
        font.setPointSizeF(std::max(9.0, font.pointSizeF() + 2));
        font.setBold(true);
        p.setFont(font);
        p.setPen(QColor(0x33, 0x33, 0x33));
        p.drawText(QRect(8, 0, logical.width() - 16, kTitleHeight), Qt::AlignVCenter | Qt::AlignLeft, title);
        widget->render(&p, QPoint(0, kTitleHeight), QRegion(), QWidget::DrawChildren);
    };

    if (suffix == "png") {
        QImage image(logical * scale, QImage::Format_ARGB32_Premultiplied);
        image.setDevicePixelRatio(scale);
        image.fill(Qt::white);
        {
            QPainter p(&image);
            p.setRenderHint(QPainter::Antialiasing);
            p.setRenderHint(QPainter::TextAntialiasing);
            paint(p);
        }
        if (!image.save(path, "PNG")) fail(path + ": cannot write the PNG file");
    } else if (suffix == "svg") {
        QSvgGenerator svg;
        svg.setFileName(path);
        svg.setSize(logical);
        svg.setViewBox(QRect(QPoint(0, 0), logical));
        svg.setResolution(96);  // its width and height in mm then read as the logical pixels in browsers (96 px per inch)
        svg.setTitle(title);
        svg.setDescription(QStringLiteral("BN Lab chart"));
        QPainter p;
        if (!p.begin(&svg)) fail(path + ": cannot write the SVG file");
        paint(p);
        p.end();
    } else {
        QPdfWriter pdf(path);
        pdf.setResolution(96);  // one logical pixel per device pixel at 96 dpi
        pdf.setPageSize(QPageSize(QSizeF(logical.width() * 72.0 / 96, logical.height() * 72.0 / 96), QPageSize::Point));
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        pdf.setTitle(title);
        pdf.setCreator(QStringLiteral("BN Lab"));
        QPainter p;
        if (!p.begin(&pdf)) fail(path + ": cannot write the PDF file");
        paint(p);
        p.end();
    }
    if (!QFileInfo(path).isFile() || QFileInfo(path).size() == 0) fail(path + ": the file was not written");
}

}  // namespace bnlab::ui
