"""A user's own model as a comparison case: ``funcad-compare run --model my_package.models:make_net``.

The factory returns a funcad Cell (its torch twin is built by ``torch_ref.mirror``) or, with ``--from torch``, a
torch module (its funcad twin is built by ``torch_ref.to_funcad`` and the user's module is the torch side). Batches
come from ``--data pkg.mod:batches`` (a callable returning (x, y) numpy pairs, or such a list) or are drawn from
``--input-shape`` and ``--input-dtype`` with class labels (``--classes``, default: the model's output width) or
uniform [0, 1) targets (``--targets`` shape, default: the output's shape). Everything that goes wrong before the run
is a ``UserModelError`` naming the flag at fault; the CLI prints it and exits 2.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
from collections.abc import Callable

import numpy as np
import torch

import funcad
from funcad.nn.cell import Cell
from harness.cases import LOSSES, Batches, Case, OptimizerSpec, user_case
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror
from torch_ref.to_funcad import to_funcad

INPUT_DTYPES = ("float32", "float64", "int32", "int64")
OPTIMIZERS = ("sgd", "momentum", "adam")
INTEGER_INPUT_HIGH = 10  # integer inputs (token ids) are drawn from [0, 10)


class UserModelError(ValueError):
    """A ``--model`` run that cannot start; the message names the flag."""


def add_arguments(run: argparse.ArgumentParser) -> None:
    """Register the user-model flags on the ``run`` subcommand."""
    group = run.add_argument_group("your own model (instead of built-in cases)")
    group.add_argument("--model", default=None, metavar="MODULE:FACTORY",
                       help="a factory returning a funcad Cell (or a torch module with --from torch)")
    group.add_argument("--from", dest="model_from", choices=["funcad", "torch"], default="funcad",
                       help="which engine the factory builds (default funcad)")
    group.add_argument("--input-shape", default=None, metavar="N,...", help="shape of one input batch, batch axis first, e.g. 16,3,32,32")
    group.add_argument("--input-dtype", choices=INPUT_DTYPES, default="float32",
                       help=f"dtype of the drawn inputs (default float32; integers are drawn from [0, {INTEGER_INPUT_HIGH}))")
    group.add_argument("--classes", type=int, default=None, help="class labels in [0, CLASSES) (default: the model's output width)")
    group.add_argument("--targets", default=None, metavar="N,...", help="shape of float targets in [0, 1) (default: the output's shape)")
    group.add_argument("--data", default=None, metavar="MODULE:BATCHES", help="a callable returning (x, y) numpy batches, or such a list")
    group.add_argument("--loss", choices=list(LOSSES), default="cross_entropy", help="default cross_entropy")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="sgd", help="default sgd (momentum 0.9 for momentum)")
    group.add_argument("--lr", type=float, default=1e-2, help="learning rate (default 1e-2)")


def load(spec: str, flag: str):
    """The object ``module.path:attribute`` names, the module found as ``python -m`` finds it (the current directory
    first); a ``UserModelError`` naming ``flag`` when it cannot be found."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise UserModelError(f"{flag} {spec}: expected MODULE:NAME, e.g. my_package.models:make_net")
    if os.getcwd() not in sys.path and "" not in sys.path:  # the console script's path starts at its own directory
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserModelError(f"{flag} {spec}: cannot import {module_name}: {exc}") from None
    target = module
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise UserModelError(f"{flag} {spec}: {module_name} has no attribute {attribute!r}")
        target = getattr(target, part)
    return target


def build_model(factory: Callable, source: str, flag: str, seed: int = 0) -> tuple[Cell, torch.nn.Module | None]:
    """(funcad Cell, the user's torch module or None) from a factory; the Cell's torch twin is checked to exist."""
    if not callable(factory):
        raise UserModelError(f"{flag}: {factory!r} is not callable; give a factory returning a model")
    funcad.set_seed(seed)
    torch.manual_seed(seed)
    try:
        model = factory()
    except Exception as exc:  # the user's code: any failure is theirs to see, named
        raise UserModelError(f"{flag}: the factory raised {type(exc).__name__}: {exc}") from None
    expected, wanted = (Cell, "a funcad nn.Cell") if source == "funcad" else (torch.nn.Module, "a torch.nn.Module")
    if not isinstance(model, expected):
        hint = " (a torch module: add --from torch)" if source == "funcad" and isinstance(model, torch.nn.Module) else ""
        raise UserModelError(f"{flag}: the factory returned {type(model).__name__}, expected {wanted}{hint}")
    try:
        if source == "torch":
            return to_funcad(copy.deepcopy(model)), model
        mirror(copy.deepcopy(model))
    except TranslationError as exc:
        raise UserModelError(f"{flag}: the model has no {'funcad' if source == 'torch' else 'torch'} twin: {exc}") from None
    return model, None


def probe_output(cell: Cell, x: np.ndarray, flag: str) -> np.ndarray:
    """The model's training-mode output on ``x`` (on a copy, so nothing moves); a ``UserModelError`` naming ``flag`` if it rejects ``x``."""
    probe = copy.deepcopy(cell).set_train(True)
    try:
        out = probe(funcad.Tensor(x))
    except (ValueError, TypeError, IndexError) as exc:
        raise UserModelError(f"{flag}: the model rejects an input of shape {x.shape} and dtype {x.dtype}: {exc}") from None
    if isinstance(out, (tuple, list)):
        shapes = ", ".join(str(tuple(np.shape(o))) for o in out)
        raise UserModelError(f"{flag}: the model returns {len(out)} outputs ({shapes}); a comparison trains on one: wrap the model so its "
                             "forward returns the tensor the loss reads (the logits)")
    return np.asarray(out)


