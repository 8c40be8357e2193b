#pragma once

#include "network_spec.h"

#include <QWidget>

namespace bnlab::ui {

// The network drawn as a row of small boxes (Dense 100 → BN → σ → ...) that follows the layer table.
class NetworkDiagram final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(NetworkDiagram)

public:
    explicit NetworkDiagram(QWidget* parent = nullptr);
    void setSpec(const engine::NetworkSpec& spec);
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
};

}  // namespace bnlab::ui
