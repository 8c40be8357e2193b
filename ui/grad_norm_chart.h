#pragma once

// Gradient norms per parameter over the probe steps, on a log axis: one line per parameter, coloured by
// layer, weights (and γ) solid, biases (and β) dashed. Optionally the update-to-weight ratio ‖Δw‖/‖w‖
// instead. Zero and non-finite values have no place on a log axis and are left out.

#include "chart_style.h"
#include "run_data.h"

#include <QLineSeries>
#include <QWidget>

#include <memory>
#include <vector>

#include <string>
#include <vector>

namespace bnlab::ui {

class GradNormChart final : public QWidget {
    Q_OBJECT
    Q_DISABLE_COPY_MOVE(GradNormChart)

public:
    explicit GradNormChart(QWidget* parent = nullptr);

    // Both take effect at the next refresh().
    void setShowUpdateRatio(bool show);
    [[nodiscard]] bool showUpdateRatio() const { return m_showUpdateRatio; }
    void setXAxis(XAxis axis);
    [[nodiscard]] XAxis xAxis() const { return m_xAxis; }

    // Redraws from run (cheap when nothing changed since the last call). Call at a bounded rate.
    void refresh(const app::RunData& run);

private:
    void setParams(const std::vector<std::string>& names);  // one series per name, rebuilt when names change

    QChart* m_chart = nullptr;
    QValueAxis* m_x = nullptr;
    QLogValueAxis* m_y = nullptr;
    std::vector<std::string> m_names;
    std::vector<QLineSeries*> m_series;  // owned by m_chart, one per name
    bool m_showUpdateRatio = false;
    XAxis m_xAxis = XAxis::Step;
    RunStamp m_stamp;
    std::vector<std::unique_ptr<ChangeMarks>> m_marks;
};

}  // namespace bnlab::ui
