"""conv2d / max_pool2d speed against torch: LeNet-5's layers, the convolution shapes of small CNNs per algorithm, a residual CNN step.

1. LeNet-5's layers (batch 64, 1x28x28, float32). Per layer: forward time, and backward time (the pull-back of
   an output cotangent to the gradients a training step needs: weights and bias for conv1, whose input is
   data; input too for conv2). Then the whole LeNet-5 forward+backward.
2. Per convolution shape (LeNet's two at batch 64; 3x3 with 32 and 64 channels at 16x16 and 32x32, stride 1
   and 2, batch 32; a 1x1 projection): forward, input gradient and weight gradient of every algorithm that
   applies (``funcad.ops.conv_algorithms``) against torch eager's (``aten.convolution_backward`` for the
   gradients), the eager default marked with ``*``.
3. A residual CNN's train step (3x3 convolutions, 32 channels, 16x16, BatchNorm2d, batch 32, SGD): funcad.jit
   (eager default algorithms, timing-based selection, and without the epilogue fusion pass) against torch eager,
   and the convolutions' matrix products alone (the convolution floor).

funcad and torch run in one process, interleaved, and each figure is the median over repeats (``--statistic
min``: the fastest repeat, the least disturbed one on a machine others are loading), with thread counts fixed.

    python benchmarks/bench_conv.py [--threads 1] [--repeats 50] [--parts lenet,shapes,residual]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ["OMP_WAIT_POLICY"] = "PASSIVE"  # torch's spinning OpenMP threads would otherwise slow numpy's BLAS

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import funcad  # noqa: E402
from funcad import nn, ops  # noqa: E402
from funcad.jit.passes import PASSES as JIT_PASSES  # noqa: E402
from funcad.ops import conv, conv_algorithms  # noqa: E402
from harness.bench.floor import MatmulRecorder, blas_floor  # noqa: E402
from harness.environment import cpu_model  # noqa: E402

BATCH = 64


def _lenet_params(rng: np.random.Generator) -> dict[str, np.ndarray]:
    shapes = {"c1.w": (6, 1, 5, 5), "c1.b": (6,), "c2.w": (16, 6, 5, 5), "c2.b": (16,), "f1.w": (120, 400), "f1.b": (120,),
              "f2.w": (84, 120), "f2.b": (84,), "f3.w": (10, 84), "f3.b": (10,)}
    return {k: (rng.standard_normal(s) * (1.0 / np.sqrt(np.prod(s[1:]) if len(s) > 1 else 1.0))).astype(np.float32) for k, s in shapes.items()}


def _funcad_lenet_loss(x, y, p):
    h = ops.max_pool2d(ops.relu(ops.conv2d(x, p["c1.w"], p["c1.b"], padding=2)), 2)
    h = ops.max_pool2d(ops.relu(ops.conv2d(h, p["c2.w"], p["c2.b"])), 2)
    h = ops.reshape(h, (h.shape[0], -1))
    h = ops.relu(ops.matmul(h, ops.transpose(p["f1.w"])) + p["f1.b"])
    h = ops.relu(ops.matmul(h, ops.transpose(p["f2.w"])) + p["f2.b"])
    return ops.cross_entropy(ops.matmul(h, ops.transpose(p["f3.w"])) + p["f3.b"], y)


def _torch_lenet_loss(x, y, p):
    h = F.max_pool2d(F.relu(F.conv2d(x, p["c1.w"], p["c1.b"], padding=2)), 2)
    h = F.max_pool2d(F.relu(F.conv2d(h, p["c2.w"], p["c2.b"])), 2)
    h = h.reshape(h.shape[0], -1)
    h = F.relu(F.linear(h, p["f1.w"], p["f1.b"]))
    h = F.relu(F.linear(h, p["f2.w"], p["f2.b"]))
    return F.cross_entropy(F.linear(h, p["f3.w"], p["f3.b"]), y)


STATISTIC = {"median": np.median, "min": np.min}
statistic = np.median  # set from --statistic


def _interleaved_medians(cases: dict, repeats: int) -> dict[str, float]:
    """Run every case once per round, rounds repeated; median (or ``--statistic``) milliseconds per case."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for fn in cases.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in cases.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * float(statistic(ts)) for name, ts in times.items()}


