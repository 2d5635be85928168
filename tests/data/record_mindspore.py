"""Records MindSpore's outputs for tests/test_mindspore_reference.py into mindspore_reference.json.

Run with MindSpore installed (never a project dependency), from the repository root:
    python3.11 -m venv /tmp/msvenv && /tmp/msvenv/bin/pip install "numpy<2" mindspore
    /tmp/msvenv/bin/python tests/data/record_mindspore.py
Every input is written out here as a literal, so the test feeds funcad exactly the same numbers.
"""

import contextlib
import io
import json
import os

import mindspore as ms
import numpy as np
from mindspore import Parameter, Tensor, nn
from mindspore.dataset import NumpySlicesDataset
from mindspore.train import LossMonitor, Model

out = {"mindspore_version": ms.__version__}

# dtypes, defaults and printing
out["dtype_names"] = [str(d) for d in (ms.float16, ms.float32, ms.float64, ms.int8, ms.int16, ms.int32, ms.int64, ms.uint8, ms.bool_)]
out["default_dtypes"] = {
    "float": str(Tensor(1.0).dtype), "int": str(Tensor(1).dtype), "bool": str(Tensor(True).dtype),
    "float_list": str(Tensor([1.0, 2.0]).dtype), "int_list": str(Tensor([1, 0]).dtype),
    "ndarray_float64": str(Tensor(np.array([1.0])).dtype),
}
x = Tensor(np.array([[1, 2], [3, 4]]), ms.int32)
out["repr_int_matrix"] = repr(x)
out["str_int_matrix"] = str(x)
out["attributes"] = [list(x.shape), x.itemsize, x.nbytes, x.ndim, x.size, list(x.strides)]
out["str_float_scalar"] = str(Tensor(np.array([[0, 1], [2, 3]]).astype(np.float32))[1, 1])

# learning-rate lists and schedule Cells
out["lr_lists"] = {
    "exponential_stair": nn.exponential_decay_lr(0.1, 0.9, 6, 2, 2, True),
    "natural_exp": nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2),
    "natural_exp_stair": nn.natural_exp_decay_lr(0.1, 0.9, 6, 2, 2, True),
    "inverse": nn.inverse_decay_lr(0.1, 0.5, 6, 1, 2),
    "inverse_stair": nn.inverse_decay_lr(0.1, 0.5, 6, 1, 2, True),
    "polynomial": nn.polynomial_decay_lr(0.1, 0.01, 6, 2, 2, 0.5),
    "polynomial_update": nn.polynomial_decay_lr(0.1, 0.01, 6, 1, 2, 0.5, True),
    "warmup": nn.warmup_lr(0.1, 6, 2, 2),
}
schedules = {
    "ExponentialDecayLR": nn.ExponentialDecayLR(0.1, 0.9, 4),
    "ExponentialDecayLR_stair": nn.ExponentialDecayLR(0.1, 0.9, 4, True),
    "NaturalExpDecayLR": nn.NaturalExpDecayLR(0.1, 0.9, 4),
    "InverseDecayLR": nn.InverseDecayLR(0.1, 0.5, 4, True),
    "CosineDecayLR": nn.CosineDecayLR(0.01, 0.1, 6),
    "PolynomialDecayLR": nn.PolynomialDecayLR(0.1, 0.01, 6, 2.0),
    "PolynomialDecayLR_update": nn.PolynomialDecayLR(0.1, 0.01, 4, 1.0, True),
    "WarmUpLR": nn.WarmUpLR(0.1, 5),
}
out["lr_schedules"] = {name: [float(s(Tensor(step, ms.int32)).asnumpy()) for step in range(12)] for name, s in schedules.items()}

# Adam with use_amsgrad / use_nesterov: three updates of one parameter with given gradients
W0 = [0.5, -1.0, 2.0]
GRADS = [[3.0, -0.2, 0.5], [0.1, 0.05, -0.3], [-0.1, 0.2, 0.1]]
adam = {}
for flag in ("use_amsgrad", "use_nesterov"):
    p = Parameter(Tensor(np.array(W0, np.float32)), name="w")
    opt = nn.Adam([p], learning_rate=0.1, beta1=0.8, beta2=0.9, eps=1e-6, **{flag: True})
    trajectory = []
    for g in GRADS:
        opt((Tensor(np.array(g, np.float32)),))
        trajectory.append(p.asnumpy().tolist())
    adam[flag] = trajectory
out["adam"] = {"w0": W0, "grads": GRADS, "trajectories": adam}

# SoftmaxCrossEntropyWithLogits
LOGITS = [[0.2, -1.0, 0.5, 2.0], [1.5, 0.3, -0.7, 0.0], [-0.4, 0.9, 0.1, -2.0]]
LABELS = [3, 0, 2]
sce = {}
for sparse in (True, False):
    for reduction in ("none", "mean", "sum"):
        labels = np.array(LABELS, np.int32) if sparse else np.eye(4, dtype=np.float32)[LABELS]
        value = nn.SoftmaxCrossEntropyWithLogits(sparse=sparse, reduction=reduction)(Tensor(np.array(LOGITS, np.float32)), Tensor(labels))
        sce[f"{sparse}-{reduction}"] = value.asnumpy().tolist()
out["softmax_cross_entropy"] = {"logits": LOGITS, "labels": LABELS, "values": sce}