def probe_twin(cell: Cell, x: np.ndarray, flag: str) -> None:
    """Run the Cell's torch twin on ``x``: a user Cell's construct is traced on the first call, where an untranslatable
    op or data-dependent control flow shows; a ``UserModelError`` naming ``flag`` then."""
    try:
        with torch.no_grad():
            mirror(copy.deepcopy(cell)).train()(torch.from_numpy(np.asarray(x)))
    except TranslationError as exc:
        raise UserModelError(f"{flag}: the model has no torch twin: {exc}") from None


def parse_shape(text: str, flag: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape):
        raise UserModelError(f"{flag} {text}: expected comma-separated positive sizes, e.g. 16,3,32,32")
    return shape


def synthetic_batches(cell: Cell, input_shape: tuple[int, ...], input_dtype: str, loss: str, classes: int | None = None,
                      targets: tuple[int, ...] | None = None, steps: int = 20, seed: int = 0, flag: str = "--input-shape") -> Batches:
    """``steps`` batches of drawn inputs and targets that fit the model's output and the loss."""
    def inputs(rng):
        if input_dtype.startswith("int"):
            return rng.integers(0, INTEGER_INPUT_HIGH, input_shape).astype(input_dtype)
        return rng.standard_normal(input_shape).astype(input_dtype)

    out_shape = probe_output(cell, inputs(np.random.default_rng(0)), flag).shape
    if loss == "cross_entropy" and targets is None:
        if classes is None:
            classes = out_shape[-1] if len(out_shape) >= 2 else 0
        if classes < 2:
            raise UserModelError(f"--classes {classes}: cross-entropy needs at least 2 classes (the model's output has shape {out_shape})")
        label_shape = out_shape[:1] + out_shape[2:]
        make_targets = lambda rng: rng.integers(0, classes, label_shape).astype(np.int64)  # noqa: E731
    else:
        shape = targets or out_shape
        make_targets = lambda rng: rng.uniform(0, 1, shape).astype(np.float32)  # noqa: E731

    rng = np.random.default_rng(seed)
    return [(inputs(rng), make_targets(rng)) for _ in range(steps)]


def given_batches(spec: str) -> Batches:
    """The (x, y) batches ``--data`` names, checked."""
    source = load(spec, "--data")
    try:
        batches = source() if callable(source) else source
        batches = [(np.asarray(x), np.asarray(y)) for x, y in batches]
    except Exception as exc:  # the user's code or data
        raise UserModelError(f"--data {spec}: cannot read (x, y) batches: {type(exc).__name__}: {exc}") from None
    if not batches:
        raise UserModelError(f"--data {spec}: holds no (x, y) batches")
    return batches


#: the run flags a user-model case is built from (saved in a report's metrics.json, for ``funcad-compare explain``)
MODEL_FLAGS = ("model", "model_from", "input_shape", "input_dtype", "classes", "targets", "data", "loss", "optimizer", "lr")


def flags(args: argparse.Namespace) -> dict:
    """The user-model flags of a run, by ``MODEL_FLAGS`` name."""
    return {name: getattr(args, name) for name in MODEL_FLAGS}


def case_from_flags(saved: dict, steps: int, seed: int) -> Case:
    """The Case a saved run's ``flags`` built, rebuilt (same factory, seed and batches)."""
    return case_from_args(argparse.Namespace(**saved, cases=[], steps=steps, seed=seed))


def case_from_args(args: argparse.Namespace) -> Case:
    """The Case ``funcad-compare run --model ...`` compares; a ``UserModelError`` naming the flag at fault."""
    if args.cases:
        raise UserModelError(f"--model: give either case names ({' '.join(args.cases)}) or --model, not both")
    if not args.lr > 0:
        raise UserModelError(f"--lr {args.lr}: the learning rate must be positive")
    cell, module = build_model(load(args.model, "--model"), args.model_from, f"--model {args.model}", args.seed)
    if args.data is not None:
        data = given_batches(args.data)
        probe_output(cell, data[0][0], f"--data {args.data}")
    elif args.input_shape is None:
        raise UserModelError("--input-shape: required with --model unless --data gives the batches")
    else:
        if args.classes is not None and args.targets is not None:
            raise UserModelError("--classes and --targets: give one of them")
        targets = parse_shape(args.targets, "--targets") if args.targets is not None else None
        data = synthetic_batches(cell, parse_shape(args.input_shape, "--input-shape"), args.input_dtype, args.loss, args.classes, targets,
                                 max(args.steps, 1), args.seed, f"--input-shape {args.input_shape}")
    if module is None:
        probe_twin(cell, data[0][0], f"--model {args.model}")
    optimizer = OptimizerSpec(args.optimizer, args.lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)
    name = args.model.rpartition(":")[2]
    side = "torch module, funcad twin by torch_ref.to_funcad" if module is not None else "funcad Cell, torch twin by torch_ref.mirror"
    return user_case(cell, module, args.loss, optimizer, data, name=name, description=f"{args.model} ({side})")
