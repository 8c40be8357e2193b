#include "prediction_gallery.h"

#include "chart_style.h"

#include <QApplication>
#include <QHelpEvent>
#include <QImage>
#include <QPaintEvent>
#include <QPainter>
#include <QScrollBar>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace bnlab::ui {
namespace {

using engine::Index;

constexpr int kImage = 56;  // the 28×28 digit at 2×
const QColor kInk(0x33, 0x33, 0x33);
const QColor kGreen(0x3b, 0x8c, 0x3a);

QFont tileFont(double delta, bool bold = false) {
    QFont font = QApplication::font();
    font.setPointSizeF(std::max(6.0, (font.pointSizeF() > 0 ? font.pointSizeF() : 9.0) + delta));
    font.setBold(bold);
    return font;
}

}  // namespace

std::vector<Index> galleryOrder(const engine::SamplePredictions& p,
                                std::optional<std::pair<int, int>> filter) {
    std::vector<Index> order;
    order.reserve(std::size_t(p.size()));
    for (Index i = 0; i < p.size(); ++i)
        if (!filter ||
            (p.labels[std::size_t(i)] == filter->first && p.predicted[std::size_t(i)] == filter->second))
            order.push_back(i);
    // Key: wrong ones first by -p(predicted), then right ones by p(true) (= p(predicted)).
    auto key = [&](Index i) {
        const int predicted = p.predicted[std::size_t(i)];
        const bool wrong = predicted != p.labels[std::size_t(i)];
        return std::pair{wrong ? 0 : 1, wrong ? -p.probability(i, predicted) : p.probability(i, predicted)};
    };
    std::stable_sort(order.begin(), order.end(), [&](Index a, Index b) { return key(a) < key(b); });
    return order;
}

PredictionGallery::PredictionGallery(QWidget* parent) : QAbstractScrollArea(parent) {
    setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOn);
    verticalScrollBar()->setSingleStep(kTileHeight / 3);
    viewport()->setAttribute(Qt::WA_OpaquePaintEvent);
    setFrameShape(QFrame::NoFrame);
}

void PredictionGallery::setPredictions(std::shared_ptr<const engine::PredictionRecord> p,
                                       std::shared_ptr<const engine::ImageSet> images,
                                       const QString& emptyText) {
    m_record = std::move(p);
    const bool fits = m_record && images && images->shape.c == 1 &&
                      m_record->predictions.firstImage + m_record->predictions.size() <= images->size();
    m_images = fits ? std::move(images) : nullptr;
    m_emptyText = emptyText;
    if (m_filter &&
        (!m_record || std::max(m_filter->first, m_filter->second) >= m_record->predictions.classes))
        m_filter.reset();
    m_order = m_record ? galleryOrder(m_record->predictions, m_filter) : std::vector<Index>{};
    relayout();
}

void PredictionGallery::setFilter(std::optional<std::pair<int, int>> filter) {
    m_filter = filter;
    m_order = m_record ? galleryOrder(m_record->predictions, m_filter) : std::vector<Index>{};
    verticalScrollBar()->setValue(0);
    relayout();
}

int PredictionGallery::columns() const { return std::max(1, viewport()->width() / kTileWidth); }

void PredictionGallery::relayout() {
    const int rows = int((Index(m_order.size()) + columns() - 1) / columns());
    QScrollBar* bar = verticalScrollBar();
    bar->setRange(0, std::max(0, rows * kTileHeight - viewport()->height()));
    bar->setPageStep(viewport()->height());
    viewport()->update();
}

void PredictionGallery::resizeEvent(QResizeEvent* event) {
    QAbstractScrollArea::resizeEvent(event);
    relayout();
}

int PredictionGallery::sampleAt(QPoint point) const {
    const int column = point.x() / kTileWidth;
    if (column >= columns()) return -1;
    const int row = (point.y() + verticalScrollBar()->value()) / kTileHeight;
    const Index k = Index(row) * columns() + column;
    return k < Index(m_order.size()) ? int(k) : -1;
}

