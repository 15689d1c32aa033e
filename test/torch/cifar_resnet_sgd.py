"""The PyTorch twin of `lplr run fig3` for test/cifar-init-from.test.ts (run only where torch imports).

Builds a CIFAR ResNet-(6n+2) with projection shortcuts ("option B": 1x1 conv + batch norm where the
shape changes), loads a safetensors file with its state-dict names (conv1.weight, bn1.running_mean,
layer2.0.shortcut.0.weight, linear.weight, ...), reads data_batch_1.bin, keeps the given classes
(relabelled 0..k-1 in that order), normalises with the training set's per-channel mean and std, and
takes full-batch SGD steps (momentum 0, no augmentation) with lplr's cosine schedule
lr * (1 + cos(pi * s / T)) / 2. Prints the training losses (before each step) as JSON.

usage: cifar_resnet_sgd.py PARAMS.safetensors DATA_DIR --classes 0,1,2,3,4 --depth 8 --widths 4,8,8
                           --steps 3 --lr 0.05 --weight-decay 0
"""
import argparse
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        arr = np.frombuffer(data[begin:end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


class Block(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(in_planes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(h)) + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, widths, classes):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        planes = widths[0]
        for s, w in enumerate(widths):
            blocks = []
            for i in range(n):
                blocks.append(Block(planes, w, 2 if (i == 0 and s > 0) else 1))
                planes = w
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.linear = nn.Linear(planes, classes)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.layer3(self.layer2(self.layer1(h)))
        return self.linear(F.adaptive_avg_pool2d(h, 1).flatten(1))


def load_data(data_dir, classes):
    raw = np.fromfile(f"{data_dir}/data_batch_1.bin", dtype=np.uint8).reshape(-1, 3073)
    keep = [i for i in range(raw.shape[0]) if raw[i, 0] in classes]
    labels = np.array([classes.index(raw[i, 0]) for i in keep], dtype=np.int64)
    images = raw[keep, 1:].reshape(-1, 3, 32, 32).astype(np.float64)
    # Per-channel mean and std of the bytes (population std), as lplr's channelStats.
    mean = images.mean(axis=(0, 2, 3)) / 255
    std = np.sqrt(np.maximum(0, (images**2).mean(axis=(0, 2, 3)) - (images.mean(axis=(0, 2, 3))) ** 2)) / 255
    x = ((images / 255 - mean[None, :, None, None]) / std[None, :, None, None]).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(labels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("params")
    ap.add_argument("data_dir")
    ap.add_argument("--classes", default="0,1,2,3,4")
    ap.add_argument("--depth", type=int, default=8)
    ap.add_argument("--widths", default="4,8,8")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    classes = [int(c) for c in a.classes.split(",")]
    model = CifarResNet(a.depth, [int(w) for w in a.widths.split(",")], len(classes))
    state = read_safetensors(a.params)
    for k, v in state.items():
        if k.endswith("num_batches_tracked"):
            state[k] = v.to(torch.int64).reshape(())
    model.load_state_dict(state, strict=True)
    x, y = load_data(a.data_dir, classes)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.0, weight_decay=a.weight_decay)
    model.train()
    losses = []
    for s in range(a.steps):
        for g in opt.param_groups:
            g["lr"] = a.lr * (1 + math.cos(math.pi * s / a.steps)) / 2
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        losses.append(loss.item())
        loss.backward()
        opt.step()
    print(json.dumps(losses))


if __name__ == "__main__":
    main()
