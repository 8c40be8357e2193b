#include "confusion_matrix.h"

#include "chart_style.h"

#include <QApplication>
#include <QHelpEvent>
#include <QLocale>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <cmath>

namespace bnlab::ui {
namespace {

constexpr double kCaption = 26;     // the caption line
constexpr double kAxisTitle = 18;   // "predicted class" above, "true class" to the left
constexpr double kClassLabel = 18;  // the class digits
constexpr double kRowShare = 46;    // right of the grid: each row's share right (recall)
constexpr double kMargin = 4;

QFont fontOf(double pointDelta, bool bold = false) {
    QFont font = QApplication::font();
    font.setPointSizeF(std::max(6.0, (font.pointSizeF() > 0 ? font.pointSizeF() : 9.0) + pointDelta));
    font.setBold(bold);
    return font;
}

QString percent(double fraction) {
    const double p = 100 * fraction;
    return p == 0 || p == 100 || p >= 99.95 ? QString::number(std::round(p)) + "%"
                                            : QString::number(p, 'f', p < 9.95 ? 1 : 0) + "%";
}

}  // namespace

std::string splitToShow(const app::RunData& run, const std::string& split) {
    if (!split.empty()) return split;
    for (const auto& c : run.confusions)
        if (c.split == "test") return "test";
    return "validation";
}

std::optional<engine::ConfusionRecord> latestConfusion(const app::RunData& run, const std::string& split) {
    for (auto it = run.confusions.rbegin(); it != run.confusions.rend(); ++it)
        if (it->split == split) return *it;
    return std::nullopt;
}

ConfusionMatrixView::ConfusionMatrixView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(false);
    setAttribute(Qt::WA_OpaquePaintEvent);
    setToolTip(QString());  // tooltips per cell (event())
}

void ConfusionMatrixView::setRecord(std::optional<engine::ConfusionRecord> record, const QString& emptyText) {
    m_record = std::move(record);
    m_emptyText = emptyText;
    if (m_selection && (!m_record || std::max(m_selection->first, m_selection->second) >= m_record->classes))
        m_selection.reset();
    update();
}

void ConfusionMatrixView::refresh(const app::RunData& run) {
    const std::string split = splitToShow(run, m_split);
    setRecord(latestConfusion(run, split),
              tr("No %1 evaluation in this run yet.").arg(QString::fromStdString(split)));
}

void ConfusionMatrixView::setSelection(std::optional<std::pair<int, int>> cell) {
    m_selection = cell;
    update();
}

ConfusionMatrixView::Geometry ConfusionMatrixView::geometry() const {
    const int classes = m_record ? std::max(1, m_record->classes) : 10;
    const double left = kMargin + kAxisTitle + kClassLabel, top = kCaption + kAxisTitle + kClassLabel;
    const double cell = std::max(4.0, std::min((width() - left - kRowShare - kMargin) / classes,
                                               (height() - top - kMargin) / classes));
    return {QRectF(left, top, cell * classes, cell * classes), cell};
}

QRectF ConfusionMatrixView::cellRect(int trueClass, int predicted) const {
    const Geometry g = geometry();
    return {g.grid.left() + predicted * g.cell, g.grid.top() + trueClass * g.cell, g.cell, g.cell};
}

std::optional<std::pair<int, int>> ConfusionMatrixView::cellAt(QPointF point) const {
    if (!m_record) return std::nullopt;
    const Geometry g = geometry();
    if (!g.grid.contains(point)) return std::nullopt;
    const int column = std::clamp(int((point.x() - g.grid.left()) / g.cell), 0, m_record->classes - 1);
    const int row = std::clamp(int((point.y() - g.grid.top()) / g.cell), 0, m_record->classes - 1);
    return std::pair{row, column};
}

