#include "experiments.h"

#include "error.h"
#include "presets.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace bnlab::app {
namespace {

[[noreturn]] void fail(const QString& message) { throw ConfigError(message.toStdString()); }

// The MLP runs of the quick versions: about 3,000 steps of 60 images, 2-4 s each on 2 cores.
const QStringList kQuickMlp = {"max_steps=3000", "eval_interval=250", "probe_interval=50"};
const QStringList kQuickCnn = {"max_steps=150", "eval_interval=50", "probe_interval=10"};

std::vector<Experiment> build() {
    std::vector<Experiment> all;

    all.push_back({
        "covariate-shift",
        "Internal covariate shift (Ioffe & Szegedy 2015, Figure 1)",
        "BN makes training faster because each layer's inputs keep the same distribution while the layers "
        "before it change (less \"internal covariate shift\").",
        "Accuracy: the network with BN is ahead from the first few hundred steps. Activations: the input of the "
        "last hidden layer's sigmoids (15th, 50th, 85th percentile and the extremes, over all 100 units of that "
        "layer on a fixed batch; the paper follows a single unit). With BN it stays centred and keeps its spread; "
        "without it, it drifts and changes its spread for thousands of steps.",
        "Fork the run without BN after a few thousand steps with BN switched on (block.3.norm=before): does it "
        "catch up? Then read the noisy-bn experiment, which questions the explanation.",
        "bn-paper-mlp",
        {"max_steps=50000", "epochs=60", "eval_interval=1000", "probe_interval=250"},
        kQuickMlp,
        {{"BN before each sigmoid", {}, {"norm=before"}}, {"no BN", {}, {"norm=none"}}},
        {{"accuracy", "accuracy"}, {"activations-dense3", "activations", "dense3"}},
        "dense3",
        "step",
    });

    all.push_back({
        "learning-rate",
        "Higher learning rates",
        "With BN, much higher learning rates are safe and train faster.",
        "Loss and accuracy of the same network at learning rates 0.1 (a sane base), 0.5 (×5) and 3 (×30), with and "
        "without BN. Look at which runs diverge (the run stops and says at which step), which stall, and which "
        "converge fastest; the table ranks the final accuracies.",
        "Try learning rate 10 with BN; then change the learning rate during a run (the panel is live) and watch "
        "the run without BN react.",
        "bn-paper-mlp",
        {},
        kQuickMlp,
        {{"BN, lr 0.1", {}, {"norm=before", "learning_rate=0.1"}},
         {"BN, lr 0.5", {}, {"norm=before", "learning_rate=0.5"}},
         {"BN, lr 3", {}, {"norm=before", "learning_rate=3"}},
         {"no BN, lr 0.1", {}, {"norm=none", "learning_rate=0.1"}},
         {"no BN, lr 0.5", {}, {"norm=none", "learning_rate=0.5"}},
         {"no BN, lr 3", {}, {"norm=none", "learning_rate=3"}}},
        {{"loss-accuracy", "loss-accuracy"}},
        "dense3",
        "step",
    });

    all.push_back({
        "initialization",
        "Less sensitivity to initialisation",
        "With BN, badly scaled initial weights matter much less.",
        "Weights drawn from a Gaussian with standard deviation 0.01 (too small: signals vanish layer by layer) and "
        "1 (too large: the sigmoids saturate), with and without BN. Activations: the output of the first hidden "
        "sigmoid layer; without BN it collapses to 0.5 (too small) or piles up at 0 and 1 (too large). BN "
        "rescales each layer's input, so both start like a well-initialised network.",
        "Try init_scale=5 and the ReLU network (keras-cnn with init=gaussian).",
        "bn-paper-mlp",
        {"init=gaussian"},
        kQuickMlp,
        {{"BN, std 0.01", {}, {"norm=before", "init_scale=0.01"}},
         {"BN, std 1", {}, {"norm=before", "init_scale=1"}},
         {"no BN, std 0.01", {}, {"norm=none", "init_scale=0.01"}},
         {"no BN, std 1", {}, {"norm=none", "init_scale=1"}}},
        {{"loss-accuracy", "loss-accuracy"}, {"activations-dense1-post", "activations", "dense1", true}},
        "dense1",
        "step",
    });

    all.push_back({
        "placement",
        "Before or after the activation",
        "The BN paper puts BN before the nonlinearity; the Keras MNIST tutorial's code puts it after the ReLU "
        "(while its text advises before). Does it matter?",
        "The MLP (sigmoid) and the convnet (ReLU), each with BN before the activation, after it, and without. "
        "Compare the accuracies and the activations' shape: before a sigmoid, BN keeps its input in the sigmoid's "
        "sensitive range; after it, BN normalises outputs that are already bounded.",
        "Switch placement during a run (block.N.norm in the live panel) and watch the loss react.",
        "bn-paper-mlp",
        {},
        kQuickMlp,
        {{"MLP, BN before", "bn-paper-mlp", {"norm=before"}},
         {"MLP, BN after", "bn-paper-mlp", {"norm=after"}},
         {"MLP, no BN", "bn-paper-mlp", {"norm=none"}},
         // The quick convnets: 150 steps of 128 (19,200 images), about 20 s each on 2 cores.
         {"CNN, BN before", "keras-cnn", {"norm=before"}, kQuickCnn},
         {"CNN, BN after", "keras-cnn", {"norm=after"}, kQuickCnn},
         {"CNN, no BN", "keras-cnn", {"norm=none"}, kQuickCnn}},
        {{"mlp-loss-accuracy", "loss-accuracy", {}, false, "samples", {"MLP, BN before", "MLP, BN after", "MLP, no BN"}},
         {"cnn-loss-accuracy", "loss-accuracy", {}, false, "samples", {"CNN, BN before", "CNN, BN after", "CNN, no BN"}}},
        "dense3",
        "samples",
    });

    all.push_back({
        "batch-size",
        "Small batches",
        "BN needs reasonably large batches: with a few samples per batch its statistics are noisy, and training "
        "(batch statistics) and inference (running statistics) disagree.",
        "BN at batch 2, 8, 32 and 128 against the number of samples seen (fair between batch sizes). Compare the "
        "training accuracy (measured on each batch with batch statistics) with the validation accuracy (running "
        "statistics): at batch 2 they part. A batch of one sample cannot be normalised at all, so batch size 1 "
        "with BN is refused. The last two runs try the alternatives at batch 2: LayerNorm (each sample normalised "
        "over its own features: the same in training and inference) and Batch Renormalization.",
        "Try bn_momentum=0.9 at batch 2 (the running statistics follow faster), and GroupNorm on the convnet "
        "(keras-cnn with norm_kind=group) at batch 4.",
        "bn-paper-mlp",
        {"norm=before"},
        {"epochs=1"},  // every run sees the same 55,000 images: one epoch
        // About ten evaluations and a hundred probes per epoch whatever the batch size.
        {{"batch 2", {}, {"batch_size=2", "eval_interval=2750", "probe_interval=275"}},
         {"batch 8", {}, {"batch_size=8", "eval_interval=690", "probe_interval=70"}},
         {"batch 32", {}, {"batch_size=32", "eval_interval=170", "probe_interval=17"}},
         {"batch 128", {}, {"batch_size=128", "eval_interval=43", "probe_interval=5"}},
         // The alternatives at the smallest batch: LayerNorm normalises each sample over its own features (no batch
         // statistics at all), Batch Renormalization corrects the batch statistics toward the running ones.
         {"batch 2, LayerNorm", {}, {"batch_size=2", "norm_kind=layer", "eval_interval=2750", "probe_interval=275"}},
         {"batch 2, Batch Renorm", {}, {"batch_size=2", "norm_kind=renorm", "eval_interval=2750", "probe_interval=275"}}},
        {{"loss-accuracy", "loss-accuracy", {}, false, "samples"}},
        "dense3",
        "samples",
    });

    all.push_back({
        "momentum",
        "Running statistics and their momentum",
        "Inference uses running averages of the batch statistics; with a high momentum they lag behind.",
        "BN momentum (Keras convention: the weight kept on the old average) 0.5, 0.9, 0.99 and 0.999. Validation "
        "accuracy early in training is low with 0.999: the running statistics still describe the initial network. "
        "The BN statistics chart (Run tab) shows the running mean trailing the batch mean.",
        "Change the momentum of a running run from the live panel and watch the running statistics catch up.",
        "bn-paper-mlp",
        {"norm=before", "eval_interval=50"},
        {"max_steps=1500", "probe_interval=25"},
        {{"momentum 0.5", {}, {"bn_momentum=0.5"}},
         {"momentum 0.9", {}, {"bn_momentum=0.9"}},
         {"momentum 0.99", {}, {"bn_momentum=0.99"}},
         {"momentum 0.999", {}, {"bn_momentum=0.999"}}},
        {{"loss-accuracy", "loss-accuracy"}},
        "dense3",
        "step",
    });

    all.push_back({
        "regularization",
        "A regularising effect",
        "BN regularises: the noise of batch statistics acts a little like Dropout, so the gap between training and "
        "validation accuracy is smaller.",
        "1,000 training images only, trained for many epochs (learning rate 0.5), with and without BN: the training loss goes to "
        "nearly zero without Dropout; compare the validation loss and accuracy (the gap is overfitting), and "
        "the same with Dropout (25% of each hidden layer's outputs dropped at random in training).",
        "Try batch_size=8 (noisier statistics, more regularisation) and weight_decay=1e-4.",
        "bn-paper-mlp",
        // Learning rate 0.5: at 0.1 the sigmoid network without BN is still on its initial plateau when the small
        // training set is learnt by heart with BN, and the gap would say nothing about regularisation.
        {"train_size=1000", "learning_rate=0.5", "epochs=200", "eval_interval=170"},
        {"epochs=60", "eval_interval=50"},
        {{"BN", {}, {"norm=before"}},
         {"no BN", {}, {"norm=none"}},
         {"no BN, Dropout 0.25", {}, {"norm=none", "dropout=0.25"}},
         {"BN, Dropout 0.25", {}, {"norm=before", "dropout=0.25"}}},
        {{"loss-accuracy", "loss-accuracy", {}, false, "epoch"}},
        "dense3",
        "epoch",
    });
    all.push_back({
        "noisy-bn",
        "Noisy BN: does BN help by reducing internal covariate shift? (Santurkar et al. 2018)",
        "BN helps because it keeps each layer's input distribution stable (Ioffe & Szegedy's \"internal covariate "
        "shift\"). Santurkar, Tsipras, Ilyas & Madry (2018) disagree: BN with noise that shifts every layer's input "
        "distribution at every step still trains about as well as BN, and what BN changes is the loss landscape, "
        "which it makes smoother (a flatter loss along the gradient, more predictive gradients).",
        "Loss and accuracy: BN, BN with noise after each BN layer (each feature scaled by s ~ U(1, 2) and shifted by "
        "m ~ U(-1, 1), drawn afresh at every step, in training only) and no BN. Activations: the input of the last "
        "hidden sigmoids; with noise the band is wider and jitters from probe to probe (each unit is shifted by its "
        "own m, so pooled over the layer the shifts show as spread), without BN it drifts. Landscape (every 50 "
        "steps of the quick version, on the training batch): the loss at 0.25, 0.5, 1, 2 and 4 times the learning "
        "rate along the gradient (the band is its range), the gradient predictiveness max ||g(w) - g(w - s g)|| and "
        "the effective beta-smoothness (the same divided by the step length), and internal covariate shift measured "
        "through gradients: how much a layer's gradient changes (L2 distance, cosine) when the layers before it take "
        "their update first. The paper's claim is that the BN runs have the flatter loss, the smaller changes and a "
        "smaller beta, and that BN does not reduce this ICS.",
        "Try bn_noise_mean=2 bn_noise_scale=4 (does noisy BN still train?), the convnet (keras-cnn with "
        "bn_noise=on landscape_interval=10), and a larger learning rate, where the smoother landscape should matter "
        "more.",
        "bn-paper-mlp",
        {"max_steps=20000", "eval_interval=1000", "probe_interval=200", "landscape_interval=200"},
        kQuickMlp + QStringList{"landscape_interval=50"},
        {{"BN", {}, {"norm=before"}},
         {"BN + noise", {}, {"norm=before", "bn_noise=on"}},
         {"no BN", {}, {"norm=none"}}},
        {{"loss-accuracy", "loss-accuracy"},
         {"activations-dense3", "activations", "dense3"},
         {"loss-landscape", "loss-landscape"},
         {"beta-smoothness", "beta-smoothness"},
         {"gradient-predictiveness", "gradient-predictiveness"},
         {"ics-dense3", "ics", "dense3"},
         {"ics-cosine-dense3", "ics-cosine", "dense3"}},
        "dense3",
        "step",
    });
    return all;
}

}  // namespace

