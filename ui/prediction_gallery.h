#pragma once

// The digits of one evaluation as thumbnails: each tile the image from the dataset, "true → predicted" and a
// bar of the ten softmax probabilities (the predicted class red when wrong, the true class green). The
// misclassified come first, the most confident mistakes first; then the right ones, the least sure first
// (the near misses). A (true, predicted) filter shows one cell of the confusion matrix.
//
// A scroll area that paints only the tiles on screen (about 50 at a time), so a split of 10,000 images
// scrolls and updates live without the window waiting; setPredictions keeps its own copy (sorted in a few
// ms).

#include "dataset.h"
#include "metrics.h"

#include <QAbstractScrollArea>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace bnlab::ui {

// The order in which the gallery shows samples (indices into p): wrong ones by the predicted class's
// probability, highest first, then right ones by the true class's probability, lowest first; ties by index.
// With filter, only the samples of that (true, predicted) pair.
[[nodiscard]] std::vector<engine::Index> galleryOrder(
    const engine::SamplePredictions& p, std::optional<std::pair<int, int>> filter = std::nullopt);

class PredictionGallery final : public QAbstractScrollArea {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(PredictionGallery)

public:
    explicit PredictionGallery(QWidget* parent = nullptr);

    // The predictions to show (none: emptyText instead) and the images they refer to: sample i is image
    // p.firstImage + i of images (null, or too few images: tiles without the picture).
    void setPredictions(std::shared_ptr<const engine::PredictionRecord> p,
                        std::shared_ptr<const engine::ImageSet> images, const QString& emptyText = {});
    void setFilter(std::optional<std::pair<int, int>> filter);
    [[nodiscard]] std::optional<std::pair<int, int>> filter() const { return m_filter; }
    // The samples shown, in order (indices into the predictions).
    [[nodiscard]] const std::vector<engine::Index>& order() const { return m_order; }
    [[nodiscard]] bool hasImages() const { return m_images != nullptr; }

    static constexpr int kTileWidth = 100, kTileHeight = 126;

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    bool viewportEvent(QEvent* event) override;  // tooltips

private:
    void relayout();
    [[nodiscard]] int columns() const;
    [[nodiscard]] int sampleAt(QPoint viewportPoint) const;  // index into m_order, or -1
    void paintTile(class QPainter& p, QRect tile, engine::Index sample) const;

    std::shared_ptr<const engine::PredictionRecord> m_record;
    std::shared_ptr<const engine::ImageSet> m_images;
    std::optional<std::pair<int, int>> m_filter;
    std::vector<engine::Index> m_order;
    QString m_emptyText;
};

}  // namespace bnlab::ui
