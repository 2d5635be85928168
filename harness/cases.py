"""Built-in comparison cases: one description builds the same model, data and training step in both engines.

Interface (also what ``harness.bench`` builds its engines from)::

    case = get_case("mlp")                       # or CASES["mlp"]; list(CASES) gives the names
    batches = case.batches(steps=20, seed=0, batch_size=256, data_dir=None)    # [(x, y)] float32 / int64 numpy
    pair = case.build(dtype="float32", seed=0)   # Pair with .funcad (FuncadEngine) and .torch (TorchEngine)

    f, t = pair.funcad, pair.torch
    xf, yf = f.prepare(*batches[0])              # funcad Tensors in the pair's dtype (xf a tuple for several inputs)
    f.train_step(xf, yf)                         # plain function: value_and_grad + optimizer(grads); jit-able
    f.grad_fn(xf, yf); f.net(xf)                 # forward+backward, forward
    xt, yt = t.prepare(*batches[0])              # torch tensors on the trainer's device
    t.trainer.step_tensors(xt, yt)               # zero_grad, forward, loss, backward, step

Both sides start from identical parameters: the funcad Cell is drawn under ``funcad.set_seed(seed)``, cast to the
dtype, and copied into the torch module through the bridge (which checks names, shapes and dtypes). Optimizers of
both sides come from one ``OptimizerSpec``, so hyperparameters cannot drift apart. ``Case.known_differences``
lists the semantic differences in play (optimizer formula, BatchNorm momentum convention, ...).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

import funcad
from funcad import nn
from harness import datasets
from harness import models as funcad_models
from harness.engines import FuncadEngine, TorchEngine
from harness.inputs import Inputs, as_inputs, describe
from harness.metrics import Tolerance
from harness.mixed import MIXED, AutocastTrainer, ScaledFuncadEngine, storage_dtype
from torch_ref import models as torch_models
from torch_ref.bridge import copy_funcad_to_torch, default_name_map
from torch_ref.mirror import mirror_twin
from torch_ref.optim import ADAM_EPSILON_NOTE, WEIGHT_DECAY_FILTER_NOTE, make_torch_optimizer
from torch_ref.pipeline import TorchTrainer

Batches = list[tuple[Inputs, np.ndarray]]  # (inputs, target); inputs one array or a tuple of them (``harness.inputs``)

FLOAT16_ADAM_EPS = 1e-4  # above float16's smallest normal number (6.1e-5), as float16 Adam setups use

LOSSES: dict[str, tuple[Callable, Callable]] = {
    "cross_entropy": (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss),
    "bce_with_logits": (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss),
    "mse": (nn.MSELoss, torch.nn.MSELoss),
}


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer's hyperparameters, built for both engines: funcad's ``nn.SGD``/``nn.Momentum``/``nn.Adam`` and torch's."""

    kind: str  # 'sgd' | 'momentum' | 'adam'
    learning_rate: float
    momentum: float = 0.0
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self):
        if self.kind not in ("sgd", "momentum", "adam"):
            raise ValueError(f"OptimizerSpec: unknown kind {self.kind!r}; known: sgd, momentum, adam")

    def funcad(self, params) -> nn.Optimizer:
        if self.kind == "sgd":
            return nn.SGD(params, self.learning_rate, momentum=self.momentum, weight_decay=self.weight_decay)
        if self.kind == "momentum":
            return nn.Momentum(params, self.learning_rate, self.momentum, weight_decay=self.weight_decay)
        return nn.Adam(params, self.learning_rate, self.beta1, self.beta2, self.eps, weight_decay=self.weight_decay)

    def torch(self, named_params, variant: str, decays: Callable[[str], bool] | None) -> torch.optim.Optimizer:
        return make_torch_optimizer(self.kind, named_params, variant, lr=self.learning_rate, momentum=self.momentum,
                                    weight_decay=self.weight_decay, betas=(self.beta1, self.beta2), eps=self.eps, decays=decays)

    def describe(self, variant: str) -> str:
        hp = f"lr {self.learning_rate:g}"
        if self.momentum:
            hp += f", momentum {self.momentum:g}"
        if self.weight_decay:
            hp += f", weight decay {self.weight_decay:g}"
        if self.kind == "adam":
            hp += f", betas ({self.beta1:g}, {self.beta2:g}), eps {self.eps:g}"
        torch_side = {"adam": ("MindSporeAdam (funcad's formula)", "torch.optim.Adam"),
                      "sgd": ("torch.optim.SGD", "torch.optim.SGD"), "momentum": ("torch.optim.SGD(momentum)", "torch.optim.SGD(momentum)")}
        exact, stock = torch_side[self.kind]
        funcad_name = {"sgd": "SGD", "momentum": "Momentum", "adam": "Adam"}[self.kind]
        return f"funcad nn.{funcad_name} vs torch {exact if variant == 'exact' else stock} ({hp})"

    def differences(self, variant: str, param_names: Sequence[str]) -> list[str]:
        """The optimizer differences in play: none with the exact variant; the stock one's otherwise."""
        notes = []
        if variant == "stock" and self.kind == "adam":
            notes.append(ADAM_EPSILON_NOTE)
        if variant == "stock" and self.weight_decay and any("beta" in n or "gamma" in n for n in param_names):
            notes.append(WEIGHT_DECAY_FILTER_NOTE)
        if variant == "exact" and self.kind == "adam":
            notes.append("Adam: torch side runs torch_ref.optim.MindSporeAdam, funcad's formula; stock torch.optim.Adam "
                         "would differ (" + ADAM_EPSILON_NOTE.split(': ', 1)[1] + ")")
        return notes