def _layer_cases(rng, p) -> tuple[dict, list[str]]:
    """Forward and backward of both conv layers and both pools, for funcad and torch."""
    x1 = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    x2 = rng.standard_normal((BATCH, 6, 14, 14)).astype(np.float32)
    xp1 = rng.standard_normal((BATCH, 6, 28, 28)).astype(np.float32)
    xp2 = rng.standard_normal((BATCH, 16, 10, 10)).astype(np.float32)
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    layers = {
        "conv1 (1->6, k5, pad 2)": (lambda w, b: ops.conv2d(x1, w, b, padding=2), (p["c1.w"], p["c1.b"]),
                                    lambda w, b: F.conv2d(torch.from_numpy(x1), w, b, padding=2), (t["c1.w"], t["c1.b"])),
        "conv2 (6->16, k5)": (lambda x, w, b: ops.conv2d(x, w, b), (x2, p["c2.w"], p["c2.b"]),
                              lambda x, w, b: F.conv2d(x, w, b), (torch.from_numpy(x2), t["c2.w"], t["c2.b"])),
        "max_pool1 (6x28x28, k2)": (lambda x: ops.max_pool2d(x, 2), (xp1,), lambda x: F.max_pool2d(x, 2), (torch.from_numpy(xp1),)),
        "max_pool2 (16x10x10, k2)": (lambda x: ops.max_pool2d(x, 2), (xp2,), lambda x: F.max_pool2d(x, 2), (torch.from_numpy(xp2),)),
    }
    cases = {}
    for name, (ffn, fargs, tfn, targs) in layers.items():
        out, pull_back = funcad.vjp(ffn, *fargs)
        cot = rng.standard_normal(out.shape).astype(np.float32)
        cases[f"{name} fwd funcad"] = lambda ffn=ffn, fargs=fargs: ffn(*fargs)
        cases[f"{name} bwd funcad"] = lambda pull_back=pull_back, cot=cot: pull_back(cot)
        leaves = [a.clone().requires_grad_(True) for a in targs]
        t_out = tfn(*leaves)
        t_cot = torch.from_numpy(cot)
        cases[f"{name} fwd torch"] = lambda tfn=tfn, targs=targs: tfn(*targs)
        cases[f"{name} bwd torch"] = lambda t_out=t_out, leaves=leaves, t_cot=t_cot: torch.autograd.grad(t_out, leaves, t_cot, retain_graph=True)
    return cases, list(layers)


def _model_cases(rng, p) -> dict:
    x = rng.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, BATCH)
    names = list(p)
    f_step = funcad.value_and_grad(lambda *vals: _funcad_lenet_loss(x, y, dict(zip(names, vals))), tuple(range(len(names))))
    t_params = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in p.items()}
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def t_step():
        loss = _torch_lenet_loss(xt, yt, t_params)
        return torch.autograd.grad(loss, list(t_params.values()))

    f_loss, f_grads = f_step(*p.values())
    t_grads = t_step()
    worst = max(float(np.max(np.abs(np.asarray(a) - b.numpy()))) for a, b in zip(f_grads, t_grads))
    t_loss = _torch_lenet_loss(xt, yt, t_params).item()
    print(f"LeNet-5 loss funcad {float(f_loss):.6f} torch {t_loss:.6f}; largest gradient difference {worst:.2e}")
    return {"LeNet-5 fwd+bwd funcad": lambda: f_step(*p.values()), "LeNet-5 fwd+bwd torch": t_step}


# -- per shape and algorithm -------------------------------------------------------------------------------------
# (name, input shape, weight shape, stride, padding)
SHAPES = [
    ("lenet conv1 b64", (64, 1, 28, 28), (6, 1, 5, 5), 1, 2),
    ("lenet conv2 b64", (64, 6, 14, 14), (16, 6, 5, 5), 1, 0),
    *[(f"3x3 {c}ch {h}x{h} s{s}", (32, c, h, h), (c, c, 3, 3), s, 1) for c in (32, 64) for h in (16, 32) for s in (1, 2)],
    ("1x1 proj 32->64 16x16 s2", (32, 32, 16, 16), (64, 32, 1, 1), 2, 0),
]
PASSES = ("fwd", "dx", "dw")


