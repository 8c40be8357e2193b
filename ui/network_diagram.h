#pragma once

#include "network_spec.h"

#include <QStringList>
#include <QWidget>

namespace bnlab::ui {

// The network drawn as a row of small boxes (Dense 100 → BN → σ → ...) that follows the layer table.
class NetworkDiagram final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NetworkDiagram)

public:
    explicit NetworkDiagram(QWidget* parent = nullptr);
    void setSpec(const engine::NetworkSpec& spec);
    // Noise after every BN and Batch Renorm layer (bn_noise, the noisy-bn experiment): drawn as a box after each.
    void setBatchNormNoise(bool noise);
    [[nodiscard]] QStringList boxTexts() const;  // what the boxes say, in order
    [[nodiscard]] QSize sizeHint() const override;
    [[nodiscard]] int heightForWidth(int width) const override;
    [[nodiscard]] bool hasHeightForWidth() const override { return true; }

protected:
    void paintEvent(QPaintEvent*) override;

private:
    struct Box {
        QString text;
        QColor color;
    };
    [[nodiscard]] std::vector<Box> boxes() const;
    [[nodiscard]] std::vector<QRect> layout(int width) const;

    engine::NetworkSpec m_spec;
    bool m_noise = false;
};

}  // namespace bnlab::ui
