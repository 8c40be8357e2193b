#pragma once

// The Predictions tab: for the current run, the confusion matrix of the latest evaluation of a split (left)
// and its digits (right, misclassified first). Validation is live: it follows every evaluation; test comes
// once, when the run ends. Clicking a cell of the matrix shows only that (true, predicted) pair.

#include "confusion_matrix.h"
#include "prediction_gallery.h"
#include "run_data.h"

#include <QWidget>

#include <memory>

class QComboBox;
class QLabel;
class QPushButton;

namespace bnlab::engine {
struct Dataset;
}

namespace bnlab::ui {

class PredictionsPage final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PredictionsPage)

public:
    explicit PredictionsPage(QWidget* parent = nullptr);

    // Shows run's latest predictions of the chosen split; the thumbnails come from data when it is the run's
    // dataset. Cheap when nothing changed since the last call (the window calls it at its bounded redraw
    // rate).
    void refresh(const app::RunData& run, std::shared_ptr<const engine::Dataset> data);
    void setSplit(const std::string& split);  // "validation" or "test"
    [[nodiscard]] std::string split() const;

    [[nodiscard]] ConfusionMatrixView* matrix() const { return m_matrix; }
    [[nodiscard]] PredictionGallery* gallery() const { return m_gallery; }

Q_SIGNALS:
    void splitChanged();  // the page wants a refresh() with the run, now showing the other split

private:
    void showFilter();

    QComboBox* m_split = nullptr;
    QLabel* m_filterText = nullptr;
    QPushButton* m_showAll = nullptr;
    ConfusionMatrixView* m_matrix = nullptr;
    PredictionGallery* m_gallery = nullptr;
    // What is shown: the run, the split and the step and time of its evaluation.
    struct Stamp {
        const app::RunData* run = nullptr;
        std::size_t confusions = 0;
        long step = -1;
        double seconds = -1;
        int split = -1;
        const engine::Dataset* data = nullptr;
        bool operator==(const Stamp&) const = default;
    } m_stamp;
};

}  // namespace bnlab::ui
