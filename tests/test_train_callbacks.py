"""funcad.train's EarlyStopping, ReduceLROnPlateau, History, LambdaCallback and Model.fit, checked against MindSpore's
rules on monitored sequences whose answers are known, and on a small model trained on a synthetic dataset."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import funcad
from funcad import nn
from funcad.dataset import NumpySlicesDataset
from funcad.train import Callback, EarlyStopping, History, LambdaCallback, Model, ReduceLROnPlateau

RNG = np.random.default_rng(3)
X = RNG.standard_normal((24, 4)).astype(np.float32)
Y = (X @ np.array([1.0, -2.0, 0.5, 1.5], np.float32) > 0).astype(np.int32)


def _data(labels=Y):
    return NumpySlicesDataset({"x": X, "y": labels}, shuffle=False).batch(8)  # 3 batches


def _model(metrics=None, lr: float = 0.1, momentum: float = 0.9, seed: int = 0):
    funcad.set_seed(seed)
    net = nn.SequentialCell(nn.Dense(4, 6), nn.ReLU(), nn.Dense(6, 2))
    optimizer = nn.Momentum(net.trainable_params(), lr, momentum) if momentum else nn.SGD(net.trainable_params(), lr)
    return net, optimizer, Model(net, nn.CrossEntropyLoss(), optimizer, metrics=metrics)


class Scripted(Callback):
    """Puts ``values[epoch - 1]`` into the run context's ``eval_results`` under ``name`` at each epoch's end (placed
    before the callback under test, it plays the part of fit's evaluation)."""

    def __init__(self, name: str, values):
        self.name, self.values = name, list(values)

    def on_train_epoch_end(self, run_context):
        cb = run_context.original_args()
        cb.eval_results = {self.name: self.values[cb.cur_epoch_num - 1]}


class Recorder(Callback):
    """What each epoch ended with: its number, the parameters, the optimizer's state and rate, the eval results."""

    def __init__(self, net, optimizer):
        self.net, self.optimizer = net, optimizer
        self.epochs, self.params, self.state, self.rates, self.results, self.step_losses = [], [], [], [], [], []

    def on_train_step_end(self, run_context):
        self.step_losses.append(np.asarray(run_context.original_args().net_outputs).copy())

    def on_train_epoch_end(self, run_context):
        cb = run_context.original_args()
        self.epochs.append(cb.cur_epoch_num)
        self.params.append({n: p.asnumpy().copy() for n, p in self.net.parameters_and_names()})
        self.state.append({n: p.asnumpy().copy() for n, p in self.optimizer.parameters_and_names()})
        self.rates.append(float(self.optimizer.learning_rate))
        self.results.append(dict(cb.get("eval_results", {})))


def _run_scripted(values, callback, name="eval_loss", epochs=None):
    net, optimizer, model = _model()
    recorder = Recorder(net, optimizer)
    model.train(epochs or len(values), _data(), callbacks=[Scripted(name, values), callback, recorder])
    return recorder


# ---- EarlyStopping -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, kwargs, stop", [
    ([5, 4, 4.5, 4.2, 3, 2], dict(patience=2), 4),                       # two epochs without a new best
    ([5, 4, 4.5, 3.9, 4.2, 4.1, 1], dict(patience=2), 6),                # 3.9 is a new best: the wait restarts
    ([5, 4.95, 4.91, 4.85, 4.8], dict(patience=2, min_delta=0.1), 3),     # better, but by less than min_delta
    ([5, 4.95, 4.91, 4.85, 4.8], dict(patience=2), 0),                    # every epoch improves: no stop
    ([5, 4.95, 4.91, 4.85, 4.8], dict(patience=2, min_delta=-0.1), 3),    # min_delta counts by its size
    ([5, 4, 3], {}, 1),                                                  # patience 0 (the default) stops at once
    ([5, 4, 3.5, 2.9, 2.8], dict(patience=3, baseline=3.0), 3),          # new bests that miss the baseline count as waits
    ([5, 2.5, 2.6, 2.7, 2.8], dict(patience=3, baseline=3.0), 5),        # beating the baseline resets the wait
    ([5, 4, 3.5, 2.9, 2.8], dict(patience=3), 0),
])
def test_early_stopping_stops_at_the_epoch_mindsporess_rule_gives(values, kwargs, stop):
    es = EarlyStopping(**kwargs)
    recorder = _run_scripted(values, es)
    assert es.stopped_epoch == stop
    assert recorder.epochs == list(range(1, (stop or len(values)) + 1))