void PredictionGallery::paintEvent(QPaintEvent* event) {
    QPainter p(viewport());
    p.fillRect(event->rect(), Qt::white);
    if (m_order.empty()) {
        p.setPen(kInk);
        p.setFont(tileFont(0));
        const QString text =
            !m_record  ? m_emptyText
            : m_filter ? tr("No image of a %1 was taken for a %2.").arg(m_filter->first).arg(m_filter->second)
                       : tr("No images.");
        p.drawText(viewport()->rect().adjusted(16, 16, -16, -16), Qt::AlignCenter | Qt::TextWordWrap, text);
        return;
    }
    // Only the rows that intersect the area to repaint.
    const int scroll = verticalScrollBar()->value(), cols = columns();
    const int first = (event->rect().top() + scroll) / kTileHeight,
              last = (event->rect().bottom() + scroll) / kTileHeight;
    for (int row = first; row <= last; ++row)
        for (int col = 0; col < cols; ++col) {
            const Index k = Index(row) * cols + col;
            if (k >= Index(m_order.size())) return;
            paintTile(p, QRect(col * kTileWidth, row * kTileHeight - scroll, kTileWidth, kTileHeight),
                      m_order[std::size_t(k)]);
        }
}

void PredictionGallery::paintTile(QPainter& p, QRect tile, Index sample) const {
    const engine::SamplePredictions& s = m_record->predictions;
    const int label = s.labels[std::size_t(sample)], predicted = s.predicted[std::size_t(sample)];
    const bool wrong = label != predicted;
    const QRect inner = tile.adjusted(3, 3, -3, -3);
    p.fillRect(inner, wrong ? QColor(0xfd, 0xf0, 0xef) : QColor(0xf6, 0xf8, 0xf6));
    const QRect image(inner.left() + (inner.width() - kImage) / 2, inner.top() + 3, kImage, kImage);
    if (m_images) {
        const engine::Shape& shape = m_images->shape;
        const QImage digit(m_images->image(s.firstImage + sample), int(shape.w), int(shape.h), int(shape.w),
                           QImage::Format_Grayscale8);
        p.drawImage(image, digit);  // white on black, as MNIST stores it
    } else {
        p.fillRect(image, QColor(0xdd, 0xdd, 0xdd));
        p.setPen(QColor(0x88, 0x88, 0x88));
        p.setFont(tileFont(-2));
        p.drawText(image, Qt::AlignCenter | Qt::TextWordWrap, tr("no image"));
    }
    // "7 → 2  91%": the true class, the predicted one and its probability.
    const QRect text(inner.left(), image.bottom() + 2, inner.width(), 16);
    p.setFont(tileFont(-1, true));
    p.setPen(wrong ? palette::kRed.darker(120) : kInk);
    p.drawText(text, Qt::AlignCenter,
               QStringLiteral("%1 → %2  %3%")
                   .arg(label)
                   .arg(predicted)
                   .arg(std::lround(100 * s.probability(sample, predicted))));
    // The probabilities, one bar per class, the class digits under them.
    const int classes = s.classes, stride = std::max(2, (inner.width() - 4) / std::max(1, classes));
    const int left = inner.left() + (inner.width() - stride * classes) / 2;
    const int base = inner.bottom() - 12, top = text.bottom() + 3;
    p.fillRect(QRect(left, top, stride * classes, base - top), Qt::white);
    p.setFont(tileFont(-2));
    for (int c = 0; c < classes; ++c) {
        const double prob = std::clamp(double(s.probability(sample, c)), 0.0, 1.0);
        const int h = int(std::lround(prob * (base - top)));
        const QColor colour = c == label ? kGreen : c == predicted ? palette::kRed : QColor(0x99, 0x99, 0x99);
        if (h > 0) p.fillRect(QRect(left + c * stride + 1, base - h, stride - 2, h), colour);
        p.setPen(c == label ? kGreen : c == predicted ? palette::kRed : QColor(0x77, 0x77, 0x77));
        p.drawText(QRect(left + c * stride, base, stride, 12), Qt::AlignHCenter | Qt::AlignTop,
                   QString::number(c));
    }
}

bool PredictionGallery::viewportEvent(QEvent* event) {
    if (event->type() != QEvent::ToolTip) return QAbstractScrollArea::viewportEvent(event);
    auto* help = static_cast<QHelpEvent*>(event);
    const int k = sampleAt(help->pos());
    if (k < 0) {
        QToolTip::hideText();
        return true;
    }
    const engine::SamplePredictions& s = m_record->predictions;
    const Index sample = m_order[std::size_t(k)];
    QString text = tr("%1 image %2: a %3, predicted %4")
                       .arg(QString::fromStdString(m_record->confusion.split))
                       .arg(s.firstImage + sample)
                       .arg(s.labels[std::size_t(sample)])
                       .arg(s.predicted[std::size_t(sample)]);
    for (int c = 0; c < s.classes; ++c)
        text += QStringLiteral("\n%1: %2%").arg(c).arg(100 * s.probability(sample, c), 0, 'f', 2);
    QToolTip::showText(help->globalPos(), text, viewport());
    return true;
}

}  // namespace bnlab::ui
