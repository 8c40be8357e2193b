#!/usr/bin/python3
"""Trains BN Lab's presets in PyTorch with the same settings, to compare accuracies with bnlab-cli.

Run with Debian's python3-torch (and, for speed, OpenBLAS):
  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/pytorch_accuracy.py \
      --preset bn-paper-mlp --epochs 5 --lr 0.1 --seed 1

Same network, initialiser (He normal or Glorot uniform, zero biases), BN momentum (Keras k -> torch 1 - k) and
epsilon, optimizer, batch size, split (validation = the last 5,000 training images), pixel scaling (/255) and
partial last batch as bnlab-cli. Only the random streams differ (PyTorch's own generator).
"""
import argparse, gzip, os, time
import numpy as np
import torch
import torch.nn as nn


def idx(path):
    data = gzip.open(path).read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def build(preset, norm, bn_momentum, bn_eps):
    mom = 1.0 - bn_momentum
    layers = []
    if preset.startswith('bn-paper-mlp'):
        size = 784
        for _ in range(3):
            layers.append(nn.Linear(size, 100))
            if norm == 'before': layers.append(nn.BatchNorm1d(100, eps=bn_eps, momentum=mom))
            layers.append(nn.Sigmoid())
            if norm == 'after': layers.append(nn.BatchNorm1d(100, eps=bn_eps, momentum=mom))
            size = 100
        layers.append(nn.Linear(100, 10))
        return nn.Sequential(nn.Flatten(), *layers)
    def block(lin, bn, act=nn.ReLU):
        out = [lin]
        if norm == 'before': out.append(bn)
        out.append(act())
        if norm == 'after': out.append(bn)
        return out
    layers += block(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32, eps=bn_eps, momentum=mom))
    layers += block(nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64, eps=bn_eps, momentum=mom))
    layers += [nn.MaxPool2d(2), nn.Flatten()]
    layers += block(nn.Linear(9216, 128), nn.BatchNorm1d(128, eps=bn_eps, momentum=mom))
    layers.append(nn.Linear(128, 10))
    return nn.Sequential(*layers)


def initialise(model, init):
    """He normal or Glorot uniform weights, zero biases, as bnlab's initialisers."""
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            if init == 'he': nn.init.kaiming_normal_(m.weight, nonlinearity='relu')
            else: nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def optimizer(model, mlp, lr):
    """The presets' optimizers: SGD for the MLPs, Adam (Keras' epsilon 1e-7) for the convnets."""
    return torch.optim.SGD(model.parameters(), lr=lr) if mlp else torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--preset', required=True)
    p.add_argument('--epochs', type=int, default=5)
    p.add_argument('--lr', type=float)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--init', choices=['he', 'glorot'])
    p.add_argument('--bn-momentum', type=float, default=0.99)
    p.add_argument('--bn-epsilon', type=float, default=1e-3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--data', default=os.path.join(os.path.dirname(__file__), '..', 'datasets', 'mnist'))
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    mlp = a.preset.startswith('bn-paper-mlp')
    norm = 'none' if a.preset.endswith('-nobn') else ('before' if mlp else 'after')
    lr = a.lr if a.lr is not None else (0.1 if mlp else 1e-3)
    init = a.init or ('glorot' if mlp else 'he')
    batch = 60 if mlp else 128

    X = torch.tensor(idx(os.path.join(a.data, 'train-images-idx3-ubyte.gz')).astype(np.float32) / 255).unsqueeze(1)
    Y = torch.tensor(idx(os.path.join(a.data, 'train-labels-idx1-ubyte.gz')).astype(np.int64))
    Xt = torch.tensor(idx(os.path.join(a.data, 't10k-images-idx3-ubyte.gz')).astype(np.float32) / 255).unsqueeze(1)
    Yt = torch.tensor(idx(os.path.join(a.data, 't10k-labels-idx1-ubyte.gz')).astype(np.int64))
    Xtr, Ytr, Xv, Yv = X[:55000], Y[:55000], X[55000:], Y[55000:]

    model = build(a.preset, norm, a.bn_momentum, a.bn_epsilon)
    initialise(model, init)
    opt = optimizer(model, mlp, lr)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate(Xe, Ye):
        model.eval()
        correct = 0
        with torch.no_grad():
            for i in range(0, len(Xe), 500):
                correct += (model(Xe[i:i + 500]).argmax(1) == Ye[i:i + 500]).sum().item()
        model.train()
        return correct / len(Xe)

    t0 = time.time()
    for epoch in range(1, a.epochs + 1):
        perm = torch.randperm(len(Xtr))
        losses = []
        for i in range(0, len(Xtr), batch):
            b = perm[i:i + batch]
            opt.zero_grad()
            loss = loss_fn(model(Xtr[b]), Ytr[b])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        print(f'epoch {epoch}: mean training loss {np.mean(losses):.4f}, validation accuracy {evaluate(Xv, Yv):.4f} '
              f'({time.time() - t0:.0f} s)', flush=True)
    print(f'{a.preset} lr {lr} init {init} seed {a.seed}: test accuracy {evaluate(Xt, Yt):.4f}')


if __name__ == '__main__':
    main()