@dataclass
class Pair:
    """The two engines of one case in one dtype, starting from identical parameters."""

    case: Case
    dtype: str
    funcad: FuncadEngine
    torch: TorchEngine


@dataclass(frozen=True)
class Case:
    """A model, its data, loss and optimizer, buildable in both engines. See the module docstring for use."""

    name: str
    description: str
    funcad_model: Callable[[], nn.Cell]
    torch_model: Callable[[], torch.nn.Module] | None  # None: the funcad model's mirror (torch_ref.mirror)
    loss: str | tuple[Callable, Callable]  # a LOSSES key, or (funcad loss class, torch loss class)
    optimizer: OptimizerSpec
    data: Callable[[int | None, int, int, str | Path | None], Batches]  # (batch_size, steps, seed, data_dir) -> batches
    batch_size: int | None = 64
    has_aux: bool = False
    torch_optimizer: str = "exact"
    tolerances: Mapping[str, Tolerance] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    source: Callable[[str | Path | None], str] = lambda data_dir: "user batches"  # data_dir -> where the data comes from

    def describe_data(self, batches: Batches, data_dir: str | Path | None = None) -> str:
        """Where the batches come from and what they hold, e.g. ``user batches: 4 x float32[32, 784]``."""
        return f"{self.source(data_dir)}: {len(batches)} x {_shapes(batches)}"

    def batches(self, steps: int, seed: int = 0, batch_size: int | None = None, data_dir: str | Path | None = None) -> Batches:
        return self.data(batch_size or self.batch_size, steps, seed, data_dir)

    def build(self, dtype: str = "float32", seed: int = 0, device: str | None = None, torch_optimizer: str | None = None) -> Pair:
        variant = torch_optimizer or self.torch_optimizer
        mixed = dtype == MIXED  # float32 master weights, float16 compute and loss scaling on both sides (harness.mixed)
        storage = storage_dtype(dtype)
        funcad.set_seed(seed)
        net = self.funcad_model()
        net.set_dtype(storage)
        optimizer = self.optimizer.funcad(net.trainable_params())
        make_funcad_loss, make_torch_loss = LOSSES[self.loss] if isinstance(self.loss, str) else self.loss
        engine = (ScaledFuncadEngine if mixed else FuncadEngine)(net, make_funcad_loss(), optimizer, self.has_aux)

        torch.manual_seed(seed)
        if self.torch_model is None:
            twin = mirror_twin(net)
            module, name_map = twin.module, twin.parameter_names
        else:
            module, name_map = self.torch_model(), default_name_map(net)
        decays = {name_map[p.name]: wd > 0.0 for p, wd in zip(optimizer.parameters, optimizer.weight_decays)}
        make_optimizer = lambda named: self.optimizer.torch(named, variant, decays.get)  # noqa: E731
        trainer = (AutocastTrainer if mixed else TorchTrainer)(module, make_torch_loss(), make_optimizer, storage, device)
        if self.torch_model is not None:
            copy_funcad_to_torch(net, trainer.model, name_map)
        torch_engine = TorchEngine(trainer, name_map, list(name_map))
        engine.mask_seed = torch_engine.mask_seed = seed
        return Pair(self, dtype, engine, torch_engine)

    def for_dtypes(self, dtypes: Sequence[str]) -> Case:
        """This case as it runs beside ``dtypes``: in float16, Adam's epsilon 1e-8 rounds to 0 on both sides (torch keeps
        Adam's state in the parameters' dtype too), and an underflowed second moment then divides by zero, so a run with
        float16 takes ``FLOAT16_ADAM_EPS`` in every dtype, float64 truth included (the change is noted in the report)."""
        spec = self.optimizer
        if "float16" not in dtypes or spec.kind != "adam" or spec.eps >= FLOAT16_ADAM_EPS:
            return self
        note = f"Adam epsilon {spec.eps:g} -> {FLOAT16_ADAM_EPS:g} in every dtype of this run: {spec.eps:g} rounds to 0 in float16"
        return replace(self, optimizer=replace(spec, eps=FLOAT16_ADAM_EPS), notes=(*self.notes, note))

    def known_differences(self, torch_optimizer: str | None, param_names: Sequence[str]) -> list[str]:
        """This case's semantic differences between the two sides, given its funcad parameter names."""
        return list(self.notes) + self.optimizer.differences(torch_optimizer or self.torch_optimizer, list(param_names))