# DynamicLossScaler
FINITES = [True, True, True, False, True, True, True, True, False, False]
scaler = ms.amp.DynamicLossScaler(scale_value=2**16, scale_factor=2, scale_window=3)
scales = []
for finite in FINITES:
    scaler.adjust(Tensor(finite))
    scales.append(float(scaler.scale_value.asnumpy()))
out["dynamic_loss_scaler"] = {"finites": FINITES, "scales": scales}

# metrics
acc = nn.Accuracy()
acc.update(Tensor(np.array([[0.2, 0.5], [0.3, 0.1], [0.9, 0.6]])), Tensor(np.array([1, 0, 1])))
loss = nn.Loss()
loss.update(Tensor(np.array(0.2)))
loss.update(Tensor(np.array([0.1, 0.5])))
PRED, TRUE = [[0.1, 0.2, 0.6], [0.9, -0.3, 0.0]], [[0.0, 0.5, 0.5], [1.0, 0.0, -0.2]]
mae, mse = nn.MAE(), nn.MSE()
mae.update(Tensor(np.array(PRED)), Tensor(np.array(TRUE)))
mse.update(Tensor(np.array(PRED)), Tensor(np.array(TRUE)))
out["metrics"] = {"accuracy": acc.eval(), "loss": loss.eval(), "pred": PRED, "true": TRUE, "mae": mae.eval(), "mse": mse.eval()}

# TrainOneStepCell with sens on a Dense with given weights
WEIGHT, BIAS = [[0.1, -0.2, 0.3], [0.0, 0.4, -0.1]], [0.05, -0.05]
XS, YS = [[1.0, 2.0, -1.0], [0.5, -0.5, 0.2]], [1, 0]
dense = nn.Dense(3, 2, weight_init=Tensor(np.array(WEIGHT, np.float32)), bias_init=Tensor(np.array(BIAS, np.float32)))
step = nn.TrainOneStepCell(nn.WithLossCell(dense, nn.CrossEntropyLoss()), nn.SGD(dense.trainable_params(), 0.01), sens=4.0)
step_loss = step(Tensor(np.array(XS, np.float32)), Tensor(np.array(YS, np.int32)))
out["train_one_step"] = {"weight": WEIGHT, "bias": BIAS, "x": XS, "y": YS, "sens": 4.0, "lr": 0.01,
                         "loss": float(step_loss.asnumpy()), "new_weight": dense.weight.asnumpy().tolist(),
                         "new_bias": dense.bias.asnumpy().tolist()}

# printing a scalar, lazy init, Tensor methods
out["repr_float_scalar"] = repr(Tensor(2.5))
out["str_float_scalar_0d"] = str(Tensor(1.0))
lazy = Tensor(shape=(2, 2), dtype=ms.float32, init=ms.common.initializer.One())
out["lazy_init"] = {"has_init_before": bool(lazy.has_init), "values": lazy.init_data().asnumpy().tolist()}
A = [[1.0, 0.0, 2.0], [3.0, 4.0, 0.5]]
a = Tensor(np.array(A, np.float32))
out["methods"] = {"a": A, "mean_keep": a.mean(axis=1, keep_dims=True).asnumpy().tolist(),
                  "argmax_keep": a.argmax(axis=1, keepdims=True).asnumpy().tolist(), "flatten": a.flatten().shape,
                  "all": bool(a.all().asnumpy()), "any_axis0": a.any(axis=0).asnumpy().tolist(),
                  "all_axis1_keep": a.all(axis=1, keep_dims=True).asnumpy().tolist()}

# ParameterTuple.clone names
w = Parameter(Tensor(np.ones(2, np.float32)), name="w")
out["parameter_tuple_clone"] = [p.name for p in ms.ParameterTuple([w]).clone("moment1", "zeros")]

# to_float and auto_mixed_precision: dtypes of parameters, outputs and gradients
dense16 = nn.Dense(3, 2).to_float(ms.float16)
xs = Tensor(np.array(XS, np.float32))
grads16 = ms.grad(lambda x: dense16(x).sum(), None, dense16.trainable_params())(xs)
out["to_float"] = {"output": str(dense16(xs).dtype), "weight": str(dense16.weight.dtype), "grad": str(grads16[0].dtype)}
amp_net = ms.amp.auto_mixed_precision(nn.SequentialCell([nn.Dense(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dense(4, 2)]), "O2")
amp_net.set_train(False)
out["amp_o2_output"] = str(amp_net(xs).dtype)

# LossMonitor's printed line and Model.eval's result, through Model on a two-batch dataset
dense = nn.Dense(3, 2, weight_init=Tensor(np.array(WEIGHT, np.float32)), bias_init=Tensor(np.array(BIAS, np.float32)))
data = NumpySlicesDataset({"x": np.array(XS * 2, np.float32), "y": np.array(YS * 2, np.int32)}, shuffle=False).batch(2)
model = Model(dense, nn.CrossEntropyLoss(), nn.SGD(dense.trainable_params(), 0.01), metrics={"accuracy", "loss"})
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    model.train(2, data, callbacks=[LossMonitor(1)], dataset_sink_mode=False)
out["model"] = {"printed": printed.getvalue(), "eval": model.eval(data, dataset_sink_mode=False),
                "weight": dense.weight.asnumpy().tolist()}

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mindspore_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", path)