QString ConfusionMatrixView::caption() const {
    if (!m_record) return {};
    const engine::ConfusionRecord& r = *m_record;
    const std::int64_t total = r.total();
    const QString split = r.split == "test" ? tr("Test") : tr("Validation");
    return tr("%1 at step %2: %3 right (%4 of %5)")
        .arg(split)
        .arg(r.step)
        .arg(total > 0 ? QString::number(100.0 * double(r.correct()) / double(total), 'f', 2) + "%"
                       : QStringLiteral("–"))
        .arg(QLocale().toString(qlonglong(r.correct())), QLocale().toString(qlonglong(total)));
}

void ConfusionMatrixView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.fillRect(rect(), Qt::white);
    p.setRenderHint(QPainter::Antialiasing, false);
    p.setRenderHint(QPainter::TextAntialiasing);
    const QColor ink(0x33, 0x33, 0x33);
    if (!m_record) {
        p.setPen(ink);
        p.setFont(fontOf(0));
        p.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignCenter | Qt::TextWordWrap, m_emptyText);
        return;
    }
    const engine::ConfusionRecord& r = *m_record;
    const Geometry g = geometry();
    const int n = r.classes;

    p.setPen(ink);
    p.setFont(fontOf(0, true));
    p.drawText(QRectF(kMargin, 0, width() - 2 * kMargin, kCaption), Qt::AlignVCenter | Qt::AlignLeft,
               caption());

    // Axis titles and class labels.
    p.setFont(fontOf(-1));
    p.drawText(QRectF(g.grid.left(), kCaption, g.grid.width(), kAxisTitle), Qt::AlignCenter,
               tr("predicted class"));
    p.save();
    p.translate(kMargin, g.grid.center().y());
    p.rotate(-90);
    p.drawText(QRectF(-g.grid.height() / 2, 0, g.grid.height(), kAxisTitle), Qt::AlignCenter,
               tr("true class"));
    p.restore();
    p.drawText(QRectF(g.grid.right() + 2, kCaption + kAxisTitle, kRowShare, kClassLabel), Qt::AlignCenter,
               tr("right"));
    p.setFont(fontOf(-1, true));
    for (int k = 0; k < n; ++k) {
        p.drawText(QRectF(g.grid.left() + k * g.cell, g.grid.top() - kClassLabel, g.cell, kClassLabel),
                   Qt::AlignCenter, QString::number(k));
        p.drawText(QRectF(g.grid.left() - kClassLabel, g.grid.top() + k * g.cell, kClassLabel - 3, g.cell),
                   Qt::AlignVCenter | Qt::AlignRight, QString::number(k));
    }

    // Mistakes are shaded relative to the most frequent one (by share of its row).
    double worst = 0;
    for (int t = 0; t < n; ++t)
        for (int q = 0; q < n; ++q)
            if (t != q && r.rowTotal(t) > 0)
                worst = std::max(worst, double(r.at(t, q)) / double(r.rowTotal(t)));
    const bool showShare = g.cell >= 34;
    QFont countFont = fontOf(g.cell >= 40 ? 0 : -1, true), shareFont = fontOf(-2);
    for (int t = 0; t < n; ++t) {
        const std::int64_t row = r.rowTotal(t);
        for (int q = 0; q < n; ++q) {
            const QRectF cell = cellRect(t, q);
            const std::int64_t count = r.at(t, q);
            const double share = row > 0 ? double(count) / double(row) : 0;
            double strength = t == q ? share : worst > 0 ? share / worst : 0;
            if (count > 0) strength = std::max(strength, 0.06);  // a single mistake still shows
            const QColor base = t == q ? palette::kBlue : palette::kRed;
            const QColor fill = palette::mix(QColor::fromRgb(t == q ? 0xf4f7fbu : 0xffffffu), base,
                                             std::clamp(strength, 0.0, 1.0));
            p.fillRect(cell, fill);
            const bool dark = strength > 0.55;
            p.setPen(count == 0 ? QColor(0xc8, 0xc8, 0xc8) : dark ? Qt::white : ink);
            p.setFont(countFont);
            if (showShare && count > 0) {
                p.drawText(cell.adjusted(0, 2, 0, -cell.height() / 2 + 2), Qt::AlignHCenter | Qt::AlignBottom,
                           QLocale().toString(qlonglong(count)));
                p.setFont(shareFont);
                p.drawText(cell.adjusted(0, cell.height() / 2 + 1, 0, -2), Qt::AlignHCenter | Qt::AlignTop,
                           percent(share));
            } else {
                p.drawText(cell, Qt::AlignCenter, QLocale().toString(qlonglong(count)));
            }
        }
        p.setPen(ink);
        p.setFont(fontOf(-1));
        p.drawText(QRectF(g.grid.right() + 2, g.grid.top() + t * g.cell, kRowShare, g.cell), Qt::AlignCenter,
                   row > 0 ? percent(double(r.at(t, t)) / double(row)) : QStringLiteral("–"));
    }
    // Grid lines, the diagonal framed, the selection on top.
    p.setPen(QPen(QColor(0xe0, 0xe0, 0xe0), 1));
    for (int k = 0; k <= n; ++k) {
        p.drawLine(QPointF(g.grid.left(), g.grid.top() + k * g.cell),
                   QPointF(g.grid.right(), g.grid.top() + k * g.cell));
        p.drawLine(QPointF(g.grid.left() + k * g.cell, g.grid.top()),
                   QPointF(g.grid.left() + k * g.cell, g.grid.bottom()));
    }
    p.setPen(QPen(palette::kBlue.darker(130), 1));
    for (int k = 0; k < n; ++k) p.drawRect(cellRect(k, k).adjusted(0.5, 0.5, -0.5, -0.5));
    if (m_selection) {
        p.setPen(QPen(Qt::black, 3));
        p.drawRect(cellRect(m_selection->first, m_selection->second).adjusted(1.5, 1.5, -1.5, -1.5));
    }
    // How to read it, where there is room below.
    const QRectF below(kMargin, g.grid.bottom() + 8, width() - 2 * kMargin, height() - g.grid.bottom() - 8);
    if (below.height() >= 40) {
        p.setPen(QColor(0x66, 0x66, 0x66));
        p.setFont(fontOf(-1));
        p.drawText(
            below, Qt::AlignTop | Qt::AlignLeft | Qt::TextWordWrap,
            tr("Each cell: how many images of the row's digit were predicted as the column's, and their "
               "share of "
               "the row. Blue: right; red: mistakes, the darkest the most frequent. Click a cell to show its "
               "images."));
    }
}