def _shapes(batches: Batches) -> str:
    """The inputs' dtypes and shapes, each distinct one once: ``float32[32, 784]``, ``(int64[8, 16], bool[8, 16])``."""
    return ", ".join(dict.fromkeys(describe(x) for x, _ in batches))


class BatchError(ValueError):
    """A user's batch that is not an ``(inputs, target)`` pair; the message names the flag and the batch."""


def _batch(index: int, batch, flag: str) -> tuple[Inputs, np.ndarray]:
    """One ``(inputs, target)`` batch as numpy (``harness.inputs``); anything else, or a target of several arrays, is a
    ``BatchError`` naming ``flag`` and the batch."""
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise BatchError(f"{flag}: batch {index} is not an (inputs, target) pair; several inputs go in a tuple: ((x1, x2), y)")
    x, y = batch
    if isinstance(y, (tuple, list)) and y and all(hasattr(v, "shape") for v in y):
        shapes = ", ".join(str(tuple(np.shape(v))) for v in y)
        raise BatchError(f"{flag}: batch {index}'s target is {len(y)} arrays ({shapes}); the loss takes one target array "
                         "(several inputs go in the batch's first element: ((x1, x2), y))")
    nested = [i for i, v in enumerate(x) if isinstance(v, (tuple, list))] if isinstance(x, (tuple, list)) else []
    if nested:
        raise BatchError(f"{flag}: batch {index}'s input {nested[0]} is a tuple of {len(x[nested[0]])}, not one array; each input is one "
                         "array (a recurrent state (h, c) included): wrap the model so its forward takes them apart, forward(x, h, c)")
    return as_inputs(x), np.asarray(y)


