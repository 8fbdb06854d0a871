"""The plots of `bert_mini`: the learning curves of pretraining and fine-tuning, and test accuracy beside the
from-random ablation and the Phase 1 text classifiers on the same split."""

from __future__ import annotations

import numpy as np

from pipeline.plots import PlotData, subplots


def learning_curves(data: PlotData):
    """Masked-LM loss per pretraining step, and fine-tuning loss per step from the pretrained encoder and
    from a random one; ours and the reference."""
    figure, ((pretraining, finetuning),) = subplots(2, 6)
    table = []
    for (name, model), colour in zip(data.models.items(), ("tab:blue", "tab:orange"), strict=False):
        pretraining.plot(model.pretrain_loss_history_, color=colour, alpha=0.8, linewidth=0.8, label=name)
        finetuning.plot(_smooth(model.finetune_loss_history_), color=colour, label=f"{name}, from masked LM")
        row = {"model": name, "final_mlm_loss": float(np.mean(model.pretrain_loss_history_[-20:] or [np.nan])),
               "final_finetune_loss": float(np.mean(model.finetune_loss_history_[-20:]))}  # fmt: skip
        if hasattr(model, "random_init_loss_history_"):
            finetuning.plot(_smooth(model.random_init_loss_history_), color=colour, linestyle="--",
                            label=f"{name}, from random init")  # fmt: skip
            row["final_random_init_loss"] = float(np.mean(model.random_init_loss_history_[-20:]))
        table.append(row)
    pretraining.set(xlabel="step", ylabel="masked-LM cross-entropy (nats)", title="Pretraining")
    finetuning.set(xlabel="step", ylabel="cross-entropy (mean of 20 steps)", title="Fine-tuning for sentiment")
    pretraining.legend(fontsize=8)
    finetuning.legend(fontsize=8)
    return figure, table


def _smooth(losses: list[float], window: int = 20) -> np.ndarray:
    losses = np.asarray(losses, dtype=float)
    if len(losses) < window:
        return losses
    return np.convolve(losses, np.ones(window) / window, mode="valid")


def vs_baselines(data: PlotData):
    """Test accuracy of both BERTs fine-tuned from their masked-LM checkpoints and from random init, and of
    the Phase 1 naive Bayes and linear SVM (ours) fitted on the same training split."""
    from models.phase1.linear_svm.model import TextLinearSVM
    from models.phase1.naive_bayes.model import TextNaiveBayes

    y = np.asarray(data.y_test)
    scores = {}
    for name, model in data.models.items():
        scores[f"{name} from masked LM"] = float(np.mean(np.asarray(data.outputs[name]) == y))
        if hasattr(model, "random_init_module_"):
            scores[f"{name} from random init"] = float(np.mean(model.predict(data.X_test, random_init=True) == y))
    for label, baseline in (("naive Bayes", TextNaiveBayes()), ("linear SVM", TextLinearSVM(random_state=data.seed))):
        scores[label] = float(np.mean(baseline.fit(data.X_train, data.y_train).predict(data.X_test) == y))
    figure, ((axis,),) = subplots(1, 8)
    axis.bar(list(scores), list(scores.values()), color=[f"C{i}" for i in range(len(scores))])
    axis.set_ylim(max(0.0, min(scores.values()) - 0.05), min(1.0, max(scores.values()) + 0.02))
    axis.set(ylabel="accuracy (test)", title="BERT mini: pretraining and the Phase 1 baselines")
    axis.tick_params(axis="x", labelsize=7, rotation=20)
    return figure, scores


PLOTS = {function.__name__: function for function in (learning_curves, vs_baselines)}
