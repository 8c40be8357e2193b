// The Predictions tab (ui/predictions_page.h): the gallery's order (misclassified first, the most confident
// mistakes first), a click on a confusion-matrix cell filtering the gallery to that pair and a second click
// clearing it, the confusion chart as PNG, SVG and PDF, and the real window showing a run's predictions with
// the dataset's digits.

#include "chart_export.h"
#include "confusion_matrix.h"
#include "error.h"
#include "main_window.h"
#include "prediction_gallery.h"
#include "predictions_page.h"
#include "synthetic_run.h"

#include <QFile>
#include <QImage>
#include <QMouseEvent>
#include <QSvgRenderer>
#include <QTemporaryDir>

#include "wait.h"

#include <gtest/gtest.h>

#include <set>

#ifndef BNLAB_TEST_DATASETS
#error "BNLAB_TEST_DATASETS must be defined as the path of the repository's datasets/ folder"
#endif

namespace bnlab::ui {
namespace {

using engine::Index;

void click(QWidget* widget, QPointF at) {
    QMouseEvent press(QEvent::MouseButtonPress, at, widget->mapToGlobal(at), Qt::LeftButton, Qt::LeftButton,
                      Qt::NoModifier);
    QApplication::sendEvent(widget, &press);
    QMouseEvent release(QEvent::MouseButtonRelease, at, widget->mapToGlobal(at), Qt::LeftButton, Qt::NoButton,
                        Qt::NoModifier);
    QApplication::sendEvent(widget, &release);
}

TEST(PredictionGallery, MisclassifiedComeFirstMostConfidentMistakeFirstThenTheLeastSureRightOnes) {
    engine::SamplePredictions p;
    p.classes = 3;
    // sample: label, predicted, probabilities
    auto add = [&](int label, int predicted, std::vector<float> probs) {
        p.labels.push_back(std::uint8_t(label));
        p.predicted.push_back(std::uint8_t(predicted));
        p.probabilities.insert(p.probabilities.end(), probs.begin(), probs.end());
    };
    add(0, 0, {0.9f, 0.05f, 0.05f});  // 0: right, sure
    add(1, 2, {0.1f, 0.3f, 0.6f});    // 1: wrong at 0.6
    add(2, 2, {0.2f, 0.2f, 0.6f});    // 2: right, unsure
    add(0, 1, {0.05f, 0.9f, 0.05f});  // 3: wrong at 0.9
    add(1, 1, {0.0f, 0.7f, 0.3f});    // 4: right at 0.7
    add(2, 0, {0.6f, 0.1f, 0.3f});    // 5: wrong at 0.6, after sample 1 (ties by index)
    EXPECT_EQ(galleryOrder(p), (std::vector<Index>{3, 1, 5, 2, 4, 0}));
    EXPECT_EQ(galleryOrder(p, std::pair{1, 2}), (std::vector<Index>{1}));
    EXPECT_EQ(galleryOrder(p, std::pair{0, 0}), (std::vector<Index>{0}));
    EXPECT_TRUE(galleryOrder(p, std::pair{2, 1}).empty());
}

TEST(PredictionsPage, ClickingACellFiltersTheGalleryToThatPairAndClickingAgainClearsIt) {
    const app::RunData run = makeRun(300);
    PredictionsPage page;
    page.resize(1200, 700);
    page.show();
    QApplication::processEvents();  // laid out: the cells have their places
    page.refresh(run, nullptr);
    const engine::PredictionRecord* latest = run.latestPredictions("validation");
    ASSERT_NE(latest, nullptr);
    ASSERT_TRUE(page.matrix()->record().has_value());
    EXPECT_EQ(page.matrix()->record()->step, 300);
    EXPECT_EQ(page.gallery()->order().size(), 700u);
    // Misclassified first: every wrong sample before every right one.
    const auto& order = page.gallery()->order();
    const auto wrong = [&](Index i) {
        return latest->predictions.labels[std::size_t(i)] != latest->predictions.predicted[std::size_t(i)];
    };
    const auto firstRight = std::find_if(order.begin(), order.end(), [&](Index i) { return !wrong(i); });
    EXPECT_GT(firstRight - order.begin(), 50);
    EXPECT_TRUE(std::none_of(firstRight, order.end(), wrong));

    ConfusionMatrixView* matrix = page.matrix();
    const QRectF cell = matrix->cellRect(4, 5);  // 4s taken for 5s: every 7th sample with label 4
    ASSERT_EQ(matrix->cellAt(cell.center()), (std::pair{4, 5}));
    click(matrix, cell.center());
    ASSERT_EQ(page.gallery()->filter(), (std::pair{4, 5}));
    EXPECT_EQ(std::int64_t(page.gallery()->order().size()), matrix->record()->at(4, 5));
    EXPECT_GT(page.gallery()->order().size(), 0u);
    for (Index i : page.gallery()->order()) {
        EXPECT_EQ(latest->predictions.labels[std::size_t(i)], 4);
        EXPECT_EQ(latest->predictions.predicted[std::size_t(i)], 5);
    }
    // A later evaluation keeps the filter.
    app::RunData later = run;
    later.addPredictions(makePredictions(400, "validation", 700));
    page.refresh(later, nullptr);
    EXPECT_EQ(page.matrix()->record()->step, 400);
    EXPECT_EQ(page.gallery()->filter(), (std::pair{4, 5}));

    click(matrix, cell.center());
    EXPECT_FALSE(page.gallery()->filter().has_value());
    EXPECT_FALSE(matrix->selection().has_value());
    EXPECT_EQ(page.gallery()->order().size(), 700u);

    // The diagonal: the 4s recognised.
    click(matrix, matrix->cellRect(4, 4).center());
    EXPECT_EQ(std::int64_t(page.gallery()->order().size()), matrix->record()->at(4, 4));
}

TEST(PredictionsPage, TheTestSplitWaitsForTheEndOfTheRun) {
    app::RunData run = makeRun(200);
    PredictionsPage page;
    page.setSplit("test");
    page.refresh(run, nullptr);
    EXPECT_FALSE(page.matrix()->record().has_value());
    EXPECT_TRUE(page.gallery()->order().empty());
    run.addPredictions(makePredictions(200, "test", 1000));
    page.refresh(run, nullptr);
    ASSERT_TRUE(page.matrix()->record().has_value());
    EXPECT_EQ(page.matrix()->record()->split, "test");
    EXPECT_EQ(page.gallery()->order().size(), 1000u);
}

TEST(ConfusionChart, ExportsAsPngSvgAndPdfAndNamesAMissingMatrix) {
    QTemporaryDir tmp;
    app::RunData run = makeRun(300);
    run.addPredictions(makePredictions(300, "test", 1000));
    ChartRequest request;
    request.chart = "confusion";
    auto widget = makeChart(request, run, QSize(500, 520));
    auto* view = dynamic_cast<ConfusionMatrixView*>(widget.get());
    ASSERT_NE(view, nullptr);
    ASSERT_TRUE(view->record().has_value());
    EXPECT_EQ(view->record()->split, "test") << "test by default when the run has it";
    request.split = "validation";
    EXPECT_EQ(
        dynamic_cast<ConfusionMatrixView*>(makeChart(request, run, QSize(500, 520)).get())->record()->split,
        "validation");

    const QString png = tmp.filePath("confusion.png");
    exportWidget(widget.get(), "run — confusion", png, 2.0);
    const QImage image(png);
    ASSERT_FALSE(image.isNull());
    EXPECT_EQ(image.size(), QSize(1000, 2 * (520 + 30)));
    int blue = 0, red = 0;  // the diagonal and the mistakes are drawn in their colours
    for (int y = 0; y < image.height(); y += 3)
        for (int x = 0; x < image.width(); x += 3) {
            const QColor c(image.pixel(x, y));
            if (c.hsvSaturation() < 80) continue;
            (c.blue() > c.red() ? blue : red) += 1;
        }
    EXPECT_GT(blue, 1000);
    EXPECT_GT(red, 100);

    const QString svg = tmp.filePath("confusion.svg");
    exportWidget(widget.get(), "run — confusion", svg);
    EXPECT_TRUE(QSvgRenderer(svg).isValid());
    const QString pdf = tmp.filePath("confusion.pdf");
    exportWidget(widget.get(), "run — confusion", pdf);
    QFile file(pdf);
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    EXPECT_TRUE(file.readAll().startsWith("%PDF-"));

    request.split = "train";
    try {
        (void)makeChart(request, run, QSize(400, 400));
        ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("split: expected validation or test, got 'train'"),
                  std::string::npos)
            << e.what();
    }
    app::RunData old = makeRun(300);
    old.name = "old-run";
    old.confusions.clear();
    request.split.clear();
    try {
        requireConfusion(request, old);
        ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("old-run: no validation confusion matrix"), std::string::npos)
            << e.what();
    }
}

