"""Independent float64 numpy re-implementation of docs/unet-spec.md, written from the spec text (not from
model.py), to check golden.safetensors: it reads the weights by their spec names and recomputes eps.N.

  python3 train/unet/ref_numpy.py --dir train/unet/out
"""
import argparse
import json
import math
import struct

import numpy as np


def load(path):
    buf = open(path, "rb").read()
    (n,) = struct.unpack("<Q", buf[:8])
    hdr = json.loads(buf[8:8 + n])
    hdr.pop("__metadata__", None)
    out = {}
    for k, h in hdr.items():
        a, b = h["data_offsets"]
        dt = {"F32": "<f4", "I64": "<i8"}[h["dtype"]]
        out[k] = np.frombuffer(buf[8 + n + a:8 + n + b], dtype=dt).reshape(h["shape"]).astype(np.float64)
    return out


def silu(v):
    return v / (1.0 + np.exp(-v))


def conv(W, p, x, stride=1):  # x [cin,H,W], weight [cout,cin,k,k] -> [cout,Ho,Wo], zero padding k//2
    w, b = W[p + ".weight"], W[p + ".bias"]
    k = w.shape[2]
    pad = k // 2
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    H, Wd = x.shape[1], x.shape[2]
    Ho, Wo = (H + 2 * pad - k) // stride + 1, (Wd + 2 * pad - k) // stride + 1
    out = np.zeros((w.shape[0], Ho, Wo))
    for dy in range(k):
        for dx in range(k):
            patch = xp[:, dy:dy + stride * Ho:stride, dx:dx + stride * Wo:stride]  # [cin,Ho,Wo]
            out += np.einsum("oc,chw->ohw", w[:, :, dy, dx], patch)
    return out + b[:, None, None]


def gn(W, p, x, groups=8, eps=1e-5):  # statistics over (channels of the group, H, W), biased variance
    c = x.shape[0]
    g = x.reshape(groups, -1)
    mu, var = g.mean(1, keepdims=True), g.var(1, keepdims=True)
    y = ((g - mu) / np.sqrt(var + eps)).reshape(x.shape)
    return y * W[p + ".weight"][:, None, None] + W[p + ".bias"][:, None, None]


def res(W, p, x, ta):
    h = conv(W, p + ".conv1", silu(gn(W, p + ".norm1", x)))
    h = h + (W[p + ".temb.weight"] @ ta + W[p + ".temb.bias"])[:, None, None]
    h = conv(W, p + ".conv2", silu(gn(W, p + ".norm2", h)))
    return h + (conv(W, p + ".skip", x) if (p + ".skip.weight") in W else x)


def attn(W, p, x):
    c, H, Wd = x.shape
    qkv = conv(W, p + ".qkv", gn(W, p + ".norm", x)).reshape(3 * c, H * Wd)
    q, k, v = qkv[:c], qkv[c:2 * c], qkv[2 * c:]
    s = q.T @ k / math.sqrt(c)  # [HW query, HW key]
    a = np.exp(s - s.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    o = (v @ a.T).reshape(c, H, Wd)
    return x + conv(W, p + ".proj", o)


def up(W, p, x):
    return conv(W, p + ".conv", x.repeat(2, axis=1).repeat(2, axis=2))


def forward(W, x, t, y):  # x [1,32,32], t float, y int -> eps [1,32,32]
    f = np.exp(-math.log(10000.0) * np.arange(32) / 32)
    e = np.concatenate([np.sin(t * f), np.cos(t * f)])
    temb = W["time.lin2.weight"] @ silu(W["time.lin1.weight"] @ e + W["time.lin1.bias"]) + W["time.lin2.bias"]
    ta = silu(temb + W["class_emb.weight"][y])
    h = conv(W, "conv_in", x)
    s0 = h = res(W, "down.0.res", h, ta)
    h = conv(W, "down.0.down.conv", h, stride=2)
    s1 = h = attn(W, "down.1.attn", res(W, "down.1.res", h, ta))
    h = conv(W, "down.1.down.conv", h, stride=2)
    s2 = h = attn(W, "down.2.attn", res(W, "down.2.res", h, ta))
    h = res(W, "mid.res2", attn(W, "mid.attn", res(W, "mid.res1", h, ta)), ta)
    h = up(W, "up.2.up", attn(W, "up.2.attn", res(W, "up.2.res", np.concatenate([h, s2]), ta)))
    h = up(W, "up.1.up", attn(W, "up.1.attn", res(W, "up.1.res", np.concatenate([h, s1]), ta)))
    h = res(W, "up.0.res", np.concatenate([h, s0]), ta)
    return conv(W, "out.conv", silu(gn(W, "out.norm", h)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    a = p.parse_args()
    W = load(a.dir + "/fm-unet.safetensors")
    G = load(a.dir + "/golden.safetensors")
    worst = 0.0
    for n in range(4):
        ref = forward(W, G[f"x.{n}"][0], float(G[f"t.{n}"][0]), int(G[f"y.{n}"][0]))
        err = float(np.abs(ref - G[f"eps.{n}"][0]).max())
        worst = max(worst, err)
        print(f"case {n}: max|numpy f64 - torch f32| = {err:.3e}")
    assert worst < 1e-3, worst
    print("numpy reference agrees with golden.safetensors")


if __name__ == "__main__":
    main()
