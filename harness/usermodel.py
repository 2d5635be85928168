"""A user's own model as a comparison case: ``funcad-compare run --model my_package.models:make_net``.

The factory returns a funcad Cell (its torch twin is built by ``torch_ref.mirror``) or, with ``--from torch``, a
torch module (its funcad twin is built by ``torch_ref.to_funcad`` and the user's module is the torch side). Batches
come from ``--data pkg.mod:batches`` (a callable returning (x, y) numpy pairs, or such a list; x a tuple of arrays for a
model taking several inputs) or are drawn from ``--input-shape`` and ``--input-dtype`` (each repeated, one per input
of a model taking several, in order; one dtype serves all) with class labels (``--classes``, default: the model's
output width) or uniform [0, 1) targets (``--targets`` shape, default: the output's shape). Everything that goes wrong before the run
is a ``UserModelError`` naming the flag at fault; the CLI prints it and exits 2.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import sys
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

import funcad
from funcad.nn.cell import Cell
from harness.cases import LOSSES, BatchError, Batches, Case, OptimizerSpec, user_batches, user_case
from harness.inputs import Inputs, arity, call_model, parts
from torch_ref.layer_table import TranslationError
from torch_ref.mirror import mirror
from torch_ref.to_funcad import to_funcad

INPUT_DTYPES = ("float32", "float64", "int32", "int64", "bool")
OPTIMIZERS = ("sgd", "momentum", "adam")
INTEGER_INPUT_HIGH = 10  # integer inputs (token ids) are drawn from [0, 10); boolean ones (masks) are True or False evenly
#: The user-model flags' defaults, so that a flag given without ``--model`` (where nothing reads it) is told apart.
DEFAULTS = {"model_from": "funcad", "loss": "cross_entropy", "optimizer": "sgd", "lr": 1e-2}
#: The flags that describe drawn batches; ``--data`` gives the batches itself, so none of them applies beside it.
DRAWN_FLAGS = {"input_shape": "--input-shape", "input_dtype": "--input-dtype", "classes": "--classes", "targets": "--targets"}


class UserModelError(ValueError):
    """A ``--model`` run that cannot start; the message names the flag."""


def add_arguments(run: argparse.ArgumentParser) -> None:
    """Register the user-model flags on the ``run`` subcommand."""
    group = run.add_argument_group("your own model (instead of built-in cases)")
    group.add_argument("--model", default=None, metavar="MODULE:FACTORY",
                       help="a factory returning a funcad Cell (or a torch module with --from torch)")
    group.add_argument("--from", dest="model_from", choices=["funcad", "torch"], default=DEFAULTS["model_from"],
                       help="which engine the factory builds (default funcad)")
    group.add_argument("--input-shape", action="append", default=None, metavar="N,...",
                       help="shape of one input batch, batch axis first, e.g. 16,3,32,32; repeat it for a model taking several "
                            "inputs, one per forward argument in order")
    group.add_argument("--input-dtype", action="append", choices=INPUT_DTYPES, default=None,
                       help=f"dtype of the drawn inputs (default float32; integers are drawn from [0, {INTEGER_INPUT_HIGH}), booleans "
                            "evenly); repeat it, one per --input-shape in order, or give one for every input")
    group.add_argument("--classes", type=int, default=None, help="class labels in [0, CLASSES) (default: the model's output width)")
    group.add_argument("--targets", default=None, metavar="N,...", help="shape of float targets in [0, 1) (default: the output's shape)")
    group.add_argument("--data", default=None, metavar="MODULE:BATCHES",
                       help="a callable returning (x, y) numpy batches, or such a list (instead of --input-shape, --input-dtype, "
                            "--classes and --targets, which describe drawn batches)")
    group.add_argument("--loss", choices=list(LOSSES), default=DEFAULTS["loss"], help="default cross_entropy")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default=DEFAULTS["optimizer"], help="default sgd (momentum 0.9 for momentum)")
    group.add_argument("--lr", type=float, default=DEFAULTS["lr"], help="learning rate (default 1e-2)")


def _flag(name: str) -> str:
    return "--from" if name == "model_from" else "--" + name.replace("_", "-")


def check_flag_use(args: argparse.Namespace) -> None:
    """A ``UserModelError`` for flags the run would silently ignore: the user-model flags without ``--model`` (the
    built-in cases bring their own model, data, loss and optimizer), and ``--batch-size`` or ``--data-dir`` with it
    (its batches come from ``--input-shape`` or ``--data``)."""
    if args.model is None:
        given = [_flag(name) for name in MODEL_FLAGS[1:] if getattr(args, name) != DEFAULTS.get(name)]
        if given:
            raise UserModelError(f"{', '.join(given)}: {'apply' if len(given) > 1 else 'applies'} only to your own model (--model "
                                 "MODULE:FACTORY); the built-in cases bring their own model, data, loss and optimizer")
        return
    ignored = [flag for flag, value in (("--batch-size", args.batch_size), ("--data-dir", args.data_dir)) if value is not None]
    if ignored:
        raise UserModelError(f"{' and '.join(ignored)} with --model: a model's batches come from --input-shape (its first size is the "
                             "batch size) or --data")


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
    except SyntaxError as exc:  # the user's file does not parse: its own line, not the import machinery's frame
        raise UserModelError(f"{flag} {spec}: cannot import {module_name}: {type(exc).__name__}: {exc.msg} at "
                             f"{exc.filename}:{exc.lineno}") from None
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
        hint = (" (a torch module: add --from torch)" if source == "funcad" and isinstance(model, torch.nn.Module)
                else " (a funcad Cell: leave out --from torch)" if source == "torch" and isinstance(model, Cell) else "")
        raise UserModelError(f"{flag}: the factory returned {type(model).__name__}, expected {wanted}{hint}")
    try:
        if source == "torch":
            return to_funcad(copy.deepcopy(model)), model
        mirror(copy.deepcopy(model))
    except TranslationError as exc:
        raise UserModelError(f"{flag}: the model has no {'funcad' if source == 'torch' else 'torch'} twin: {exc}") from None
    return model, None


def _rejected(flag: str, x: Inputs, error: str, who: str = "the model", input_flags: Sequence[str] | None = None) -> UserModelError:
    """The error for inputs ``who`` rejects with ``error``: one input named by its shape and dtype; of several, the one
    whose shape the error names (under its own flag in ``input_flags``, when each input has one), else all of them."""
    xs = parts(x)
    if len(xs) == 1:
        return UserModelError(f"{flag}: {who} rejects an input of shape {xs[0].shape} and dtype {xs[0].dtype}: {error}")
    named = [i for i, a in enumerate(xs) if str(a.shape) in error]
    if len(named) == 1:
        i = named[0]
        where = input_flags[i] if input_flags else flag
        return UserModelError(f"{where}: {who} rejects input {i + 1} of {len(xs)}, of shape {xs[i].shape} and dtype {xs[i].dtype}: {error}")
    listed = "; ".join(f"input {i + 1} of shape {a.shape} and dtype {a.dtype}" for i, a in enumerate(xs))
    return UserModelError(f"{flag}: {who} rejects its {len(xs)} inputs ({listed}): {error}")


def check_arity(cell: Cell, module: torch.nn.Module | None, count: int, flag: str, drawn: bool) -> None:
    """A ``UserModelError`` naming ``flag`` when ``count`` inputs per batch do not fit the arguments the user's model
    takes: the torch module's ``forward`` when there is one, else the Cell's ``construct``."""
    found = arity(module, cell)
    if found is None or found[1] <= count <= found[2]:
        return
    what, fewest, most, names = found
    takes = str(fewest) if fewest == most else f"{fewest} to {most}"
    how = ("one shape per input, in order" if drawn
           else "each batch's inputs as a tuple of arrays, one per argument in order: ((x1, x2), y)")
    raise UserModelError(f"{flag}: {count} input{'s' if count != 1 else ''} per batch, but {what} takes {takes} ({', '.join(names)}); "
                         f"give {how}")


def probe_output(cell: Cell, x: Inputs, flag: str, input_flags: Sequence[str] | None = None, model_flag: str = "model") -> np.ndarray:
    """The model's training-mode output on ``x`` (on a copy, so nothing moves); a ``UserModelError`` naming ``flag`` if it
    rejects ``x``, or ``model_flag`` if the funcad twin of a torch module cannot be made (its forward is traced here, at
    the first call with the inputs' shapes known)."""
    probe = copy.deepcopy(cell).set_train(True)
    try:
        with np.errstate(all="ignore"):  # a NaN here is the run's to find and locate, not the probe's
            out = call_model(probe, tuple(map(funcad.Tensor, x)) if isinstance(x, tuple) else funcad.Tensor(x))
    except TranslationError as exc:
        raise UserModelError(f"{model_flag}: the model has no funcad twin: {exc}") from None
    except (ValueError, TypeError, IndexError) as exc:
        raise _rejected(flag, x, str(exc), input_flags=input_flags) from None
    if isinstance(out, Mapping):
        raise UserModelError(f"{flag}: the model returns a dict (keys {', '.join(map(str, out))}); a comparison trains on one output: "
                             "wrap the model so its forward returns the tensor the loss reads (the logits)")
    if isinstance(out, (tuple, list)):
        shapes = ", ".join("None" if o is None else str(tuple(np.shape(o))) for o in out)  # nanoGPT's (logits, None)
        raise UserModelError(f"{flag}: the model returns {len(out)} outputs ({shapes}); a comparison trains on one: wrap the model so its "
                             "forward returns the tensor the loss reads (the logits)")
    return np.asarray(out)


def probe_torch(cell: Cell, module: torch.nn.Module | None, x: Inputs, flag: str, model_flag: str,
                input_flags: Sequence[str] | None = None) -> None:
    """Run the torch side on ``x`` (``module``, or the Cell's torch twin, whose construct is traced on this first call,
    where an untranslatable op or data-dependent control flow shows, named under ``model_flag``): a ``UserModelError``
    naming ``flag`` if it rejects ``x`` (torch's layers are stricter than numpy about dtypes: an int64 input into a
    Linear)."""
    try:
        torch_side = copy.deepcopy(module) if module is not None else mirror(copy.deepcopy(cell))
        dtype = next((p.dtype for p in torch_side.parameters() if p.is_floating_point()), torch.float32)
        # floating inputs run in the model's dtype, as the runs cast them; integer and boolean ones as they are
        tx = tuple(t.to(dtype) if t.is_floating_point() else t for t in (torch.from_numpy(np.asarray(a)) for a in parts(x)))
        with torch.no_grad():
            call_model(torch_side.train(), tx if isinstance(x, tuple) else tx[0])
    except TranslationError as exc:
        raise UserModelError(f"{model_flag}: the model has no torch twin: {exc}") from None
    except Exception as exc:  # the user's model on the user's input
        raise _rejected(flag, x, f"{type(exc).__name__}: {exc}", "the torch side", input_flags) from None


def check_model_inputs(cell: Cell, module: torch.nn.Module | None, data: Batches, loss, flag: str, model_flag: str = "model",
                       input_flags: Sequence[str] | None = None) -> None:
    """Before anything runs: the batches hold as many inputs as the model takes, both sides take the first batch, every
    batch's inputs have the first's shapes (but for the batch size) and dtypes, and, for a loss named, every batch's
    targets fit the model's output. A ``UserModelError`` naming ``flag``, the batch, the input and the shapes at fault
    (or, for drawn inputs, the flag of the input at fault among ``input_flags``)."""
    x0 = data[0][0]
    check_arity(cell, module, len(parts(x0)), flag, drawn=input_flags is not None)
    out_shape = probe_output(cell, x0, flag, input_flags, model_flag).shape
    probe_torch(cell, module, x0, flag, model_flag, input_flags)
    for i, (x, y) in enumerate(data):
        xs, firsts = parts(x), parts(x0)
        if len(xs) != len(firsts):
            raise UserModelError(f"{flag}: batch {i} has {len(xs)} inputs, batch 0 {len(firsts)}")
        for k, (a, a0) in enumerate(zip(xs, firsts)):
            if a.shape[1:] != a0.shape[1:] or a.dtype != a0.dtype:
                which = f"input {k + 1} of shape" if len(xs) > 1 else "inputs of shape"
                raise UserModelError(f"{flag}: batch {i} has {which} {a.shape} and dtype {a.dtype}, batch 0 {a0.shape} and {a0.dtype}")
        y = np.asarray(y)
        if isinstance(loss, str):
            _check_targets(loss, (len(xs[0]),) + out_shape[1:], y, f"{flag}: batch {i}")


IGNORED_LABEL = -100  # the cross-entropy losses' ignore_index on both sides


def _check_targets(loss: str, out_shape: tuple, y: np.ndarray, where: str) -> None:
    if loss == "cross_entropy" and np.issubdtype(y.dtype, np.integer):
        classes, want = (out_shape[1] if len(out_shape) > 1 else 0), out_shape[:1] + out_shape[2:]
        if y.shape != want:
            hint = ("; cross_entropy takes the classes on axis 1, as torch's and MindSpore's: for logits of shape (batch, ..., "
                    "classes) return logits.movedim(-1, 1)") if len(out_shape) > 2 and y.shape == out_shape[:-1] else ""
            raise UserModelError(f"{where}: class labels of shape {y.shape}; an output of shape {out_shape} needs {want}{hint}")
        outside = sorted({int(v) for v in y[((y < 0) & (y != IGNORED_LABEL)) | (y >= classes)]})
        if outside:
            raise UserModelError(f"{where}: labels {outside[:5]} lie outside the output's {classes} classes [0, {classes})")
    elif y.shape != out_shape:
        what = "class probabilities" if loss == "cross_entropy" else f"{loss} targets"
        labels = loss == "cross_entropy" and y.shape == out_shape[:1] + out_shape[2:]
        hint = f"; class labels need an integer dtype, these are {y.dtype} (y.astype(np.int64))" if labels else ""
        raise UserModelError(f"{where}: {what} of shape {y.shape}; the output has shape {out_shape}{hint}")


def parse_shape(text: str, flag: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.split(","))
    except ValueError:
        shape = ()
    if not shape or any(n < 1 for n in shape):
        raise UserModelError(f"{flag} {text}: expected comma-separated positive sizes, e.g. 16,3,32,32")
    return shape


def per_input_dtypes(dtypes: str | Sequence[str] | None, count: int, flag: str) -> list[str]:
    """One dtype per input: ``dtypes`` gives one per input in order, or one (none: float32) for every input; another
    count, or a dtype not in ``INPUT_DTYPES``, is a ``UserModelError`` naming ``flag``."""
    listed = [dtypes] if isinstance(dtypes, str) else list(dtypes or ["float32"])
    unknown = [d for d in listed if d not in INPUT_DTYPES]
    if unknown:
        raise UserModelError(f"{flag}: unknown dtype {', '.join(map(str, unknown))}; known: {', '.join(INPUT_DTYPES)}")
    if len(listed) == 1:
        return listed * count
    if len(listed) != count:
        raise UserModelError(f"{flag}: {len(listed)} dtypes ({', '.join(listed)}) for {count} input{'s' if count != 1 else ''}; "
                             "give one per input, in order, or one for all")
    return listed


def _draw(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.startswith("int"):
        return rng.integers(0, INTEGER_INPUT_HIGH, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def synthetic_batches(cell: Cell, input_shapes: Sequence[tuple[int, ...]], input_dtypes: Sequence[str], loss: str, classes: int | None = None,
                      targets: tuple[int, ...] | None = None, steps: int = 20, seed: int = 0, flag: str = "--input-shape",
                      input_flags: Sequence[str] | None = None, module: torch.nn.Module | None = None, model_flag: str = "model") -> Batches:
    """``steps`` batches of drawn inputs (one per shape and dtype, in order; a tuple of them for several) and targets that
    fit the model's output and the loss. ``input_flags`` names each input's flag in errors; ``module`` is the torch side
    when the user gave one (its forward's arguments are counted when the Cell's construct takes ``*args``); ``model_flag``
    names the model in errors that are its own."""
    check_arity(cell, module, len(input_shapes), flag, drawn=True)

    def inputs(rng):
        xs = tuple(_draw(rng, shape, dtype) for shape, dtype in zip(input_shapes, input_dtypes))
        return xs if len(xs) > 1 else xs[0]

    out_shape = probe_output(cell, inputs(np.random.default_rng(0)), flag, input_flags, model_flag).shape
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
    """The (x, y) batches ``--data`` names, checked; x one array or a tuple of them (``harness.inputs``)."""
    source = load(spec, "--data")
    try:
        batches = user_batches(source() if callable(source) else source, f"--data {spec}")
    except BatchError as exc:
        raise UserModelError(str(exc)) from None
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
    if args.data is not None:
        beside = [flag for name, flag in DRAWN_FLAGS.items() if getattr(args, name) is not None]
        if beside:
            raise UserModelError(f"--data {args.data} and {', '.join(beside)}: --data gives the batches, and {', '.join(beside)} "
                                 f"{'describe' if len(beside) > 1 else 'describes'} drawn ones; give one or the other")
    model_flag = f"--model {args.model}"
    cell, module = build_model(load(args.model, "--model"), args.model_from, model_flag, args.seed)
    if args.data is not None:
        data = given_batches(args.data)
        check_model_inputs(cell, module, data, args.loss, f"--data {args.data}", model_flag)
        source = f"--data {args.data} ({len(data)} batches, cycled)"
    elif args.input_shape is None:
        raise UserModelError("--input-shape: required with --model unless --data gives the batches")
    else:
        if args.classes is not None and args.targets is not None:
            raise UserModelError("--classes and --targets: give one of them")
        if args.classes is not None and args.loss != "cross_entropy":
            raise UserModelError(f"--classes {args.classes} with --loss {args.loss}: class labels are for cross_entropy; {args.loss} "
                                 "trains on float targets in [0, 1) (--targets, default: the output's shape)")
        targets = parse_shape(args.targets, "--targets") if args.targets is not None else None
        texts = [args.input_shape] if isinstance(args.input_shape, str) else list(args.input_shape)  # one string: a sweep entry, an older report
        shapes = [parse_shape(text, "--input-shape") for text in texts]
        dtypes = per_input_dtypes(args.input_dtype, len(shapes), "--input-dtype")
        input_flags = [f"--input-shape {text}" for text in texts]
        flag = " ".join(input_flags)
        data = synthetic_batches(cell, shapes, dtypes, args.loss, args.classes, targets, max(args.steps, 1), args.seed, flag, input_flags, module,
                                 model_flag)
        check_model_inputs(cell, module, data, args.loss, flag, model_flag, input_flags)
        source = f"drawn from {flag} ({', '.join(dict.fromkeys(dtypes))}, seed {args.seed})"
    optimizer = OptimizerSpec(args.optimizer, args.lr, momentum=0.9 if args.optimizer == "momentum" else 0.0)
    name = args.model.rpartition(":")[2]
    side = "torch module, funcad twin by torch_ref.to_funcad" if module is not None else "funcad Cell, torch twin by torch_ref.mirror"
    return user_case(cell, module, args.loss, optimizer, data, name=name, description=f"{args.model} ({side})", source=source)
