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
from collections.abc import Callable, Mapping

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
    if isinstance(out, Mapping):
        raise UserModelError(f"{flag}: the model returns a dict (keys {', '.join(map(str, out))}); a comparison trains on one output: "
                             "wrap the model so its forward returns the tensor the loss reads (the logits)")
    if isinstance(out, (tuple, list)):
        shapes = ", ".join(str(tuple(np.shape(o))) for o in out)
        raise UserModelError(f"{flag}: the model returns {len(out)} outputs ({shapes}); a comparison trains on one: wrap the model so its "
                             "forward returns the tensor the loss reads (the logits)")
    return np.asarray(out)


def probe_torch(cell: Cell, module: torch.nn.Module | None, x: np.ndarray, flag: str, model_flag: str) -> None:
    """Run the torch side on ``x`` (``module``, or the Cell's torch twin, whose construct is traced on this first call,
    where an untranslatable op or data-dependent control flow shows, named under ``model_flag``): a ``UserModelError``
    naming ``flag`` if it rejects ``x`` (torch's layers are stricter than numpy about dtypes: an int64 input into a
    Linear)."""
    try:
        torch_side = copy.deepcopy(module) if module is not None else mirror(copy.deepcopy(cell))
        tx = torch.from_numpy(np.asarray(x))
        if tx.is_floating_point():  # floating inputs run in the model's dtype, as the runs cast them
            tx = tx.to(next((p.dtype for p in torch_side.parameters() if p.is_floating_point()), torch.float32))
        with torch.no_grad():
            torch_side.train()(tx)
    except TranslationError as exc:
        raise UserModelError(f"{model_flag}: the model has no torch twin: {exc}") from None
    except Exception as exc:  # the user's model on the user's input
        raise UserModelError(f"{flag}: the torch side rejects an input of shape {np.shape(x)} and dtype {np.asarray(x).dtype}: "
                             f"{type(exc).__name__}: {exc}") from None


def check_model_inputs(cell: Cell, module: torch.nn.Module | None, data: Batches, loss, flag: str, model_flag: str = "model") -> None:
    """Before anything runs: both sides take the first batch, every batch's input has the first's shape (but for its
    batch size) and dtype, and, for a loss named, every batch's targets fit the model's output. A ``UserModelError``
    naming ``flag``, the batch and the shapes at fault."""
    x0 = np.asarray(data[0][0])
    out_shape = probe_output(cell, x0, flag).shape
    probe_torch(cell, module, x0, flag, model_flag)
    for i, (x, y) in enumerate(data):
        x, y = np.asarray(x), np.asarray(y)
        if x.shape[1:] != x0.shape[1:] or x.dtype != x0.dtype:
            raise UserModelError(f"{flag}: batch {i} has inputs of shape {x.shape} and dtype {x.dtype}, batch 0 {x0.shape} and {x0.dtype}")
        if isinstance(loss, str):
            _check_targets(loss, (len(x),) + out_shape[1:], y, f"{flag}: batch {i}")


IGNORED_LABEL = -100  # the cross-entropy losses' ignore_index on both sides


def _check_targets(loss: str, out_shape: tuple, y: np.ndarray, where: str) -> None:
    if loss == "cross_entropy" and np.issubdtype(y.dtype, np.integer):
        classes, want = (out_shape[1] if len(out_shape) > 1 else 0), out_shape[:1] + out_shape[2:]
        if y.shape != want:
            raise UserModelError(f"{where}: class labels of shape {y.shape}; an output of shape {out_shape} needs {want}")
        outside = sorted({int(v) for v in y[((y < 0) & (y != IGNORED_LABEL)) | (y >= classes)]})
        if outside:
            raise UserModelError(f"{where}: labels {outside[:5]} lie outside the output's {classes} classes [0, {classes})")
    elif y.shape != out_shape:
        what = "class probabilities" if loss == "cross_entropy" else f"{loss} targets"
        raise UserModelError(f"{where}: {what} of shape {y.shape}; the output has shape {out_shape}")


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
        if len(out_shape) < 2 or classes > out_shape[1]:
            raise UserModelError(f"--classes {classes}: the model's output of shape {out_shape} scores "
                                 f"{out_shape[1] if len(out_shape) > 1 else 'no'} classes")
        label_shape = out_shape[:1] + out_shape[2:]
        make_targets = lambda rng: rng.integers(0, classes, label_shape).astype(np.int64)  # noqa: E731
    else:
        shape = targets or out_shape
        if tuple(shape) != tuple(out_shape):
            raise UserModelError(f"--targets {','.join(map(str, shape))}: the model's output has shape {out_shape}; the targets need it too")
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
        check_model_inputs(cell, module, data, args.loss, f"--data {args.data}", f"--model {args.model}")
    elif args.input_shape is None:
        raise UserModelError("--input-shape: required with --model unless --data gives the batches")
    else:
        if args.classes is not None and args.targets is not None:
            raise UserModelError("--classes and --targets: give one of them")
        targets = parse_shape(args.targets, "--targets") if args.targets is not None else None
        data = synthetic_batches(cell, parse_shape(args.input_shape, "--input-shape"), args.input_dtype, args.loss, args.classes, targets,
                                 max(args.steps, 1), args.seed, f"--input-shape {args.input_shape}")
        check_model_inputs(cell, module, data, args.loss, f"--input-shape {args.input_shape}", f"--model {args.model}")
    optimizer = OptimizerSpec(args.optimizer, args.lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)
    name = args.model.rpartition(":")[2]
    side = "torch module, funcad twin by torch_ref.to_funcad" if module is not None else "funcad Cell, torch twin by torch_ref.mirror"
    return user_case(cell, module, args.loss, optimizer, data, name=name, description=f"{args.model} ({side})")
