"""Model: MindSpore's high-level wrapper that trains, evaluates and predicts with a network over batches."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping
from types import SimpleNamespace

import numpy as np

from funcad.amp.precision import auto_mixed_precision, loss_scaled_step
from funcad.core.tensor import Tensor
from funcad.nn.cell import Cell
from funcad.nn.metrics import Loss, Metric, get_metric_fn
from funcad.nn.wrap import TrainOneStepCell, WithEvalCell, WithLossCell
from funcad.train.callback import Callback, RunContext


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
    ``amp_level`` applies ``funcad.amp.auto_mixed_precision`` to ``network``; with ``loss_scale_manager``
    (``funcad.amp.FixedLossScaleManager`` or ``DynamicLossScaleManager``) each step is
    ``nn.TrainOneStepWithLossScaleCell``'s and returns ``(loss, overflow, scale)``.
    """

    def __init__(self, network: Cell, loss_fn=None, optimizer=None, metrics=None, eval_network: Cell | None = None,
                 eval_indexes=None, amp_level: str = "O0", boost_level: str = "O0", loss_scale_manager=None, **kwargs):
        if not isinstance(network, Cell):
            raise TypeError(f"Model: network must be a Cell, got {type(network).__name__}")
        unknown = set(kwargs) - {"keep_batchnorm_fp32"}
        if unknown:
            raise TypeError(f"Model: unsupported argument(s) {', '.join(sorted(unknown))}")
        self._network = auto_mixed_precision(network, amp_level)
        self._loss_fn, self._optimizer = loss_fn, optimizer
        self._metrics = _metrics(metrics)
        self.eval_indexes = eval_indexes
        if optimizer is not None:
            stepped = WithLossCell(network, loss_fn) if loss_fn is not None else network
            if loss_scale_manager is not None:
                self._train_network = loss_scaled_step(stepped, optimizer, loss_scale_manager)
            else:
                self._train_network = TrainOneStepCell(stepped, optimizer)
        else:  # no optimizer: the network trains itself (a TrainOneStepCell) when there is no loss_fn either, as in MindSpore
            self._train_network = self._network if loss_fn is None else None
        if eval_network is None and loss_fn is not None:
            eval_network = WithEvalCell(network, loss_fn)
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
        """Epochs ``initial_epoch + 1 .. epoch`` over ``train_dataset``, calling the callbacks around each step."""
        if self._train_network is None:
            raise RuntimeError("Model.train: the Model was made without an optimizer")
        for name, value in (("epoch", epoch), ("initial_epoch", initial_epoch)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"Model.train: {name} must be an int >= 0, got {value!r}")
        if initial_epoch >= epoch:
            raise ValueError(f"Model.train: initial_epoch ({initial_epoch}) must be below epoch ({epoch})")
        batches = _batches(train_dataset, "train")
        cbs = _callbacks(callbacks)
        cb_params = SimpleNamespace(train_network=self._train_network, network=self._network, optimizer=self._optimizer,
                                    loss_fn=self._loss_fn, epoch_num=epoch, batch_num=len(batches), cur_epoch_num=initial_epoch,
                                    cur_step_num=initial_epoch * len(batches), net_outputs=None, mode="train",
                                    dataset_sink_mode=dataset_sink_mode)
        run_context = RunContext(cb_params)
        self._train_network.set_train(True)
        for cb in cbs:
            cb.on_train_begin(run_context)
        for e in range(initial_epoch, epoch):
            cb_params.cur_epoch_num = e + 1
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
            for cb in cbs:
                cb.on_train_epoch_end(run_context)
            if run_context.get_stop_requested():
                break
        for cb in cbs:
            cb.on_train_end(run_context)

    def eval(self, valid_dataset, callbacks=None, dataset_sink_mode: bool = False) -> dict:
        """``{name: value}`` of every metric over ``valid_dataset`` (batches ``(data, label)``), network in eval mode."""
        if not self._metrics:
            raise RuntimeError("Model.eval: the Model was made without metrics")
        if self._eval_network is None and any(isinstance(m, Loss) for m in self._metrics.values()):
            raise RuntimeError("Model.eval: the Loss metric needs a loss_fn or an eval_network")
        batches = _batches(valid_dataset, "eval")
        cbs = _callbacks(callbacks)
        cb_params = SimpleNamespace(eval_network=self._eval_network, network=self._network, batch_num=len(batches),
                                    cur_step_num=0, net_outputs=None, mode="eval", metrics=self._metrics)
        run_context = RunContext(cb_params)
        for metric in self._metrics.values():
            metric.clear()
        self._network.set_train(False)
        for cb in cbs:
            cb.on_eval_begin(run_context)
            cb.on_eval_epoch_begin(run_context)
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
            for cb in cbs:
                cb.on_eval_step_end(run_context)
        results = {name: metric.eval() for name, metric in self._metrics.items()}
        cb_params.metrics = results
        for cb in cbs:
            cb.on_eval_epoch_end(run_context)
            cb.on_eval_end(run_context)
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