def user_batches(data, flag: str = "data") -> Batches:
    """A user's ``(inputs, target)`` batches as numpy, each checked (``_batch``; errors name ``flag``)."""
    return [_batch(i, batch, flag) for i, batch in enumerate(data)]


def user_case(cell, module: torch.nn.Module | None, loss: str | tuple[Callable, Callable], optimizer: OptimizerSpec, data: Batches,
              has_aux: bool = False, name: str = "user", tolerances: Mapping[str, Tolerance] | None = None, torch_optimizer: str = "exact",
              description: str = "user-supplied models", source: str | None = None) -> Case:
    """A Case around a user's own pair of models (no module: the Cell's mirror); each build works on deep copies, so the
    originals stay untouched. ``source`` says where the batches come from in the report (default: given by the user)."""
    if isinstance(loss, str) and loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)} (or pass a (funcad_loss_class, torch_loss_class) pair)")
    batches = user_batches(data)
    if not batches:
        raise ValueError("compare: data holds no (x, y) batches")
    return Case(name, description, lambda: copy.deepcopy(cell), None if module is None else (lambda: copy.deepcopy(module)), loss, optimizer,
                lambda batch_size, steps, seed, data_dir: [batches[i % len(batches)] for i in range(steps)],
                batch_size=None, has_aux=has_aux, torch_optimizer=torch_optimizer, tolerances=dict(tolerances or {}),
                source=lambda data_dir: source or f"user batches ({len(batches)} given, cycled)")


# -- the built-in cases ---------------------------------------------------------------------------------------------

def _tutorial_data(batch_size, steps, seed, data_dir) -> Batches:
    x, y = np.ones(5, dtype=np.float32), np.zeros(3, dtype=np.float32)
    return [(x, y)] * steps


def _logreg_data(batch_size, steps, seed, data_dir) -> Batches:
    x, y = datasets.breast_cancer()
    return datasets.batch_order(x, y, batch_size, steps, seed)


def _image_data(batch_size, steps, seed, data_dir) -> Batches:
    x, y = datasets.images_28(data_dir)
    return datasets.batch_order(x, y, batch_size, steps, seed)


def _colour_image_data(batch_size, steps, seed, data_dir) -> Batches:
    return datasets.batch_order(*datasets.colour_images_32(), batch_size, steps, seed)


def _signal_data(batch_size, steps, seed, data_dir) -> Batches:
    return datasets.batch_order(*datasets.signals(), batch_size, steps, seed)


def _token_data(batch_size, steps, seed, data_dir) -> Batches:
    return datasets.batch_order(*datasets.token_sequences(), batch_size, steps, seed)


def _image_source(data_dir) -> str:
    return "built-in digits upscaled to 28x28" if data_dir is None else f"{data_dir} (MNIST-format IDX files)"


BN_MOMENTUM_NOTE = ("BatchNorm momentum: funcad (MindSpore) momentum 0.9 weights the running statistic, torch momentum 0.1 weights the "
                    "batch statistic; the mirror uses torch momentum = 1 - 0.9. Both update running_var with the unbiased batch variance")

DROPOUT_NOTE = ("Dropout: both engines draw the same masks at each call (torch_ref.dropout: the torch side derives funcad's masks "
                "from funcad's key, set per engine call by the harness; torch's attention and stacked recurrent kernels run as "
                "their parts so that their dropout draws the same masks: torch_ref.kernel_dropout)")
SEQ_LENGTH_NOTE = ("seq_length: funcad's LSTM runs each sequence over its real length (MindSpore's seq_length); the torch twin "
                   "packs the batch with pack_padded_sequence")

