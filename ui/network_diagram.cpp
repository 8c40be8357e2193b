#include "network_diagram.h"

#include <QFontMetrics>
#include <QPainter>
#include <QPainterPath>

namespace bnlab::ui {
namespace {
constexpr int kPad = 6, kGap = 14, kRow = 26, kLineGap = 8;

const QColor kLinear(0x4c, 0x72, 0xb0), kNorm(0xdd, 0x84, 0x52), kAct(0x55, 0xa8, 0x68), kOther(0x8c, 0x8c, 0x8c);

QString actSymbol(engine::ActivationKind a) {
    switch (a) {
        case engine::ActivationKind::ReLU: return "ReLU";
        case engine::ActivationKind::Sigmoid: return QString::fromUtf8("σ");
        case engine::ActivationKind::Tanh: return "tanh";
    }
    return "?";
}
}  // namespace

NetworkDiagram::NetworkDiagram(QWidget* parent) : QWidget(parent) {
    setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Preferred);
    setToolTip(tr("The network as it will be built: blue boxes are Dense or Conv layers, orange ones "
                  "normalisation (BN: Batch Normalization, LN: LayerNorm, GN: GroupNorm, BRN: Batch "
                  "Renormalization), green ones activations, grey ones pooling, flattening and Dropout. The softmax "
                  "output layer is added automatically."));
}

void NetworkDiagram::setBatchNormNoise(bool noise) {
    if (noise == m_noise) return;
    m_noise = noise;
    updateGeometry();
    update();
}

void NetworkDiagram::setSpec(const engine::NetworkSpec& spec) {
    m_spec = spec;
    updateGeometry();
    update();
}

QStringList NetworkDiagram::boxTexts() const {
    QStringList out;
    for (const Box& b : boxes()) out << b.text;
    return out;
}

std::vector<NetworkDiagram::Box> NetworkDiagram::boxes() const {
    using engine::BlockKind;
    std::vector<Box> out;
    for (const engine::BlockSpec& b : m_spec.blocks) {
        switch (b.kind) {
            case BlockKind::Dense: out.push_back({QString("Dense %1").arg(b.size), kLinear}); break;
            case BlockKind::Conv2D: out.push_back({QString("Conv %1 %2x%2").arg(b.size).arg(b.kernel), kLinear}); break;
            case BlockKind::MaxPool2D: out.push_back({QString("MaxPool %1").arg(b.kernel), kOther}); break;
            case BlockKind::Flatten: out.push_back({"Flatten", kOther}); break;
        }
        if (!b.isLinear()) continue;
        static const char* const kNormName[] = {"BN", "LN", "GN", "BRN"};  // by NormKind
        const QString normBox = kNormName[int(b.normKind)];
        const bool noisy = m_noise && (b.normKind == engine::NormKind::Batch || b.normKind == engine::NormKind::Renorm);
        auto addNorm = [&] {
            out.push_back({normBox, kNorm});
            if (noisy) out.push_back({"+noise", kNorm});
        };
        if (b.norm == engine::NormPlacement::Before) addNorm();
        if (b.activation) out.push_back({actSymbol(*b.activation), kAct});
        if (b.norm == engine::NormPlacement::After) addNorm();
        if (b.dropout > 0) out.push_back({QString("Dropout %1").arg(double(b.dropout)), kOther});
    }
    out.push_back({"Dense → softmax", kLinear});
    return out;
}

std::vector<QRect> NetworkDiagram::layout(int width) const {
    const QFontMetrics fm(font());
    std::vector<QRect> rects;
    int x = 0, y = 0;
    for (const Box& b : boxes()) {
        const int w = fm.horizontalAdvance(b.text) + 2 * kPad;
        if (x > 0 && x + w > width) {
            x = 0;
            y += kRow + kLineGap;
        }
        rects.emplace_back(x, y, w, kRow);
        x += w + kGap;
    }
    return rects;
}

QSize NetworkDiagram::sizeHint() const { return {280, heightForWidth(280)}; }

int NetworkDiagram::heightForWidth(int width) const {
    const auto rects = layout(width);
    return rects.empty() ? kRow : rects.back().bottom() + 2;
}

void NetworkDiagram::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const auto items = boxes();
    const auto rects = layout(width());
    for (std::size_t i = 0; i < items.size(); ++i) {
        const QRect& r = rects[i];
        p.setPen(Qt::NoPen);
        p.setBrush(items[i].color);
        p.drawRoundedRect(r, 5, 5);
        p.setPen(Qt::white);
        p.drawText(r, Qt::AlignCenter, items[i].text);
        if (i + 1 < items.size() && rects[i + 1].top() == r.top()) {  // an arrow to the next box on the row
            p.setPen(QPen(palette().color(QPalette::Text), 1.2));
            const int y = r.center().y(), x0 = r.right() + 2, x1 = rects[i + 1].left() - 2;
            p.drawLine(x0, y, x1, y);
            p.drawLine(x1, y, x1 - 4, y - 3);
            p.drawLine(x1, y, x1 - 4, y + 3);
        }
    }
}

}  // namespace bnlab::ui
