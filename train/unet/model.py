"""fm-unet: the class-conditional U-Net of docs/unet-spec.md, in PyTorch.

The state_dict keys ARE the safetensors names of the spec (e.g. `down.1.attn.qkv.weight`), so the module
tree below mirrors the spec's naming one to one. Only stdlib + torch (works on torch 1.13 and 2.x).
Attention is written with plain bmm + softmax (no scaled_dot_product_attention) so that the legacy ONNX
exporter emits MatMul/Softmax that onnxruntime-web runs everywhere.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

N_CLASSES = 10  # Fashion-MNIST classes 0..9
NULL_CLASS = 10  # classifier-free guidance "no label" index
TEMB_DIM = 256  # time/class embedding width
TFREQ_DIM = 64  # sinusoidal embedding width
GROUPS = 8
GN_EPS = 1e-5
N_T = 1000
BETA_START, BETA_END = 1e-4, 0.02


def make_betas(n_t=N_T):
    """Linear betas exactly as the spec: beta[i] = 1e-4 + (0.02 - 1e-4) * i / (nT - 1), computed in f64."""
    i = torch.arange(n_t, dtype=torch.float64)  # [nT]
    return BETA_START + (BETA_END - BETA_START) * i / (n_t - 1)  # [nT] f64


def make_alpha_bar(n_t=N_T):
    """alphaBar[i] = prod_{j<=i} (1 - beta[j]), f64 so the f32 rounding happens once at the end."""
    return torch.cumprod(1.0 - make_betas(n_t), dim=0)  # [nT] f64


def norm(c):
    return nn.GroupNorm(GROUPS, c, eps=GN_EPS)


class ResBlock(nn.Module):
    """R(cin, cout): GN-SiLU-conv, + temb projection, GN-SiLU-conv, + (1x1) skip."""

    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = norm(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)  # weight [cout,cin,3,3]
        self.temb = nn.Linear(TEMB_DIM, cout)  # weight [cout,256]
        self.norm2 = norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)  # weight [cout,cout,3,3]
        # `skip` only exists when the channel count changes, so the key set matches the spec exactly
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None  # weight [cout,cin,1,1]

    def forward(self, x, temb_act):  # x [B,cin,H,W], temb_act [B,256]
        h = self.conv1(F.silu(self.norm1(x)))  # [B,cout,H,W]
        h = h + self.temb(temb_act)[:, :, None, None]  # [B,cout,1,1] broadcast over H,W
        h = self.conv2(F.silu(self.norm2(h)))  # [B,cout,H,W]
        return h + (x if self.skip is None else self.skip(x))  # [B,cout,H,W]


class Attention(nn.Module):
    """A(c): single-head self-attention over the H*W positions, residual."""

    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.qkv = nn.Conv2d(c, 3 * c, 1)  # weight [3c,c,1,1]: rows q | k | v
        self.proj = nn.Conv2d(c, c, 1)  # weight [c,c,1,1]
        self.c, self.scale = c, 1.0 / math.sqrt(c)  # python constants, so the ONNX trace has no shape->float

    def forward(self, x):  # x [B,c,H,W]
        b, _, hh, ww = x.shape
        c = self.c
        qkv = self.qkv(self.norm(x)).reshape(b, 3 * c, hh * ww)  # [B,3c,HW]
        q, k, v = qkv[:, :c], qkv[:, c:2 * c], qkv[:, 2 * c:]  # each [B,c,HW]
        scores = torch.bmm(q.transpose(1, 2), k) * self.scale  # [B,HW(query),HW(key)]
        a = torch.softmax(scores, dim=-1)  # [B,HW,HW], softmax over keys
        o = torch.bmm(v, a.transpose(1, 2)).reshape(b, c, hh, ww)  # v a^T: [B,c,HW] -> [B,c,H,W]
        return x + self.proj(o)  # [B,c,H,W]


class Downsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)  # [c,c,3,3]

    def forward(self, x):  # [B,c,H,W] -> [B,c,H/2,W/2]
        return self.conv(x)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)  # [c,c,3,3]

    def forward(self, x):  # [B,c,H,W] -> [B,c,2H,2W]
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TimeMLP(nn.Module):
    """`time.lin1` [256,64], SiLU, `time.lin2` [256,256]."""

    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(TFREQ_DIM, TEMB_DIM)
        self.lin2 = nn.Linear(TEMB_DIM, TEMB_DIM)

    def forward(self, e):  # [B,64] -> [B,256]
        return self.lin2(F.silu(self.lin1(e)))


class Stage(nn.Module):
    """A named container so keys read `down.1.res...`, `up.2.up...`; absent parts stay None (not in state_dict)."""

    def __init__(self, res, attn=None, down=None, up=None):
        super().__init__()
        self.res = res
        self.attn = attn
        self.down = down
        self.up = up


class Mid(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.res1 = ResBlock(c, c)
        self.attn = Attention(c)
        self.res2 = ResBlock(c, c)


class Out(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = norm(c)
        self.conv = nn.Conv2d(c, 1, 3, padding=1)  # [1,c,3,3]


class FmUNet(nn.Module):
    def __init__(self):
        super().__init__()
        half = TFREQ_DIM // 2
        # f_k = exp(-ln(10000) k / 32): computed in f64 then rounded once, like a JS Math.exp -> Float32Array.
        # Non-persistent: the spec says `time.freqs` is not stored.
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half).float()  # [32]
        self.register_buffer("freqs", freqs, persistent=False)
        self.time = TimeMLP()
        self.class_emb = nn.Embedding(N_CLASSES + 1, TEMB_DIM)  # [11,256]
        self.conv_in = nn.Conv2d(1, 64, 3, padding=1)  # [64,1,3,3]
        self.down = nn.ModuleList([
            Stage(ResBlock(64, 64), down=Downsample(64)),  # 32x32, skip s0 [64,32,32]
            Stage(ResBlock(64, 128), attn=Attention(128), down=Downsample(128)),  # 16x16, s1 [128,16,16]
            Stage(ResBlock(128, 128), attn=Attention(128)),  # 8x8, s2 [128,8,8]
        ])
        self.mid = Mid(128)
        self.up = nn.ModuleList([
            Stage(ResBlock(192, 64)),  # up.0: concat(h [128], s0 [64]) at 32x32
            Stage(ResBlock(256, 128), attn=Attention(128), up=Upsample(128)),  # up.1 at 16x16
            Stage(ResBlock(256, 128), attn=Attention(128), up=Upsample(128)),  # up.2 at 8x8
        ])
        self.out = Out(64)

    def time_embedding(self, t):  # t [B] f32 (integer step as float)
        # kept in f32 even under autocast: t*f for t ~ 1000 needs the mantissa (mul/sin/cos are not autocast ops)
        arg = t.float()[:, None] * self.freqs[None, :]  # [B,32]
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=1)  # [B,64]

    def forward(self, x, t, y):  # x [B,1,32,32] f32, t [B] f32, y [B] int64 (0..10)
        temb = self.time(self.time_embedding(t)) + self.class_emb(y)  # [B,256]
        ta = F.silu(temb)  # [B,256] temb_act read by every ResBlock
        h = self.conv_in(x)  # [B,64,32,32]
        d0, d1, d2 = self.down
        h = d0.res(h, ta)  # [B,64,32,32]
        s0 = h
        h = d0.down(h)  # [B,64,16,16]
        h = d1.attn(d1.res(h, ta))  # [B,128,16,16]
        s1 = h
        h = d1.down(h)  # [B,128,8,8]
        h = d2.attn(d2.res(h, ta))  # [B,128,8,8]
        s2 = h
        h = self.mid.res2(self.mid.attn(self.mid.res1(h, ta)), ta)  # [B,128,8,8]
        u0, u1, u2 = self.up
        h = u2.attn(u2.res(torch.cat([h, s2], dim=1), ta))  # [B,256,8,8] -> [B,128,8,8]
        h = u2.up(h)  # [B,128,16,16]
        h = u1.attn(u1.res(torch.cat([h, s1], dim=1), ta))  # [B,256,16,16] -> [B,128,16,16]
        h = u1.up(h)  # [B,128,32,32]
        h = u0.res(torch.cat([h, s0], dim=1), ta)  # [B,192,32,32] -> [B,64,32,32]
        return self.out.conv(F.silu(self.out.norm(h)))  # [B,1,32,32] eps


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# The exact key -> shape table of docs/unet-spec.md, built independently of the module tree so a test can
# check the two against each other.
def spec_shapes():
    s = {}

    def gn(p, c):
        s[p + ".weight"], s[p + ".bias"] = [c], [c]

    def conv(p, co, ci, k):
        s[p + ".weight"], s[p + ".bias"] = [co, ci, k, k], [co]

    def res(p, ci, co):
        gn(p + ".norm1", ci)
        conv(p + ".conv1", co, ci, 3)
        s[p + ".temb.weight"], s[p + ".temb.bias"] = [co, TEMB_DIM], [co]
        gn(p + ".norm2", co)
        conv(p + ".conv2", co, co, 3)
        if ci != co:
            conv(p + ".skip", co, ci, 1)

    def attn(p, c):
        gn(p + ".norm", c)
        conv(p + ".qkv", 3 * c, c, 1)
        conv(p + ".proj", c, c, 1)

    s["time.lin1.weight"], s["time.lin1.bias"] = [256, 64], [256]
    s["time.lin2.weight"], s["time.lin2.bias"] = [256, 256], [256]
    s["class_emb.weight"] = [11, 256]
    conv("conv_in", 64, 1, 3)
    res("down.0.res", 64, 64)
    conv("down.0.down.conv", 64, 64, 3)
    res("down.1.res", 64, 128)
    attn("down.1.attn", 128)
    conv("down.1.down.conv", 128, 128, 3)
    res("down.2.res", 128, 128)
    attn("down.2.attn", 128)
    res("mid.res1", 128, 128)
    attn("mid.attn", 128)
    res("mid.res2", 128, 128)
    res("up.2.res", 256, 128)
    attn("up.2.attn", 128)
    conv("up.2.up.conv", 128, 128, 3)
    res("up.1.res", 256, 128)
    attn("up.1.attn", 128)
    conv("up.1.up.conv", 128, 128, 3)
    res("up.0.res", 192, 64)
    gn("out.norm", 64)
    conv("out.conv", 1, 64, 3)
    return s


if __name__ == "__main__":
    m = FmUNet()
    sd = {k: list(v.shape) for k, v in m.state_dict().items()}
    spec = spec_shapes()
    assert sd == spec, (set(sd) ^ set(spec), [k for k in sd if k in spec and sd[k] != spec[k]])
    print("keys match spec:", len(sd), "tensors,", n_params(m), "parameters")