def _shape_cases(rng, shape) -> tuple[dict, list[str], str]:
    """Forward, input gradient and weight gradient of every applicable algorithm and of torch, for one shape."""
    _, x_shape, w_shape, stride, padding = shape
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = (rng.standard_normal(w_shape) / np.sqrt(np.prod(w_shape[1:]))).astype(np.float32)
    geo = conv.Geometry(w_shape[2:], (stride, stride), (padding,) * 4, (1, 1))
    g = rng.standard_normal((x_shape[0], w_shape[0], *geo.output_size(*x_shape[2:]))).astype(np.float32)
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(g)

    def torch_grad(mask):
        return lambda: torch.ops.aten.convolution_backward(gt, xt, wt, None, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1, mask)

    cases = {"fwd torch": lambda: F.conv2d(xt, wt, stride=stride, padding=padding),
             "dx torch": torch_grad([True, False, False]), "dw torch": torch_grad([False, True, False])}
    names = conv_algorithms.applicable(geo)
    for name in names:
        cases[f"fwd {name}"] = lambda name=name: conv._conv.impl(x, w, geo=geo, groups=1, algorithm=name)
        cases[f"dx {name}"] = lambda name=name: conv._conv_input_grad.impl(g, w, geo=geo, groups=1, x_shape=x_shape, algorithm=name)
        cases[f"dw {name}"] = lambda name=name: conv._conv_weight_grad.impl(x, g, geo=geo, groups=1, w_shape=w_shape, algorithm=name)
    return cases, names, conv_algorithms.default_algorithm(geo)


def shape_table(rng, repeats: int) -> None:
    print("\nper shape and algorithm (ms; ratio = eager default * / torch; - = does not apply)")
    columns = list(conv_algorithms.NAMES)
    print(f"{'shape':26s} {'pass':4s} {'torch':>7s} " + " ".join(f"{c:>9s}" for c in columns) + f" {'ratio':>6s} {'best/torch':>10s}")
    for shape in SHAPES:
        cases, names, default = _shape_cases(rng, shape)
        ms = _interleaved_medians(cases, repeats)
        for part in PASSES:
            cells = [f"{ms[f'{part} {c}']:8.3f}{'*' if c == default else ' '}" if c in names else f"{'-':>9s}" for c in columns]
            best = min(ms[f"{part} {c}"] for c in names)
            torch_ms, default_ms = ms[f"{part} torch"], ms[f"{part} {default}"]
            print(f"{shape[0]:26s} {part:4s} {torch_ms:7.3f} " + " ".join(cells) + f" {default_ms / torch_ms:6.2f} {best / torch_ms:10.2f}")


# -- residual CNN train step -------------------------------------------------------------------------------------
RES_BATCH, RES_CHANNELS, RES_SIZE, RES_CLASSES = 32, 32, 16, 10


class _FuncadBlock(nn.Cell):
    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, c, 3, pad_mode="pad", padding=1), nn.BatchNorm2d(c)
        self.conv2, self.bn2 = nn.Conv2d(c, c, 3, pad_mode="pad", padding=1), nn.BatchNorm2d(c)

    def construct(self, x):
        h = ops.relu(self.bn1(self.conv1(x)))
        return ops.relu(self.bn2(self.conv2(h)) + x)


class _FuncadResNet(nn.Cell):
    """A stem convolution and two residual blocks at 32 channels, global average pool, a dense classifier."""

    def __init__(self):
        super().__init__()
        self.stem, self.bn = nn.Conv2d(3, RES_CHANNELS, 3, pad_mode="pad", padding=1), nn.BatchNorm2d(RES_CHANNELS)
        self.block1, self.block2 = _FuncadBlock(RES_CHANNELS), _FuncadBlock(RES_CHANNELS)
        self.fc = nn.Dense(RES_CHANNELS, RES_CLASSES)

    def construct(self, x):
        h = self.block2(self.block1(ops.relu(self.bn(self.stem(x)))))
        return self.fc(ops.mean(h, axis=(2, 3)))


class _TorchBlock(torch.nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.conv1, self.bn1 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c)
        self.conv2, self.bn2 = torch.nn.Conv2d(c, c, 3, padding=1, bias=False), torch.nn.BatchNorm2d(c)

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + x)


class _TorchResNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.stem, self.bn = torch.nn.Conv2d(3, RES_CHANNELS, 3, padding=1, bias=False), torch.nn.BatchNorm2d(RES_CHANNELS)
        self.block1, self.block2 = _TorchBlock(RES_CHANNELS), _TorchBlock(RES_CHANNELS)
        self.fc = torch.nn.Linear(RES_CHANNELS, RES_CLASSES)

    def forward(self, x):
        return self.fc(self.block2(self.block1(F.relu(self.bn(self.stem(x))))).mean(dim=(2, 3)))


def _funcad_residual_step(x, y, conv_algorithm, passes=tuple(JIT_PASSES)):
    net = _FuncadResNet()
    net.set_train()  # batch statistics, as torch's module in training mode
    optimizer = nn.SGD(net.trainable_params(), learning_rate=0.01)
    grad_fn = funcad.value_and_grad(lambda x, y: ops.cross_entropy(net(x), y), None, optimizer.parameters)

    def train_step(x, y):
        loss, grads = grad_fn(x, y)
        optimizer(grads)
        return loss

    step = funcad.jit(train_step, conv_algorithm=conv_algorithm, passes=passes)
    chosen = [line.split("algorithm=")[1].rstrip(")") for line in step.lower(x, y).as_text().splitlines() if "algorithm=" in line]
    print(f"residual step, conv_algorithm={conv_algorithm!r}: {', '.join(chosen)}")
    return net, lambda: step(x, y)


