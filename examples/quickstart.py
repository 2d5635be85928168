"""MindSpore's quickstart MLP on funcad: only the imports differ from the MindSpore version.

Trains Flatten + Dense(784, 512) + ReLU + Dense(512, 512) + ReLU + Dense(512, 10) with cross-entropy and
SGD(lr=1e-2), printing the training loss and the test loss and accuracy after every epoch.

Data: MNIST or Fashion-MNIST IDX files from --data-dir (train-images-idx3-ubyte[.gz] and friends);
without it, scikit-learn's 8x8 digits upscaled to 28x28 (nothing is downloaded).

With --jit the whole train_step (forward, gradients and the optimizer's update) is compiled by
funcad.jit into one graph, as MindSpore's @jit does; the numbers match eager execution.

Run: python examples/quickstart.py [--data-dir DIR] [--epochs N] [--jit]
"""

import argparse
import time

import numpy as np

import funcad as ms
from funcad import nn
from funcad.data import batches, load_digits, load_mnist, upscale_digits


class Network(nn.Cell):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.dense_relu_sequential = nn.SequentialCell(
            nn.Dense(28 * 28, 512),
            nn.ReLU(),
            nn.Dense(512, 512),
            nn.ReLU(),
            nn.Dense(512, 10),
        )

    def construct(self, x):
        x = self.flatten(x)
        logits = self.dense_relu_sequential(x)
        return logits


def make_train_step(model, loss_fn, optimizer):
    """The tutorial's forward_fn, grad_fn and train_step, for one model, loss and optimizer (the tests train with it too)."""

    def forward_fn(data, label):
        logits = model(data)
        loss = loss_fn(logits, label)
        return loss, logits

    grad_fn = ms.value_and_grad(forward_fn, None, optimizer.parameters, has_aux=True)

    def train_step(data, label):
        (loss, _), grads = grad_fn(data, label)
        optimizer(grads)
        return loss

    return train_step


def load(data_dir):
    if data_dir:
        return load_mnist(data_dir, train=True), load_mnist(data_dir, train=False), f"IDX files in {data_dir}"
    x, y = load_digits()
    images = upscale_digits(x)
    split = 1500
    return (images[:split], y[:split]), (images[split:], y[split:]), "scikit-learn digits upscaled to 28x28"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="directory with MNIST/Fashion-MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=None, help="default: 3 on MNIST, 10 on digits")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jit", action="store_true", help="compile train_step with funcad.jit")
    args = parser.parse_args()

    ms.set_seed(args.seed)
    (train_x, train_y), (test_x, test_y), source = load(args.data_dir)
    epochs = args.epochs or (3 if args.data_dir else 10)
    print(f"data: {source}; train {train_x.shape}, test {test_x.shape}")

    model = Network()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = nn.SGD(model.trainable_params(), 1e-2)
    train_step = make_train_step(model, loss_fn, optimizer)
    if args.jit:
        train_step = ms.jit(train_step)

    def test(x, y):
        model.set_train(False)
        total, correct = 0.0, 0
        for data_batch, label in batches(x, y, 256):
            logits = model(data_batch)
            total += float(loss_fn(logits, label)) * len(label)
            correct += int((np.asarray(logits).argmax(1) == label).sum())
        return total / len(y), correct / len(y)

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        model.set_train()
        losses = [float(train_step(x, y)) for x, y in batches(train_x, train_y, args.batch_size, shuffle=True)]
        test_loss, accuracy = test(test_x, test_y)
        print(f"epoch {epoch}: train loss {np.mean(losses):.6f}, test loss {test_loss:.6f}, test accuracy {100 * accuracy:.1f}%")
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