CASES: dict[str, Case] = {c.name: c for c in [
    Case("tutorial", "the seed's linear model z = x @ w + b (w 5x3, b 3), x ones, y zeros, BCE with logits, SGD",
         funcad_models.TutorialLinear, torch_models.TutorialLinear, "bce_with_logits", OptimizerSpec("sgd", 0.1), _tutorial_data,
         batch_size=None, source=lambda data_dir: "built-in constant x = ones(5), y = zeros(3)"),
    Case("logreg", "logistic regression on breast cancer (standardised), BCE with logits, SGD",
         funcad_models.LogisticRegression, torch_models.LogisticRegression, "bce_with_logits", OptimizerSpec("sgd", 0.1), _logreg_data,
         source=lambda data_dir: "built-in breast cancer (standardised)"),
    Case("mlp", "quickstart MLP 784-512-512-10 on 28x28 images, cross-entropy, SGD 1e-2, value_and_grad(has_aux=True)",
         funcad_models.QuickstartMLP, torch_models.QuickstartMLP, "cross_entropy", OptimizerSpec("sgd", 1e-2), _image_data, has_aux=True,
         source=_image_source),
    Case("lenet", "LeNet-5 (two conv/ReLU/max-pool blocks, three Dense) on 28x28 images, cross-entropy, Adam",
         funcad_models.LeNet5, torch_models.LeNet5, "cross_entropy", OptimizerSpec("adam", 1e-3), _image_data, source=_image_source),
    Case("mlp_bn", "MLP 784-128 with BatchNorm1d, cross-entropy, Momentum 0.9 with weight decay 1e-4 (running statistics compared)",
         funcad_models.MLPBatchNorm, torch_models.MLPBatchNorm, "cross_entropy", OptimizerSpec("momentum", 1e-2, momentum=0.9, weight_decay=1e-4),
         _image_data, notes=(BN_MOMENTUM_NOTE,), source=_image_source),
    Case("resnet", "residual CNN (3x3 stem, two residual blocks with BatchNorm2d, global average pool, Dense) on synthetic 3x32x32 "
         "images, cross-entropy, Momentum 1e-3 (running statistics compared; torch twin built by torch_ref.mirror)",
         funcad_models.SmallResNet, None, "cross_entropy", OptimizerSpec("momentum", 1e-3, momentum=0.9), _colour_image_data,
         batch_size=16, notes=(BN_MOMENTUM_NOTE,), source=lambda data_dir: "built-in synthetic 3x32x32 colour images"),
    Case("conv1d", "1-D CNN (two Conv1d/BatchNorm1d/ReLU/MaxPool1d blocks, Dense) on synthetic noisy sines of 4 frequencies, "
         "cross-entropy, Adam (torch twin built by torch_ref.mirror)",
         funcad_models.SignalCNN, None, "cross_entropy", OptimizerSpec("adam", 1e-3), _signal_data, batch_size=32, notes=(BN_MOMENTUM_NOTE,),
         source=lambda data_dir: "built-in synthetic noisy sines"),
    Case("lstm", "Embedding and a 2-layer bidirectional LSTM with dropout 0.1 between its layers over synthetic token sequences of "
         "lengths 2..12 (seq_length), Dense on the final states, cross-entropy, Adam (torch twin built by torch_ref.mirror)",
         funcad_models.LSTMClassifier, None, "cross_entropy", OptimizerSpec("adam", 1e-3), _token_data, batch_size=16,
         notes=(SEQ_LENGTH_NOTE, DROPOUT_NOTE), source=lambda data_dir: "built-in synthetic token sequences"),
    Case("transformer", "token and position embeddings, a 2-layer Transformer encoder with a padding mask and dropout 0.1, Dense on "
         "the first position, cross-entropy, Adam (torch twin built by torch_ref.mirror)",
         funcad_models.TransformerClassifier, None, "cross_entropy", OptimizerSpec("adam", 1e-3), _token_data, batch_size=16,
         notes=(DROPOUT_NOTE,), source=lambda data_dir: "built-in synthetic token sequences"),
]}


class UnknownCaseError(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def get_case(name: str) -> Case:
    try:
        return CASES[name]
    except KeyError:
        raise UnknownCaseError(f"unknown case {name!r}; known cases: {', '.join(CASES)}") from None
