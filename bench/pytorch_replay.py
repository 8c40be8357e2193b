#!/usr/bin/python3
"""Trains in PyTorch exactly the run that bnlab-cli trains: same initial weights, same batches.

  build/bench/bnlab-replay-dump bn-paper-mlp 1 5 > /tmp/replay.txt
  OMP_NUM_THREADS=1 /usr/bin/python3 bench/pytorch_replay.py /tmp/replay.txt
  build/app/bnlab-cli train --preset bn-paper-mlp --set seed=1 --out /tmp/run   # compare

Prints the first losses, each epoch's mean training loss and validation accuracy, and the test accuracy,
to compare with bnlab-cli's steps.csv, evals.csv and summary.json. MLP presets only (bn-paper-mlp[-nobn]).
"""
import gzip, os, sys
import numpy as np
import torch
import torch.nn as nn


def idx(path):
    d = gzip.open(path).read()
    nd = d[3]
    dims = [int.from_bytes(d[4 + 4 * i:8 + 4 * i], 'big') for i in range(nd)]
    return np.frombuffer(d, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def main():
    torch.set_num_threads(1)
    lines = [l for l in open(sys.argv[1]).read().split('\n') if l and not l.startswith('#')]
    params, orders, i = {}, [], 0
    while i < len(lines):
        head = lines[i].split()
        if head[0] == 'epoch':
            orders.append(np.array(lines[i + 1].split(), dtype=np.int64))
        else:
            params[head[0]] = torch.tensor(np.array(lines[i + 1].split(), dtype=np.float32).reshape(int(head[1]), int(head[2])))
        i += 2
    bn = 'bn1.gamma' in params
    data = os.path.join(os.path.dirname(__file__), '..', 'datasets', 'mnist')
    X = torch.tensor(idx(os.path.join(data, 'train-images-idx3-ubyte.gz')).reshape(60000, 784).astype(np.float32) / 255)
    Y = torch.tensor(idx(os.path.join(data, 'train-labels-idx1-ubyte.gz')).astype(np.int64))
    Xt = torch.tensor(idx(os.path.join(data, 't10k-images-idx3-ubyte.gz')).reshape(10000, 784).astype(np.float32) / 255)
    Yt = torch.tensor(idx(os.path.join(data, 't10k-labels-idx1-ubyte.gz')).astype(np.int64))

    layers, names = [], []
    for k in range(1, 4):
        layers.append(nn.Linear(784 if k == 1 else 100, 100)); names.append(f'dense{k}')
        if bn:
            layers.append(nn.BatchNorm1d(100, eps=1e-3, momentum=0.01)); names.append(f'bn{k}')
        layers.append(nn.Sigmoid()); names.append(None)
    layers.append(nn.Linear(100, 10)); names.append('output')
    model = nn.Sequential(*layers)
    with torch.no_grad():
        for module, name in zip(model, names):
            if isinstance(module, nn.Linear):
                module.weight.copy_(params[name + '.weight']); module.bias.copy_(params[name + '.bias'].reshape(-1))
            elif isinstance(module, nn.BatchNorm1d):
                module.weight.copy_(params[name + '.gamma'].reshape(-1)); module.bias.copy_(params[name + '.beta'].reshape(-1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate(Xe, Ye):
        model.eval()
        with torch.no_grad():
            c = sum((model(Xe[j:j + 500]).argmax(1) == Ye[j:j + 500]).sum().item() for j in range(0, len(Xe), 500))
        model.train()
        return c / len(Xe)

    for e, order in enumerate(orders):
        losses = []
        for j in range(0, len(order), 60):
            b = torch.tensor(order[j:j + 60])
            opt.zero_grad()
            loss = loss_fn(model(X[b]), Y[b])
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if e == 0:
            print('first losses', ' '.join(f'{l:.6f}' for l in losses[:3]))
        print(f'epoch {e + 1}: mean training loss {np.mean(losses):.6f}, validation accuracy {evaluate(X[55000:], Y[55000:]):.4f}')
    print(f'test accuracy {evaluate(Xt, Yt):.4f}')


if __name__ == '__main__':
    main()
