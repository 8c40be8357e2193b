#include "predictions_page.h"

#include "dataset.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QVBoxLayout>

namespace bnlab::ui {

PredictionsPage::PredictionsPage(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 4, 0, 0);
    auto* row = new QHBoxLayout;
    m_split = new QComboBox(this);
    m_split->addItems({tr("validation (live, at every evaluation)"), tr("test (when the run ends)")});
    m_split->setToolTip(
        tr("Validation is evaluated during training (every eval_interval steps and at epoch ends) and "
           "shown live; the test split once, when the run completes."));
    m_filterText = new QLabel(this);
    m_showAll = new QPushButton(tr("Show All"), this);
    m_showAll->setToolTip(tr("Clear the filter: every image, the misclassified first"));
    row->addWidget(new QLabel(tr("Split"), this));
    row->addWidget(m_split);
    row->addSpacing(16);
    row->addWidget(m_filterText);
    row->addWidget(m_showAll);
    row->addStretch(1);
    layout->addLayout(row);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    m_matrix = new ConfusionMatrixView(splitter);
    m_matrix->setToolTip(QString());
    m_gallery = new PredictionGallery(splitter);
    splitter->addWidget(m_matrix);
    splitter->addWidget(m_gallery);
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({460, 800});
    splitter->setChildrenCollapsible(false);
    layout->addWidget(splitter, 1);

    connect(m_matrix, &ConfusionMatrixView::selectionChanged, this,
            [this](std::optional<std::pair<int, int>> cell) {
                m_gallery->setFilter(cell);
                showFilter();
            });
    connect(m_showAll, &QPushButton::clicked, this, [this] {
        m_matrix->setSelection(std::nullopt);
        m_gallery->setFilter(std::nullopt);
        showFilter();
    });
    connect(m_split, &QComboBox::currentIndexChanged, this, [this] {
        m_matrix->setSelection(std::nullopt);
        m_gallery->setFilter(std::nullopt);
        m_stamp = {};  // redrawn at the next refresh
        showFilter();
        Q_EMIT splitChanged();
    });
    showFilter();
}

void PredictionsPage::setSplit(const std::string& split) {
    m_split->setCurrentIndex(split == "test" ? 1 : 0);
}

std::string PredictionsPage::split() const { return m_split->currentIndex() == 1 ? "test" : "validation"; }

void PredictionsPage::showFilter() {
    const auto filter = m_gallery->filter();
    const std::size_t shown = m_gallery->order().size();
    if (!filter)
        m_filterText->setText(
            tr("%Ln images, the misclassified first (the most confident mistakes first)", "", int(shown)));
    else if (filter->first == filter->second)
        m_filterText->setText(
            tr("%Ln images of a %1 recognised, the least sure first", "", int(shown)).arg(filter->first));
    else
        m_filterText->setText(
            tr("%Ln images of a %1 taken for a %2, the most confident first", "", int(shown))
                .arg(filter->first)
                .arg(filter->second));
    m_showAll->setEnabled(filter.has_value());
}

void PredictionsPage::refresh(const app::RunData& run, std::shared_ptr<const engine::Dataset> data) {
    const std::string split = this->split();
    const engine::PredictionRecord* latest = run.latestPredictions(split);
    const Stamp stamp{&run,
                      run.confusions.size(),
                      latest ? latest->confusion.step : -1,
                      latest ? latest->confusion.seconds : -1,
                      m_split->currentIndex(),
                      data.get()};
    if (stamp == m_stamp) return;
    m_stamp = stamp;

    const QString none = split == "test" ? tr("The test split is evaluated when the run completes (or "
                                              "reaches max_steps); not after a stop.")
                         : run.confusions.empty() && run.summary
                             ? tr("This run has no predictions: it was saved by a BN Lab without them, or "
                                  "ended before its first evaluation.")
                             : tr("The first validation evaluation comes after eval_interval steps, or at "
                                  "the end of the first epoch.");
    // The confusion matrix of the latest evaluation (a run folder may hold matrices without per-sample
    // predictions).
    m_matrix->setRecord(latestConfusion(run, split), none);
    std::shared_ptr<const engine::ImageSet> images;
    if (data && QString::fromStdString(data->name) == run.dataset)
        images = std::shared_ptr<const engine::ImageSet>(data, split == "test" ? &data->test : &data->train);
    m_gallery->setPredictions(
        latest ? std::make_shared<const engine::PredictionRecord>(*latest) : nullptr, images,
        m_matrix->record() ? tr("No per-sample predictions were saved with this run.") : none);
    showFilter();
}

}  // namespace bnlab::ui