const std::vector<Experiment>& experiments() {
    static const std::vector<Experiment> all = build();
    return all;
}

const Experiment& findExperiment(const QString& name) {
    QStringList names;
    for (const Experiment& e : experiments()) {
        if (e.name == name) return e;
        names << e.name;
    }
    fail("experiment: unknown '" + name + "' (known: " + names.join(", ") + ")");
}

std::vector<RunConfig> experimentConfigs(const Experiment& e, bool quick, const QStringList& overrides) {
    std::vector<RunConfig> out;
    for (const ExperimentRun& r : e.runs) {
        RunConfig c = findPreset(r.preset.isEmpty() ? e.preset : r.preset).config;
        QStringList settings = e.common + r.settings;
        if (quick) settings += r.quick.isEmpty() ? e.quick : r.quick;
        settings += overrides;
        for (const QString& s : settings) {
            try {
                applySetting(c, s);
            } catch (const std::exception& ex) {
                fail(e.name + ", run '" + r.label + "': " + QString::fromStdString(ex.what()));
            }
        }
        out.push_back(std::move(c));
    }
    return out;
}

QString experimentSummaryCsv(const Experiment& e, const std::vector<RunData>& runs) {
    auto quoted = [](QString text) { return "\"" + text.replace("\"", "\"\"") + "\""; };
    auto number = [](double v) { return QString::number(v, 'g', 6); };
    QString csv = "run,preset,settings,steps,train_loss,train_accuracy,val_loss,val_accuracy,best_val_accuracy,"
                  "test_accuracy,stopped,seconds\n";
    for (std::size_t i = 0; i < runs.size() && i < e.runs.size(); ++i) {
        const RunData& r = runs[i];
        const ExperimentRun& spec = e.runs[i];
        double valLoss = std::numeric_limits<double>::quiet_NaN(), valAcc = valLoss, best = valLoss, test = valLoss;
        for (const engine::EvalRecord& ev : r.evals) {
            if (ev.split == "validation") {
                valLoss = ev.loss;
                valAcc = ev.accuracy;
                best = std::isnan(best) ? ev.accuracy : std::max(best, ev.accuracy);
            } else if (ev.split == "test") {
                test = ev.accuracy;
            }
        }
        const engine::StepRecord* last = r.steps.empty() ? nullptr : &r.steps.back();
        QString stopped = "running";
        if (r.summary) {
            switch (r.summary->reason) {
                case engine::StopReason::Completed: stopped = "completed"; break;
                case engine::StopReason::MaxSteps: stopped = "max_steps"; break;
                case engine::StopReason::Stopped: stopped = "stopped"; break;
                case engine::StopReason::Diverged: stopped = "diverged at step " + QString::number(r.summary->divergedStep); break;
            }
        }
        auto cell = [&](double v) { return std::isnan(v) ? QString() : number(v); };
        csv += quoted(spec.label) + "," + (spec.preset.isEmpty() ? e.preset : spec.preset) + "," +
               quoted(spec.settings.join(" ")) + "," + QString::number(last ? last->step : 0) + "," +
               cell(last ? last->lossEma : NAN) + "," + cell(last ? last->accuracyEma : NAN) + "," + cell(valLoss) + "," +
               cell(valAcc) + "," + cell(best) + "," + cell(test) + "," + stopped + "," +
               cell(r.summary ? r.summary->seconds : NAN) + "\n";
    }
    return csv;
}

}  // namespace bnlab::app
