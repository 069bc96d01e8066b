"""Fashion-MNIST from the original idx .gz files (stdlib gzip + numpy), padded 28 -> 32, scaled to [-1, 1].

The whole set (60000 x 32 x 32 uint8 = 61 MB) is kept on the training device; batches are drawn there by
random index, so the loader never becomes the bottleneck for this tiny model.
"""
import gzip
import os
import struct

import numpy as np
import torch

CLASS_NAMES = ["t-shirt/top", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        buf = f.read()
    magic, = struct.unpack(">I", buf[:4])
    ndim = magic & 0xFF
    assert magic >> 8 == 0x08, f"{path}: not an unsigned-byte idx file (magic {magic:#x})"
    dims = struct.unpack(">" + "I" * ndim, buf[4:4 + 4 * ndim])
    return np.frombuffer(buf, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(folder, split="train"):
    """-> (images uint8 [N,32,32] padded with 0 = background, labels int64 [N])."""
    pre = "train" if split == "train" else "t10k"
    imgs = _read_idx(os.path.join(folder, f"{pre}-images-idx3-ubyte.gz"))  # [N,28,28] uint8
    labels = _read_idx(os.path.join(folder, f"{pre}-labels-idx1-ubyte.gz"))  # [N] uint8
    assert imgs.shape[0] == labels.shape[0] and imgs.shape[1:] == (28, 28)
    padded = np.zeros((imgs.shape[0], 32, 32), dtype=np.uint8)  # background pixel 0 -> x = -1
    padded[:, 2:30, 2:30] = imgs  # 2 pixels each side
    return padded, labels.astype(np.int64)


class DeviceBatcher:
    """Random batches (with replacement across batches, a fresh permutation per epoch) on `device`."""

    def __init__(self, folder, device, batch, flip=True, seed=0):
        imgs, labels = load_fashion_mnist(folder, "train")
        self.x = torch.from_numpy(imgs).to(device)  # [N,32,32] uint8
        self.y = torch.from_numpy(labels).to(device)  # [N] int64
        self.n, self.batch, self.flip, self.device = self.x.shape[0], batch, flip, device
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed)
        self.perm, self.pos = None, self.n

    def next(self):
        if self.pos + self.batch > self.n:  # new epoch: drop the tail, reshuffle
            self.perm = torch.randperm(self.n, generator=self.gen, device=self.device)  # [N]
            self.pos = 0
        idx = self.perm[self.pos:self.pos + self.batch]  # [B]
        self.pos += self.batch
        x = self.x[idx].float().div_(127.5).sub_(1.0).unsqueeze(1)  # [B,1,32,32] in [-1,1]
        if self.flip:  # horizontal flip of half the batch (clothes are left/right symmetric enough)
            m = torch.rand(x.shape[0], generator=self.gen, device=self.device) < 0.5  # [B]
            x = torch.where(m[:, None, None, None], x.flip(3), x)  # [B,1,32,32]
        return x, self.y[idx]  # [B,1,32,32] f32, [B] int64
