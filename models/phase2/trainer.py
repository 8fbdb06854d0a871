"""The project's torch training loop: mini-batches on the best device, mixed precision on cuda.

A ``TorchEstimator`` is a scikit-learn estimator whose ``_module`` builds a torch network and
whose ``_loss`` scores a batch. It is ``EpochTrainable``, so the pipeline's train step drives it
epoch by epoch with a progress bar and checkpoints (pipeline/train.py), and ``fit`` runs the same
epochs without either. What the loop adds to a plain PyTorch loop, and what it costs
(benchmarks/bench_training.py):

- the device: ``device="auto"`` takes cuda, then mps, then the CPU; the data moves there once;
- mixed precision on cuda: autocast to bfloat16 where the GPU has it, else float16 with a
  gradient scaler; float32 elsewhere;
- determinism: the seed fixes the initial weights, the batch order and the noise a model draws,
  and a checkpoint carries torch's random state, so a resumed run ends where an unbroken one does;
- the epoch loss is summed on the device and read once per epoch, not once per batch;
- a model with a ``clip`` parameter has its global gradient norm clipped to it.
"""

from __future__ import annotations

import numpy as np

from models.base import EpochTrainable


def best_device(requested: str = "auto") -> str:
    import torch

    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def autocast_dtype(device: str, precision: str):
    """The dtype mixed precision computes in on this device, or None for full float32."""
    import torch

    if precision not in ("auto", "fp32"):
        raise ValueError(f"precision must be auto or fp32, got {precision!r}")
    if device != "cuda" or precision == "fp32":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class TorchEstimator(EpochTrainable):
    """Subclasses set the hyperparameters in ``__init__`` and implement ``_module(X, y)`` (the
    network, built once the data's shape is known), ``_tensors(X, y)`` (inputs and targets as
    tensors) and ``_loss(module, inputs, targets)``. Fitted: ``module_`` (on the CPU),
    ``loss_history_``, ``device_``."""

    learning_rate: float
    batch_size: int
    device: str
    precision: str

    # -- what a model defines ---------------------------------------------------------------
    def _module(self, X: np.ndarray, y: np.ndarray):
        raise NotImplementedError

    def _tensors(self, X: np.ndarray, y: np.ndarray | None):
        raise NotImplementedError

    def _loss(self, module, inputs, targets):
        raise NotImplementedError

    def _optimizer(self, parameters):
        import torch

        return torch.optim.Adam(parameters, lr=self.learning_rate)

    # -- the loop ------------------------------------------------------------------------------
    def _init_state(self, X, y) -> None:
        import torch

        torch.manual_seed(0 if self.random_state is None else self.random_state)
        self.device_ = best_device(self.device)
        self.module_ = self._module(X, y).to(self.device_)
        self.optimizer_ = self._optimizer(self.module_.parameters())
        self.amp_dtype_ = autocast_dtype(self.device_, self.precision)
        self.scaler_ = torch.amp.GradScaler("cuda", enabled=self.amp_dtype_ == torch.float16)
        self.loss_history_ = []

    def _device_data(self, X, y):
        """The training data on the device, moved once per process (not pickled in checkpoints)."""
        key = (id(X), id(y))
        if getattr(self, "_data_key", None) != key:
            inputs, targets = self._tensors(X, y)
            self._data = (inputs.to(self.device_), targets.to(self.device_))
            self._data_key = key
        return self._data

    def _run_epoch(self, X, y, rng: np.random.Generator) -> float:
        import torch

        inputs, targets = self._device_data(X, y)
        module, optimizer, scaler = self.module_, self.optimizer_, self.scaler_
        clip = getattr(self, "clip", None)
        module.train()
        order = torch.from_numpy(rng.permutation(len(inputs))).to(self.device_)
        total = torch.zeros((), device=self.device_)
        for batch in order.split(self.batch_size):
            with torch.autocast(self.device_, dtype=self.amp_dtype_, enabled=self.amp_dtype_ is not None):
                loss = self._loss(module, inputs[batch], targets[batch])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if clip:  # the global gradient norm, on unscaled gradients
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
            scaler.step(optimizer)
            scaler.update()
            total += loss.detach().float() * len(batch)
        return float(total) / len(inputs)

    def _finish(self) -> None:
        """Keep the trained network on the CPU (it serves there) and drop the training state."""
        self.module_ = self.module_.to("cpu").eval()
        for attribute in ("optimizer_", "scaler_", "_data", "_data_key"):
            self.__dict__.pop(attribute, None)

    def _forward(self, X, call=None, batch_size: int = 1024) -> np.ndarray:
        """The trained network (or ``call(module, batch)``) over X in batches, as a NumPy array."""
        import torch

        from models.base import require_fitted

        require_fitted(self, "module_")
        inputs, _ = self._tensors(X, None)
        call = call or (lambda module, batch: module(batch))
        self.module_.eval()
        with torch.no_grad():
            parts = [call(self.module_, batch).float().cpu() for batch in inputs.split(batch_size)]
        return torch.cat(parts).numpy().astype(np.float64)

    # -- checkpoints carry torch's random state ----------------------------------------------
    def __getstate__(self):
        import torch

        state = {k: v for k, v in self.__dict__.items() if k not in ("_data", "_data_key")}
        if "optimizer_" in state:  # mid-training: a resumed run draws the same noise
            state["_torch_rng"] = torch.get_rng_state()
        return state

    def __setstate__(self, state):
        import torch

        rng = state.pop("_torch_rng", None)
        self.__dict__.update(state)
        if rng is not None:
            torch.set_rng_state(rng)
