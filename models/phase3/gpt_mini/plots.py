"""The plots of `gpt_mini`: learning curves of both models and what each writes after training."""

from __future__ import annotations

from pipeline.plots import PlotData, subplots


def learning_curves(data: PlotData):
    """Training loss per iteration and validation loss at each evaluation, ours and the reference."""
    figure, ((axis,),) = subplots(1, 7)
    table = []
    for (name, report), colour in zip(data.reports.items(), ("tab:blue", "tab:orange"), strict=False):
        axis.plot(report["loss_history"], color=colour, alpha=0.35, linewidth=0.8, label=f"{name} train")
        validation = report.get("val_loss_history") or []
        if validation:
            steps = report.get("eval_iterations") or list(range(len(validation)))
            axis.plot(steps, validation, color=colour, marker="o", label=f"{name} validation")
            table.append({"model": name, "final_val_loss": validation[-1], "final_train_loss": report["final_loss"]})
    axis.set(xlabel="iteration", ylabel="cross-entropy (nats per character)", title="GPT mini: learning curves")
    axis.legend(fontsize=8)
    return figure, table


def samples(data: PlotData):
    """200 characters each model writes from a newline (temperature 0.8, top-k 20, the run's seed)."""
    figure, ((axis,),) = subplots(1, 9)
    axis.axis("off")
    text = "\n\n".join(f"[{name}]\n{sample}" for name, sample in data.outputs.items())
    axis.text(0.0, 1.0, text, family="monospace", fontsize=7, va="top", wrap=True)
    return figure, [{"model": name, "sample": sample} for name, sample in data.outputs.items()]


PLOTS = {function.__name__: function for function in (learning_curves, samples)}