@pytest.mark.parametrize("monitor, mode, values, stop", [
    ("accuracy", "auto", [0.5, 0.6, 0.55, 0.58, 0.59, 0.7], 5),   # auto: accuracy is better higher
    ("accuracy", "max", [0.5, 0.6, 0.55, 0.58, 0.59, 0.7], 5),
    ("accuracy", "min", [0.5, 0.6, 0.55, 0.58, 0.59, 0.7], 4),    # forced min: only 0.5 counts as a best
    ("eval_loss", "max", [1, 2, 3, 2, 1, 0, 0], 6),
    ("mse", "auto", [3, 2, 2.5, 2.4, 2.3, 1], 5),                  # auto: an error is better lower
])
def test_early_stopping_modes(monitor, mode, values, stop):
    es = EarlyStopping(monitor=monitor, mode=mode, patience=3)
    recorder = _run_scripted(values, es, name=monitor)
    assert es.stopped_epoch == stop and recorder.epochs[-1] == stop


def test_early_stopping_restores_the_exact_parameters_and_optimizer_state_of_the_best_epoch():
    es = EarlyStopping(patience=2, restore_best_weights=True)
    net, optimizer, model = _model()
    recorder = Recorder(net, optimizer)  # before EarlyStopping: it sees each epoch's own weights
    model.train(6, _data(), callbacks=[Scripted("eval_loss", [3, 1, 2, 2.5, 0, 0]), recorder, es])
    assert es.stopped_epoch == 4 and recorder.epochs == [1, 2, 3, 4]
    best, last = recorder.params[1], recorder.params[3]
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), best[name])
        assert not np.array_equal(best[name], last[name])
    for name, p in optimizer.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), recorder.state[1][name])


def test_early_stopping_without_restore_keeps_the_last_weights():
    es = EarlyStopping(patience=2)
    net, optimizer, model = _model()
    recorder = Recorder(net, optimizer)
    model.train(6, _data(), callbacks=[Scripted("eval_loss", [3, 1, 2, 2.5, 0, 0]), recorder, es])
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), recorder.params[-1][name])


def test_early_stopping_on_the_real_eval_loss_of_fit():
    # the validation labels are the training labels flipped: the better the fit, the higher the eval loss
    net, optimizer, model = _model(metrics={"accuracy"}, lr=0.05, momentum=0.0)
    recorder, es = Recorder(net, optimizer), EarlyStopping(patience=2, restore_best_weights=True)
    model.fit(10, _data(), _data(1 - Y), callbacks=[recorder, es])
    losses = [r["eval_loss"] for r in recorder.results]
    assert all(b > a for a, b in zip(losses, losses[1:]))  # so epoch 1 stays the best
    assert es.stopped_epoch == 3 and recorder.epochs == [1, 2, 3] and es.best == losses[0]
    for name, p in net.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), recorder.params[0][name])


def test_early_stopping_on_the_training_loss():
    es = EarlyStopping(monitor="loss", patience=1)
    net, optimizer, model = _model(lr=5.0, momentum=0.0)  # a step far too large: the loss does not keep falling
    recorder = Recorder(net, optimizer)
    model.train(8, _data(), callbacks=[recorder, es])
    last_losses = [float(np.mean(v)) for v in recorder.step_losses[2::3]]
    best, expected = np.inf, 0
    for epoch, loss in enumerate(last_losses, 1):  # patience 1: the first epoch that is not a new best
        if not loss < best:
            expected = epoch
            break
        best = loss
    assert expected and es.stopped_epoch == expected and len(last_losses) == expected