def residual_table(rng, repeats: int) -> None:
    x = rng.standard_normal((RES_BATCH, 3, RES_SIZE, RES_SIZE)).astype(np.float32)
    y = rng.integers(0, RES_CLASSES, RES_BATCH)
    net, default_step = _funcad_residual_step(x, y, None)
    _, tuned_step = _funcad_residual_step(x, y, "benchmark")
    _, unfused_step = _funcad_residual_step(x, y, None, tuple(p for p in JIT_PASSES if p != "fuse"))
    t_net = _TorchResNet()
    renames = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}
    t_state = {".".join(n.split(".")[:-1] + [renames.get(n.split(".")[-1], n.split(".")[-1])]): torch.from_numpy(p.asnumpy().copy())
               for n, p in net.parameters_and_names()}
    missing, unexpected = t_net.load_state_dict(t_state, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    t_opt = torch.optim.SGD(t_net.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def t_step():
        t_opt.zero_grad()
        loss = F.cross_entropy(t_net(xt), yt)
        loss.backward()
        t_opt.step()
        return loss

    print(f"residual step 1 loss: funcad {float(default_step()):.6f}, torch {t_step().item():.6f}")

    with MatmulRecorder() as recorder:
        default_step()
    cases = {"funcad jit (eager defaults)": default_step, "funcad jit (benchmark)": tuned_step,
             "funcad jit (no epilogue fusion)": unfused_step, "torch eager": t_step,
             "convolution floor (products alone)": blas_floor(recorder.conv_calls)}
    ms = _interleaved_medians(cases, repeats)
    print(f"\nresidual CNN train step (3x3, {RES_CHANNELS} channels, {RES_SIZE}x{RES_SIZE}, BatchNorm2d, batch {RES_BATCH}, SGD); ms")
    for name, value in ms.items():
        print(f"  {name:38s} {value:8.3f}   ratio to torch {value / ms['torch eager']:5.2f}")
    print(f"  jit (eager defaults) / floor {ms['funcad jit (eager defaults)'] / ms['convolution floor (products alone)']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--parts", default="lenet,shapes,residual", help="comma-separated: lenet, shapes, residual")
    parser.add_argument("--statistic", choices=sorted(STATISTIC), default="median", help="per-case summary of the repeats")
    args = parser.parse_args()
    global statistic
    statistic = STATISTIC[args.statistic]
    parts = set(args.parts.split(","))
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    p = _lenet_params(rng)
    print(f"threads={args.threads} repeats={args.repeats} float32, {args.statistic} of the repeats; {cpu_model()}")
    with threadpool_limits(limits=args.threads):
        if "lenet" in parts:
            lenet_table(rng, p, args.repeats)
        if "shapes" in parts:
            shape_table(rng, args.repeats)
        if "residual" in parts:
            residual_table(rng, args.repeats)


def lenet_table(rng, p, repeats: int) -> None:
    layer_cases, layers = _layer_cases(rng, p)
    layer_ms = _interleaved_medians(layer_cases, repeats)
    model_ms = _interleaved_medians(_model_cases(rng, p), repeats)
    print(f"LeNet-5 layers, batch={BATCH}; ms (ratio = funcad / torch)")
    print(f"{'layer':28s} {'fwd funcad':>10s} {'fwd torch':>10s} {'ratio':>6s} {'bwd funcad':>10s} {'bwd torch':>10s} {'ratio':>6s}")
    for name in layers:
        ff, ft = layer_ms[f"{name} fwd funcad"], layer_ms[f"{name} fwd torch"]
        bf, bt = layer_ms[f"{name} bwd funcad"], layer_ms[f"{name} bwd torch"]
        print(f"{name:28s} {ff:10.3f} {ft:10.3f} {ff / ft:6.2f} {bf:10.3f} {bt:10.3f} {bf / bt:6.2f}")
    mf, mt = model_ms["LeNet-5 fwd+bwd funcad"], model_ms["LeNet-5 fwd+bwd torch"]
    print(f"{'LeNet-5 fwd+bwd':28s} funcad {mf:.3f} ms, torch {mt:.3f} ms, ratio {mf / mt:.2f}")


if __name__ == "__main__":
    main()
