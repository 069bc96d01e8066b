# Independent PyTorch implementation of docs/unet-spec.md with random weights: writes fm-unet.safetensors +
# golden.safetensors (same names and layout as the trainer) into /tmp/fmunet, to cross-check src/model/unet
# before trained weights exist:  /usr/bin/python3 test/unet/torch_spec_golden.py && FM_UNET_DIR=/tmp/fmunet npx vitest run test/unet/golden.test.ts
import json, math, os, struct, torch, torch.nn as nn, torch.nn.functional as F, numpy as np
os.makedirs("/tmp/fmunet", exist_ok=True)
torch.manual_seed(0)
torch.backends.cudnn.allow_tf32 = False
class R(nn.Module):
    def __init__(s, ci, co):
        super().__init__()
        s.norm1 = nn.GroupNorm(8, ci); s.conv1 = nn.Conv2d(ci, co, 3, padding=1)
        s.temb = nn.Linear(256, co); s.norm2 = nn.GroupNorm(8, co); s.conv2 = nn.Conv2d(co, co, 3, padding=1)
        s.skip = nn.Conv2d(ci, co, 1) if ci != co else None
    def forward(s, x, t):
        h = s.conv1(F.silu(s.norm1(x))) + s.temb(t)[:, :, None, None]
        h = s.conv2(F.silu(s.norm2(h)))
        return h + (s.skip(x) if s.skip is not None else x)
class A(nn.Module):
    def __init__(s, c):
        super().__init__(); s.norm = nn.GroupNorm(8, c); s.qkv = nn.Conv2d(c, 3 * c, 1); s.proj = nn.Conv2d(c, c, 1)
    def forward(s, x):
        B, C, H, W = x.shape
        q, k, v = s.qkv(s.norm(x)).reshape(B, 3 * C, H * W).chunk(3, dim=1)
        a = torch.softmax(torch.einsum('bci,bcj->bij', q, k) / math.sqrt(C), dim=-1)
        o = torch.einsum('bij,bcj->bci', a, v).reshape(B, C, H, W)
        return x + s.proj(o)
class Down(nn.Module):
    def __init__(s, c): super().__init__(); s.conv = nn.Conv2d(c, c, 3, stride=2, padding=1)
    def forward(s, x): return s.conv(x)
class Up(nn.Module):
    def __init__(s, c): super().__init__(); s.conv = nn.Conv2d(c, c, 3, padding=1)
    def forward(s, x): return s.conv(F.interpolate(x, scale_factor=2, mode='nearest'))
class Time(nn.Module):
    def __init__(s): super().__init__(); s.lin1 = nn.Linear(64, 256); s.lin2 = nn.Linear(256, 256)
class Out(nn.Module):
    def __init__(s): super().__init__(); s.norm = nn.GroupNorm(8, 64); s.conv = nn.Conv2d(64, 1, 3, padding=1)
class U(nn.Module):
    def __init__(s):
        super().__init__()
        s.time = Time(); s.class_emb = nn.Embedding(11, 256); s.conv_in = nn.Conv2d(1, 64, 3, padding=1)
        s.down = nn.ModuleList([nn.ModuleDict(dict(res=R(64, 64), down=Down(64))),
                                nn.ModuleDict(dict(res=R(64, 128), attn=A(128), down=Down(128))),
                                nn.ModuleDict(dict(res=R(128, 128), attn=A(128)))])
        s.mid = nn.ModuleDict(dict(res1=R(128, 128), attn=A(128), res2=R(128, 128)))
        s.up = nn.ModuleList([nn.ModuleDict(dict(res=R(192, 64))),
                              nn.ModuleDict(dict(res=R(256, 128), attn=A(128), up=Up(128))),
                              nn.ModuleDict(dict(res=R(256, 128), attn=A(128), up=Up(128)))])
        s.out = Out()
    def forward(s, x, t, y):
        f = torch.exp(-math.log(10000) * torch.arange(32, dtype=torch.float32) / 32)
        e = t[:, None] * f[None]
        e = torch.cat([torch.sin(e), torch.cos(e)], dim=1)
        temb = s.time.lin2(F.silu(s.time.lin1(e))) + s.class_emb(y)
        ta = F.silu(temb)
        h = s.conv_in(x); skips = []
        for i, d in enumerate(s.down):
            h = d['res'](h, ta)
            if 'attn' in d: h = d['attn'](h)
            skips.append(h)
            if 'down' in d: h = d['down'](h)
        h = s.mid['res2'](s.mid['attn'](s.mid['res1'](h, ta)), ta)
        for i in (2, 1, 0):
            u = s.up[i]
            h = u['res'](torch.cat([h, skips[i]], 1), ta)
            if 'attn' in u: h = u['attn'](h)
            if 'up' in u: h = u['up'](h)
        return s.out.conv(F.silu(s.out.norm(h)))
def save(path, d):
    hdr = {}; off = 0; blobs = []
    for k, v in d.items():
        a = np.ascontiguousarray(v.detach().numpy().astype(np.float32)); b = a.tobytes()
        hdr[k] = dict(dtype='F32', shape=list(a.shape), data_offsets=[off, off + len(b)]); off += len(b); blobs.append(b)
    j = json.dumps(hdr).encode()
    with open(path, 'wb') as fh: fh.write(struct.pack('<Q', len(j))); fh.write(j); [fh.write(b) for b in blobs]
m = U().eval()
with torch.no_grad():
    for n, p in m.named_parameters():  # non-trivial norms / embeddings
        if 'norm' in n: p.add_(0.2 * torch.randn_like(p))
sd = {k: v for k, v in m.state_dict().items()}
sd['sched.betas'] = torch.linspace(1e-4, 0.02, 1000)
save('/tmp/fmunet/fm-unet.safetensors', sd)
g = {}
with torch.no_grad():
    for N, (t, y) in enumerate([(999, 3), (0, 10), (500, 7), (17, 0)]):
        x = torch.randn(1, 1, 32, 32); tt = torch.tensor([float(t)]); yy = torch.tensor([y])
        g[f'x.{N}'] = x; g[f't.{N}'] = tt; g[f'y.{N}'] = yy.float(); g[f'eps.{N}'] = m(x, tt, yy)
        print(N, float(g[f'eps.{N}'].abs().mean()))
save('/tmp/fmunet/golden.safetensors', g)
print(sum(p.numel() for p in m.parameters()))