# ---- ReduceLROnPlateau ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("values, kwargs, rates", [
    ([1] * 8, dict(patience=2, factor=0.5), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.0125, 0.0125]),
    ([1] * 9, dict(patience=2, factor=0.5, cooldown=2), [0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125]),
    ([1] * 8, dict(patience=2, factor=0.5, min_lr=0.03), [0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03, 0.03]),
    ([1, 0.5, 0.5, 0.2, 0.2, 0.2], dict(patience=2, factor=0.5), [0.1, 0.1, 0.1, 0.1, 0.1, 0.05]),
    ([1, 0.99995, 0.99992, 0.99985], dict(patience=2, factor=0.5), [0.1, 0.1, 0.05, 0.05]),  # below min_delta 1e-4
    ([1, 2, 3, 4, 4], dict(patience=1, factor=0.5, mode="max"), [0.1, 0.1, 0.1, 0.1, 0.05]),
    ([1] * 4, dict(patience=0, factor=0.1), [0.1, 0.01, 0.001, 0.0001]),  # patience 0: every epoch without a new best
])
def test_reduce_lr_on_plateau_changes_the_optimizers_rate(values, kwargs, rates):
    recorder = _run_scripted(values, ReduceLROnPlateau(**kwargs))
    np.testing.assert_allclose(recorder.rates, rates, rtol=1e-12)


def _sgd_run(mode, callbacks_for):
    funcad.set_context(mode=mode)
    net, optimizer, model = _model(lr=0.2, momentum=0.0)
    model.train(6, _data(), callbacks=callbacks_for(optimizer))
    return {n: p.asnumpy().copy() for n, p in net.parameters_and_names()}, optimizer.learning_rate


def test_the_reduced_rate_is_the_one_training_uses_also_when_compiled():
    def plateau(_):
        return [Scripted("eval_loss", [1] * 6), ReduceLROnPlateau(patience=2, factor=0.5)]

    def by_hand(optimizer):  # the same rates set by hand at the start of epochs 4 and 6, eagerly
        rates = {4: 0.1, 6: 0.05}
        return [LambdaCallback(on_train_epoch_begin=lambda rc: setattr(optimizer, "learning_rate",
                                                                       rates.get(rc.original_args().cur_epoch_num, optimizer.learning_rate)))]

    expected, _ = _sgd_run(funcad.PYNATIVE_MODE, by_hand)
    unchanged, _ = _sgd_run(funcad.PYNATIVE_MODE, lambda _: [])
    for mode in (funcad.PYNATIVE_MODE, funcad.GRAPH_MODE):
        params, rate = _sgd_run(mode, plateau)
        assert rate == 0.05
        for name in expected:
            np.testing.assert_allclose(params[name], expected[name], rtol=1e-6, atol=1e-7)
        assert not all(np.allclose(params[n], unchanged[n]) for n in params)


def test_reduce_lr_on_plateau_refuses_a_schedule_or_group_rates():
    funcad.set_seed(0)
    net = nn.Dense(4, 2)
    for optimizer in (nn.SGD(net.trainable_params(), [0.1, 0.05]),
                      nn.SGD([{"params": [net.weight], "lr": 0.01}, {"params": [net.bias]}], 0.1)):
        with pytest.raises(ValueError, match="ReduceLROnPlateau: SGD has a dynamic learning rate or parameter groups"):
            Model(net, nn.CrossEntropyLoss(), optimizer).train(1, _data(), callbacks=ReduceLROnPlateau())


# ---- History -------------------------------------------------------------------------------------------------------

def test_history_records_each_epochs_last_loss_and_keeps_growing_across_runs():
    net, optimizer, model = _model()
    history, recorder = History(), Recorder(net, optimizer)
    model.train(3, _data(), callbacks=[history, recorder])
    assert history.epoch == {"epoch": [1, 2, 3]} and list(history.history) == ["net_output"]
    last_step_losses = recorder.step_losses[2::3]
    assert [type(v) for v in history.history["net_output"]] == [np.float32] * 3
    assert history.history["net_output"] == [np.mean(v) for v in last_step_losses]
    model.train(5, _data(), callbacks=[history, recorder], initial_epoch=3)
    assert history.epoch == {"epoch": [4, 5]} and len(history.history["net_output"]) == 5
    assert history.history["net_output"][3:] == [np.mean(v) for v in recorder.step_losses[-4::3]]


def test_history_in_fit_appends_the_metrics_of_evaluated_epochs():
    net, optimizer, model = _model(metrics={"accuracy", "loss"})
    history, recorder = History(), Recorder(net, optimizer)
    model.fit(4, _data(), _data(), valid_frequency=2, callbacks=[history, recorder])
    assert history.epoch == {"epoch": [1, 2, 3, 4]} and len(history.history["net_output"]) == 4
    assert history.history["accuracy"] == [recorder.results[1]["accuracy"], recorder.results[3]["accuracy"]]
    assert history.history["loss"] == [recorder.results[1]["loss"], recorder.results[3]["loss"]]


