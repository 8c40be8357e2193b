// Charts as files (ui/chart_export.h): every chart in every format is a valid file of the requested size with
// real content; unknown charts, layers, suffixes and unwritable paths are Errors naming them.

#include "chart_export.h"
#include "error.h"
#include "synthetic_run.h"

#include <QFile>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>
#include <QTemporaryDir>

#include <gtest/gtest.h>

#include <functional>

namespace bnlab::ui {
namespace {

std::string errorOf(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected a bnlab::Error";
    return {};
}

// Share of coloured pixels (the series; axes, grid and text are grey).
double colourOf(const QImage& image) {
    qint64 n = 0;
    for (int y = 0; y < image.height(); y += 2)
        for (int x = 0; x < image.width(); x += 2) n += QColor(image.pixel(x, y)).hsvSaturation() > 60;
    return double(n) / (double(image.width() / 2) * double(image.height() / 2));
}

// Share of pixels that are not (nearly) white: the drawing, not an empty page.
double inkOf(const QImage& image) {
    qint64 ink = 0;
    for (int y = 0; y < image.height(); y += 2)
        for (int x = 0; x < image.width(); x += 2)
            ink += qGray(image.pixel(x, y)) < 235;
    return double(ink) / (double(image.width() / 2) * double(image.height() / 2));
}

TEST(ChartExport, EveryChartInEveryFormatIsAValidFileWithContent) {
    QTemporaryDir tmp;
    const app::RunData run = makeRun(400);
    const app::RunData empty;
    for (const QString& name : chartNames()) {
        SCOPED_TRACE(name.toStdString());
        ChartRequest request;
        request.chart = name;
        auto widget = makeChart(request, run, QSize(800, 400));

        const QString png = tmp.filePath(name + ".png");
        exportWidget(widget.get(), "test — " + name, png, 2.0);
        QImage image(png);
        ASSERT_FALSE(image.isNull());
        EXPECT_EQ(image.width(), 1600);
        EXPECT_EQ(image.height(), 2 * (400 + 30));  // the chart and its title line, at 2×
        // More colour than the same chart of an empty run (axes, grid and title alone): the data is drawn.
        auto bare = makeChart(request, empty, QSize(800, 400));
        const QString barePng = tmp.filePath(name + "-empty.png");
        exportWidget(bare.get(), "test — " + name, barePng, 2.0);
        EXPECT_GT(colourOf(image), 2 * colourOf(QImage(barePng)) + 0.001) << "the series are not in the image";

        const QString svg = tmp.filePath(name + ".svg");
        exportWidget(widget.get(), "test — " + name, svg);
        QSvgRenderer renderer(svg);
        EXPECT_TRUE(renderer.isValid());
        EXPECT_EQ(renderer.viewBox(), QRect(0, 0, 800, 430));
        QImage rendered(800, 430, QImage::Format_ARGB32);
        rendered.fill(Qt::white);
        {
            QPainter p(&rendered);
            renderer.render(&p);
        }
        EXPECT_GT(inkOf(rendered), 0.01) << "the SVG draws nearly nothing";

        const QString pdf = tmp.filePath(name + ".pdf");
        exportWidget(widget.get(), "test — " + name, pdf);
        QFile file(pdf);
        ASSERT_TRUE(file.open(QIODevice::ReadOnly));
        const QByteArray data = file.readAll();
        EXPECT_TRUE(data.startsWith("%PDF-"));
        EXPECT_TRUE(data.trimmed().endsWith("%%EOF"));
        EXPECT_GT(data.size(), 2000);
    }
}

TEST(ChartExport, BadRequestsAreErrorsNamingTheCulprit) {
    QTemporaryDir tmp;
    const app::RunData run = makeRun(100);
    ChartRequest request;
    request.chart = "histogram";
    EXPECT_NE(errorOf([&] { (void)makeChart(request, run, {400, 300}); }).find("unknown chart 'histogram'"), std::string::npos);
    request.chart = "activations";
    request.layer = "dense7";
    EXPECT_NE(errorOf([&] { (void)makeChart(request, run, {400, 300}); }).find("no block 'dense7'"), std::string::npos);
    request.layer = "2";
    EXPECT_NO_THROW((void)makeChart(request, run, {400, 300}));
    request.chart = "bn-stats";
    request.layer = "bn4";
    EXPECT_NE(errorOf([&] { (void)makeChart(request, run, {400, 300}); }).find("no BN layer 'bn4'"), std::string::npos);

    request = ChartRequest{};
    request.chart = "loss";
    auto widget = makeChart(request, run, {400, 300});
    EXPECT_NE(errorOf([&] { exportWidget(widget.get(), "t", tmp.filePath("chart.jpg")); }).find("use .png, .svg or .pdf"),
              std::string::npos);
    const std::string e = errorOf([&] { exportWidget(widget.get(), "t", tmp.filePath("missing/chart.png")); });
    EXPECT_NE(e.find("missing/chart.png: cannot write"), std::string::npos) << e;
}

}  // namespace
}  // namespace bnlab::ui
