"""Model: MindSpore's high-level wrapper that trains, evaluates and predicts with a network over batches."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from funcad.amp.precision import build_train_network, check_level
from funcad.core.tensor import Tensor
from funcad.nn.cell import Cell
from funcad.nn.metrics import Loss, Metric, get_metric_fn
from funcad.nn.wrap import WithEvalCell
from funcad.train.callback import Callback, CallbackParams, LossMonitor, RunContext, TimeMonitor
from funcad.train.checkpoint import ModelCheckpoint
from funcad.train.early_stopping import EarlyStopping
from funcad.train.history import History
from funcad.train.lambda_callback import LambdaCallback
from funcad.train.lr_scheduler import LearningRateScheduler
from funcad.train.reduce_lr import ReduceLROnPlateau

# funcad's own callbacks, which fit leaves out of its evaluations (all but TimeMonitor), as MindSpore leaves its own
_OWN_CALLBACKS = (Callback, LossMonitor, TimeMonitor, ModelCheckpoint, EarlyStopping, ReduceLROnPlateau, LearningRateScheduler, History,
                  LambdaCallback)


def _metrics(metrics) -> dict:
    """``{name: Metric}`` from a dict of Metrics, or a set/list/tuple of metric names."""
    if metrics is None:
        return {}
    if isinstance(metrics, Mapping):
        out = {}
        for name, metric in metrics.items():
            if not isinstance(metric, Metric):
                raise TypeError(f"Model: metric {name!r} must be a Metric (nn.Accuracy(), nn.Loss(), ...), got {type(metric).__name__}")
            out[str(name)] = metric
        return out
    if isinstance(metrics, (set, list, tuple)):
        return {str(name): get_metric_fn(name) for name in metrics}
    raise TypeError(f"Model: metrics must be a dict of Metrics or a set of metric names, got {type(metrics).__name__}")


def _as_input(value):
    return Tensor.from_numpy(value) if isinstance(value, np.ndarray) else value


def _batches(dataset, where: str) -> list:
    """The batches of one pass over ``dataset``: an iterable of tuples (or dicts) of arrays, or an object with
    ``create_tuple_iterator()`` as MindSpore's datasets have."""
    source = dataset.create_tuple_iterator() if hasattr(dataset, "create_tuple_iterator") else dataset
    if not isinstance(source, Iterable):
        raise TypeError(f"Model.{where}: the dataset must be an iterable of batches, got {type(dataset).__name__}")
    batches = []
    for i, batch in enumerate(source):
        if isinstance(batch, Mapping):
            batch = tuple(batch.values())
        if not isinstance(batch, (tuple, list)) or not batch:
            raise TypeError(f"Model.{where}: batch {i} must be a non-empty tuple of arrays (inputs..., label), "
                            f"got {type(batch).__name__}")
        batches.append(tuple(_as_input(v) for v in batch))
    if not batches:
        raise ValueError(f"Model.{where}: the dataset has no batches")
    return batches


class _Epochs:
    """The batches of each epoch: a dataset (or any re-iterable) is read again every epoch, as MindSpore's training
    iterator runs the pipeline again (new shuffles and random augmentations); a one-shot iterator is read once and
    replayed. With ``sink_size`` > 0 (MindSpore reads it in dataset sink mode only) an epoch is ``sink_size`` steps
    taken in turn from the passes over the dataset, one after another, as MindSpore's sunk epochs are."""

    def __init__(self, dataset, where: str, sink_size: int = -1):
        if isinstance(sink_size, bool) or not isinstance(sink_size, numbers.Integral) or sink_size == 0 or sink_size < -1:
            raise ValueError(f"Model.{where}: sink_size must be -1 or a positive int, got {sink_size!r}")
        self.dataset, self.where = dataset, where
        self.first = _batches(dataset, where)
        self.replay = not hasattr(dataset, "create_tuple_iterator") and iter(dataset) is dataset
        self.sink_size = int(sink_size)
        self._stream = self._passes() if self.sink_size > 0 else None

    def _passes(self):
        batches = self.first
        while True:
            yield from batches
            batches = batches if self.replay else _batches(self.dataset, self.where)

    @property
    def steps(self) -> int:
        """Steps per epoch."""
        return self.sink_size if self._stream is not None else len(self.first)

    def __call__(self, index: int) -> list:
        """The batches of the ``index``-th epoch read by this run (from 0)."""
        if self._stream is not None:
            return [next(self._stream) for _ in range(self.sink_size)]
        return self.first if index == 0 or self.replay else _batches(self.dataset, self.where)