# ---- LambdaCallback ------------------------------------------------------------------------------------------------

HOOKS = ["on_train_begin", "on_train_epoch_begin", "on_train_step_begin", "on_train_step_end", "on_train_epoch_end",
         "on_train_end", "on_eval_begin", "on_eval_epoch_begin", "on_eval_step_begin", "on_eval_step_end",
         "on_eval_epoch_end", "on_eval_end"]


def _logging_lambda(log: list) -> LambdaCallback:
    return LambdaCallback(**{h: (lambda rc, h=h: log.append((h, rc.original_args().cur_step_num))) for h in HOOKS})


def test_lambda_callback_calls_every_hook_in_order():
    _, _, model = _model(metrics={"accuracy"})
    log = []
    model.train(2, _data(), callbacks=_logging_lambda(log))
    expected = [("on_train_begin", 0)]
    for epoch in range(2):
        expected.append(("on_train_epoch_begin", 3 * epoch))
        for step in range(3 * epoch + 1, 3 * epoch + 4):
            expected += [("on_train_step_begin", step), ("on_train_step_end", step)]
        expected.append(("on_train_epoch_end", 3 * epoch + 3))
    assert log == expected + [("on_train_end", 6)]
    log.clear()
    model.eval(_data(), callbacks=[_logging_lambda(log)])
    steps = [x for s in (1, 2, 3) for x in (("on_eval_step_begin", s), ("on_eval_step_end", s))]
    assert log == [("on_eval_begin", 0), ("on_eval_epoch_begin", 0), *steps, ("on_eval_epoch_end", 3), ("on_eval_end", 3)]


def test_lambda_callback_hooks_left_out_do_nothing_and_bad_hooks_are_named():
    calls = []
    _, _, model = _model()
    model.train(2, _data(), callbacks=LambdaCallback(on_train_epoch_end=lambda rc: calls.append(rc.original_args().cur_epoch_num)))
    assert calls == [1, 2]
    with pytest.raises(TypeError, match="LambdaCallback: on_train_end must be a function of the run context or None, got 3"):
        LambdaCallback(on_train_end=3)


# ---- Model.fit -----------------------------------------------------------------------------------------------------

class EvalSpy(Callback):
    """A callback of one's own: fit hands it the evaluation's hooks."""

    def __init__(self):
        self.log = []

    def on_eval_begin(self, run_context):
        cb = run_context.original_args()
        self.log.append(("eval_begin", cb.cur_epoch_num, cb.mode, cb.cur_step_num, cb.batch_num))

    def on_eval_end(self, run_context):
        cb = run_context.original_args()
        self.log.append(("eval_end", cb.cur_epoch_num, cb.cur_step_num, dict(cb.eval_results)))

    def on_train_epoch_end(self, run_context):
        cb = run_context.original_args()
        self.log.append(("epoch_end", cb.cur_epoch_num, cb.mode, cb.cur_step_num, cb.batch_num, "eval_results" in cb))


def test_fit_evaluates_every_valid_frequency_epochs_and_its_results_equal_model_eval():
    net, optimizer, model = _model(metrics={"accuracy", "loss"})
    spy, recorder, log = EvalSpy(), Recorder(net, optimizer), []
    valid = NumpySlicesDataset({"x": X[:10], "y": Y[:10]}, shuffle=False).batch(4)  # 3 batches, the last of 2
    model.fit(5, _data(), valid, valid_frequency=2, callbacks=[spy, recorder, _logging_lambda(log)])
    assert [e[:2] for e in spy.log if e[0] == "eval_begin"] == [("eval_begin", 2), ("eval_begin", 4)]
    assert all(e[2:] == ("eval", 0, 3) for e in spy.log if e[0] == "eval_begin")
    # at the epoch's end the training's counts are back; eval_results are there only on evaluated epochs
    assert [e for e in spy.log if e[0] == "epoch_end"] == [("epoch_end", n, "train", 3 * n, 3, n in (2, 4)) for n in range(1, 6)]
    assert [r != {} for r in recorder.results] == [False, True, False, True, False]
    assert not any(h.startswith("on_eval") for h, _ in log)  # funcad's own callbacks are left out, as MindSpore's
    for epoch in (2, 4):
        results = recorder.results[epoch - 1]
        assert set(results) == {"accuracy", "loss", "eval_loss"} and results["eval_loss"] == results["loss"]
        assert next(e[3] for e in spy.log if e[:2] == ("eval_end", epoch)) == results
        for name, p in net.parameters_and_names():
            p.set_data(recorder.params[epoch - 1][name])
        assert model.eval(valid) == {"accuracy": results["accuracy"], "loss": results["loss"]}