void ConfusionMatrixView::mousePressEvent(QMouseEvent* event) {
    const auto cell = cellAt(event->position());
    if (!cell || event->button() != Qt::LeftButton) return QWidget::mousePressEvent(event);
    m_selection = m_selection == cell ? std::nullopt : cell;
    update();
    Q_EMIT selectionChanged(m_selection);
}

bool ConfusionMatrixView::event(QEvent* event) {
    if (event->type() != QEvent::ToolTip) return QWidget::event(event);
    auto* help = static_cast<QHelpEvent*>(event);
    const auto cell = cellAt(help->pos());
    if (!cell) {
        QToolTip::hideText();
        event->ignore();
        return true;
    }
    const auto [t, q] = *cell;
    const std::int64_t count = m_record->at(t, q), row = m_record->rowTotal(t);
    const QString share = row > 0 ? percent(double(count) / double(row)) : QStringLiteral("–");
    QToolTip::showText(help->globalPos(),
                       t == q ? tr("%1 of the %2 images of a %3 recognised (%4). Click to show them.")
                                    .arg(count)
                                    .arg(row)
                                    .arg(t)
                                    .arg(share)
                              : tr("%1 images of a %2 taken for a %3 (%4 of the %2s). Click to show them.")
                                    .arg(count)
                                    .arg(t)
                                    .arg(q)
                                    .arg(share),
                       this);
    return true;
}

}  // namespace bnlab::ui