def _evaluates(epoch: int, valid_frequency) -> bool:
    """Whether ``fit`` evaluates after ``epoch`` (counted from 1)."""
    return epoch % valid_frequency == 0 if isinstance(valid_frequency, numbers.Integral) else epoch in valid_frequency


def _callbacks(callbacks) -> list:
    if callbacks is None:
        return []
    items = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]
    for cb in items:
        if not isinstance(cb, Callback):
            raise TypeError(f"Model: callbacks must be Callback instances, got {type(cb).__name__}")
    return items


class Model:
    """Train, evaluate and predict with ``network``.

    With ``loss_fn`` and ``optimizer``, training runs ``TrainOneStepCell(WithLossCell(network, loss_fn), optimizer)``
    on each batch ``(data, label)``; with an optimizer and no loss_fn, ``network`` must return its loss itself. In
    GRAPH_MODE each training step compiles into one program. ``metrics`` (a dict of Metrics or a set of names such as
    ``{'accuracy'}``) are computed by ``eval`` on ``(outputs, label)`` (``Loss`` on the loss). With neither,
    ``network`` is the training step itself (a ``TrainOneStepCell``), called on each batch.
    With an optimizer, the training step is ``funcad.amp.build_train_network(network, optimizer, loss_fn, amp_level,
    **kwargs)``'s, as in MindSpore: ``amp_level`` 'O2' casts ``network`` to float16 (BatchNorm/LayerNorm in float32)
    and, unless ``loss_scale_manager`` is given (``None`` included), scales the loss with a
    ``DynamicLossScaleManager()``; 'O3' casts it to float16 without loss scaling; 'O1' applies
    ``auto_mixed_precision``'s O1. The network is changed in place, so ``predict`` returns float16 at O2/O3, as
    MindSpore's does, while the evaluation casts outputs and label to float32 before the loss. With a manager that
    has an update cell each step is ``nn.TrainOneStepWithLossScaleCell``'s and returns ``(loss, overflow, scale)``.
    ``keep_batchnorm_fp32`` overrides the level's choice.
    """

    def __init__(self, network: Cell, loss_fn=None, optimizer=None, metrics=None, eval_network: Cell | None = None,
                 eval_indexes=None, amp_level: str = "O0", boost_level: str = "O0", **kwargs):
        if not isinstance(network, Cell):
            raise TypeError(f"Model: network must be a Cell, got {type(network).__name__}")
        unknown = set(kwargs) - {"keep_batchnorm_fp32", "loss_scale_manager"}
        if unknown:
            raise TypeError(f"Model: unsupported argument(s) {', '.join(sorted(unknown))}")
        check_level("Model", amp_level, boost_level)
        if optimizer is None and amp_level != "O0":
            raise ValueError(f"Model: amp_level {amp_level!r} needs an optimizer (mixed precision is set up with the training "
                             f"network); use amp_level='O0' or give the optimizer")
        if optimizer is None and kwargs.get("loss_scale_manager") is not None:
            raise ValueError("Model: loss_scale_manager needs an optimizer")
        self._network = network
        self._loss_fn, self._optimizer = loss_fn, optimizer
        self._metrics = _metrics(metrics)
        self.eval_indexes = eval_indexes
        if optimizer is not None:
            self._train_network = build_train_network(network, optimizer, loss_fn, level=amp_level, **kwargs)
        else:  # no optimizer: the network trains itself (a TrainOneStepCell) when there is no loss_fn either, as in MindSpore
            self._train_network = self._network if loss_fn is None else None
        if eval_network is None and loss_fn is not None:
            eval_network = WithEvalCell(network, loss_fn, add_cast_fp32=amp_level in ("O2", "O3"))
            self.eval_indexes = [0, 1, 2] if eval_indexes is None else eval_indexes  # (loss, outputs, label)
        self._eval_network = eval_network

    @property
    def train_network(self) -> Cell | None:
        return self._train_network

    @property
    def predict_network(self) -> Cell:
        return self._network

    @property
    def eval_network(self) -> Cell | None:
        return self._eval_network

    def train(self, epoch: int, train_dataset, callbacks=None, dataset_sink_mode: bool = False, sink_size: int = -1,
              initial_epoch: int = 0) -> None:
        """Epochs ``initial_epoch + 1 .. epoch`` over ``train_dataset``, calling the callbacks around each step. The
        dataset is read again every epoch. With ``dataset_sink_mode`` and ``sink_size`` > 0 an epoch is ``sink_size``
        steps, read on from where the last epoch stopped (MindSpore's sunk epochs; the steps still run one by one)."""
        self._train("train", epoch, train_dataset, callbacks, dataset_sink_mode, initial_epoch, sink_size=sink_size)

    def fit(self, epoch: int, train_dataset, valid_dataset=None, valid_frequency: int | list[int] = 1, callbacks=None,
            dataset_sink_mode: bool = False, valid_dataset_sink_mode: bool = False, sink_size: int = -1,
            initial_epoch: int = 0) -> None:
        """``train``, evaluating on ``valid_dataset`` after every ``valid_frequency``-th epoch (an int), or after the
        epochs listed (a list), so callbacks can watch the validation results.

        An evaluation runs before the epoch's ``on_train_epoch_end`` hooks, which then find ``metrics`` (the Model's
        metrics, as ``eval`` returns them) and ``eval_results`` (those and ``eval_loss``, the mean of the batches'
        losses, when the Model has a loss) in the run context; both are gone before the next epoch. As in MindSpore,
        the evaluation calls the ``on_eval_*`` hooks of the callbacks you wrote, not of funcad's own (TimeMonitor
        excepted), and sees the training's run context with ``mode="eval"`` and the evaluation's step counts.
        """
        valid = None
        if valid_dataset is not None:
            if not self._metrics:
                raise ValueError("Model.fit: evaluating valid_dataset needs metrics; make the Model with metrics={'accuracy'} or others")
            if isinstance(valid_frequency, bool) or not isinstance(valid_frequency, (numbers.Integral, list)):
                raise TypeError(f"Model.fit: valid_frequency must be an int or a list of epochs, got {valid_frequency!r}")
            if isinstance(valid_frequency, numbers.Integral) and valid_frequency < 1:
                raise ValueError(f"Model.fit: valid_frequency must be >= 1, got {valid_frequency!r}")
            valid = (valid_dataset, _batches(valid_dataset, "fit"), valid_frequency, valid_dataset_sink_mode)
        self._train("fit", epoch, train_dataset, callbacks, dataset_sink_mode, initial_epoch, valid, sink_size)

    def _train(self, where: str, epoch: int, train_dataset, callbacks, dataset_sink_mode: bool, initial_epoch: int,
               valid: tuple | None = None, sink_size: int = -1) -> None:
        if self._train_network is None:
            raise RuntimeError(f"Model.{where}: the Model was made without an optimizer")
        for name, value in (("epoch", epoch), ("initial_epoch", initial_epoch)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Model.{where}: {name} must be an int >= 0, got {value!r}")
        if initial_epoch >= epoch:
            raise ValueError(f"Model.{where}: initial_epoch ({initial_epoch}) must be below epoch ({epoch})")
        epochs = _Epochs(train_dataset, where, sink_size if dataset_sink_mode else -1)
        cbs = _callbacks(callbacks)
        cb_params = CallbackParams(train_network=self._train_network, network=self._network, optimizer=self._optimizer,
                                   loss_fn=self._loss_fn, epoch_num=epoch, batch_num=epochs.steps, cur_epoch_num=initial_epoch,
                                   cur_step_num=initial_epoch * epochs.steps, net_outputs=None, mode="train",
                                   dataset_sink_mode=dataset_sink_mode)
        if valid is not None:
            cb_params.valid_dataset = valid[0]
        eval_cbs = [cb for cb in cbs if type(cb) not in _OWN_CALLBACKS or isinstance(cb, TimeMonitor)]
        run_context = RunContext(cb_params)
        self._train_network.set_train(True)
        for cb in cbs:
            cb.on_train_begin(run_context)
        for e in range(initial_epoch, epoch):
            batches = epochs(e - initial_epoch)
            cb_params.cur_epoch_num = e + 1
            self._train_network.set_train(True)  # an evaluation (fit's, or one a callback ran) left it in eval mode
            for cb in cbs:
                cb.on_train_epoch_begin(run_context)
            for batch in batches:
                cb_params.cur_step_num += 1
                for cb in cbs:
                    cb.on_train_step_begin(run_context)
                cb_params.net_outputs = self._train_network(*batch)
                for cb in cbs:
                    cb.on_train_step_end(run_context)
                if run_context.get_stop_requested():
                    break
            if valid is not None and _evaluates(e + 1, valid[2]):
                self._eval_in_fit(valid[1], eval_cbs, cb_params, valid[3])
            for cb in cbs:
                cb.on_train_epoch_end(run_context)
            for name in ("metrics", "eval_results"):
                cb_params.__dict__.pop(name, None)
            if run_context.get_stop_requested():
                break
        for cb in cbs:
            cb.on_train_end(run_context)

    def _eval_in_fit(self, batches: list, cbs: list, cb_params: CallbackParams, dataset_sink_mode: bool) -> None:
        """One evaluation inside ``fit``, on the training's run context: the training's step counts and outputs are
        put back after it; its results stay for the epoch's end."""
        kept = {name: getattr(cb_params, name) for name in ("mode", "batch_num", "cur_step_num", "net_outputs", "dataset_sink_mode")}
        cb_params.eval_network = self._eval_network
        cb_params.batch_num, cb_params.cur_step_num, cb_params.mode = len(batches), 0, "eval"
        cb_params.dataset_sink_mode = dataset_sink_mode
        self._eval_pass(batches, cbs, cb_params, "fit")
        for name, value in kept.items():
            setattr(cb_params, name, value)

    def eval(self, valid_dataset, callbacks=None, dataset_sink_mode: bool = False) -> dict:
        """``{name: value}`` of every metric over ``valid_dataset`` (batches ``(data, label)``), network in eval mode."""
        batches = _batches(valid_dataset, "eval")
        cbs = _callbacks(callbacks)
        cb_params = CallbackParams(eval_network=self._eval_network, network=self._network, batch_num=len(batches),
                                   cur_step_num=0, net_outputs=None, mode="eval", metrics=self._metrics,
                                   dataset_sink_mode=dataset_sink_mode)
        return self._eval_pass(batches, cbs, cb_params, "eval")

    def _eval_pass(self, batches: list, cbs: list, cb_params: CallbackParams, where: str) -> dict:
        """The metrics over ``batches``; sets ``metrics`` and ``eval_results`` (with ``eval_loss`` when the eval
        network gives a loss) in ``cb_params`` before the ``on_eval_epoch_end`` hooks."""
        if not self._metrics:
            raise RuntimeError(f"Model.{where}: the Model was made without metrics")
        if self._eval_network is None and any(isinstance(m, Loss) for m in self._metrics.values()):
            raise RuntimeError(f"Model.{where}: the Loss metric needs a loss_fn or an eval_network")
        run_context = RunContext(cb_params)  # its own: a stop requested while evaluating ends the evaluation only
        for metric in self._metrics.values():
            metric.clear()
        eval_loss = Loss() if self._eval_network is not None and self.eval_indexes is not None else None
        self._network.set_train(False)
        for hook in ("on_eval_begin", "on_eval_epoch_begin"):
            for cb in cbs:
                getattr(cb, hook)(run_context)
        for batch in batches:
            cb_params.cur_step_num += 1
            for cb in cbs:
                cb.on_eval_step_begin(run_context)
            if self._eval_network is None:
                cb_params.net_outputs = (None, self._network(*batch[:-1]), batch[-1])
                self._update_metrics(cb_params.net_outputs, [0, 1, 2])
            else:
                cb_params.net_outputs = self._eval_network(*batch)
                self._update_metrics(cb_params.net_outputs, self.eval_indexes)
                if eval_loss is not None:
                    eval_loss.update(cb_params.net_outputs[self.eval_indexes[0]])
            for cb in cbs:
                cb.on_eval_step_end(run_context)
            if run_context.get_stop_requested():
                break
        results = {name: metric.eval() for name, metric in self._metrics.items()}
        cb_params.metrics = results
        cb_params.eval_results = dict(results) if eval_loss is None else {**results, "eval_loss": eval_loss.eval()}
        for hook in ("on_eval_epoch_end", "on_eval_end"):
            for cb in cbs:
                getattr(cb, hook)(run_context)
        return results

    def _update_metrics(self, outputs, indexes) -> None:
        """MindSpore's rule: with ``eval_indexes`` (loss, prediction, label positions) the Loss metric takes the loss and
        the others (prediction, label); without, every metric takes all of the eval network's outputs."""
        outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
        if indexes is not None and len(outputs) < 3:
            raise ValueError(f"Model.eval: eval_indexes {indexes} need an eval network with at least 3 outputs, got {len(outputs)}")
        for metric in self._metrics.values():
            if indexes is None:
                metric.update(*outputs)
            elif isinstance(metric, Loss):
                metric.update(outputs[indexes[0]])
            else:
                metric.update(outputs[indexes[1]], outputs[indexes[2]])

    def predict(self, *predict_data):
        """The network's outputs on ``predict_data`` in evaluation mode."""
        self._network.set_train(False)
        return self._network(*(_as_input(x) for x in predict_data))