def test_fit_with_a_list_of_epochs_and_fit_without_validation_trains_as_train_does():
    net, optimizer, model = _model(metrics={"accuracy"})
    spy = EvalSpy()
    model.fit(4, _data(), _data(), valid_frequency=[1, 3], callbacks=spy)
    assert [e[1] for e in spy.log if e[0] == "eval_begin"] == [1, 3]
    fitted = {n: p.asnumpy().copy() for n, p in net.parameters_and_names()}
    net2, _, model2 = _model(metrics={"accuracy"})
    model2.fit(4, _data())
    for name, p in net2.parameters_and_names():
        np.testing.assert_array_equal(p.asnumpy(), fitted[name])  # evaluating changes nothing in training


def test_fit_and_callback_argument_errors_name_the_culprit():
    with pytest.raises(ValueError, match=r"EarlyStopping: mode must be 'auto', 'min' or 'max', got 'up'"):
        EarlyStopping(mode="up")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: mode must be 'auto', 'min' or 'max', got 'lower'"):
        ReduceLROnPlateau(mode="lower")
    with pytest.raises(ValueError, match=r"ReduceLROnPlateau: factor must be in \(0, 1\), got 1.5"):
        ReduceLROnPlateau(factor=1.5)
    with pytest.raises(ValueError, match="EarlyStopping: patience must be an int >= 0, got -1"):
        EarlyStopping(patience=-1)
    with pytest.raises(TypeError, match="EarlyStopping: monitor must be a str"):
        EarlyStopping(monitor=3)
    _, _, model = _model()
    with pytest.raises(ValueError, match="Model.fit: evaluating valid_dataset needs metrics"):
        model.fit(1, _data(), _data())
    _, _, model = _model(metrics={"accuracy"})
    with pytest.raises(ValueError, match="Model.fit: valid_frequency must be >= 1, got 0"):
        model.fit(1, _data(), _data(), valid_frequency=0)
    with pytest.raises(ValueError, match=r"Model.fit: initial_epoch \(2\) must be below epoch \(2\)"):
        model.fit(2, _data(), initial_epoch=2)


def test_a_monitor_missing_from_the_results_warns_with_the_callback_and_the_choices():
    _, optimizer, model = _model(metrics={"accuracy"})
    es, plateau = EarlyStopping(monitor="acc", patience=0), ReduceLROnPlateau(monitor="acc", patience=0)
    with pytest.warns(RuntimeWarning) as caught:
        model.fit(2, _data(), _data(), callbacks=[es, plateau])
    messages = [str(w.message) for w in caught]
    assert ("EarlyStopping: monitor 'acc' is not available at epoch 1 (available: 'loss', 'accuracy', 'eval_loss'); "
            "this epoch is not counted") in messages
    assert any(m.startswith("ReduceLROnPlateau: monitor 'acc' is not available at epoch 2") for m in messages)
    assert es.stopped_epoch == 0 and optimizer.learning_rate == 0.1  # nothing was counted


def test_epochs_fit_does_not_evaluate_are_skipped_quietly():
    _, _, model = _model(metrics={"accuracy"})
    es = EarlyStopping(monitor="accuracy", patience=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(4, _data(), _data(), valid_frequency=2, callbacks=es)
    assert es.stopped_epoch == 0


def test_the_callbacks_import_from_mindsporess_paths():
    import funcad.train.callback as callback_module

    for name in ("EarlyStopping", "ReduceLROnPlateau", "History", "LambdaCallback", "ModelCheckpoint"):
        assert getattr(callback_module, name) is getattr(funcad.train, name)
        assert name in funcad.train.__all__
    from funcad.train.callback import EarlyStopping as FromCallback

    assert FromCallback is EarlyStopping