TEST(MainWindowPredictions, TheTabShowsTheRunsPredictionsWithTheDatasetsDigits) {
    MainWindow w;
    w.resize(1400, 900);
    w.show();
    ASSERT_TRUE(w.openDataset(QStringLiteral(BNLAB_TEST_DATASETS "/mnist"))) << w.errorText().toStdString();
    w.selectPreset(QStringLiteral("bn-paper-mlp"));
    w.applySettings({"train_size=2000", "validation_size=500", "max_steps=40", "probe_interval=10",
                     "eval_interval=20", "threads=1"});
    w.showTab(3);
    w.startRun();
    ASSERT_TRUE(w.errorText().isEmpty()) << w.errorText().toStdString();
    ASSERT_TRUE(test::waitUntil([&] { return w.currentRun().state == app::RunState::Finished; }));
    PredictionsPage* page = w.predictionsPage();
    ASSERT_TRUE(test::waitUntil(
        [&] { return page->matrix()->record() && page->matrix()->record()->step == 40; }, 10000));
    EXPECT_EQ(page->matrix()->record()->total(), 500);
    EXPECT_EQ(page->gallery()->order().size(), 500u);
    EXPECT_TRUE(page->gallery()->hasImages()) << "the window's dataset is the run's";
    page->setSplit("test");
    ASSERT_TRUE(test::waitUntil(
        [&] { return page->matrix()->record() && page->matrix()->record()->split == "test"; }, 10000))
        << "the other split is drawn although the finished run sends nothing new";
    EXPECT_EQ(page->gallery()->order().size(), 10000u);
    // The tab draws: not a blank page.
    const QImage shot = page->grab().toImage();
    std::set<QRgb> colours;
    for (int y = 0; y < shot.height(); y += 7)
        for (int x = 0; x < shot.width(); x += 7) colours.insert(shot.pixel(x, y));
    EXPECT_GT(colours.size(), 50u);
}

}  // namespace
}  // namespace bnlab::ui
