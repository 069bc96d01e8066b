"""Stdlib + torch helpers: safetensors read/write by hand, a PNG writer (zlib), the DDIM sampler of the spec.

The GPU machine has no pip/internet, so no `safetensors`, PIL or matplotlib: everything here is plain Python.
"""
import json
import struct
import zlib

import numpy as np
import torch

from model import NULL_CLASS, N_T, make_alpha_bar

_DTYPES = {torch.float32: ("F32", np.float32), torch.int64: ("I64", np.int64), torch.int32: ("I32", np.int32)}
_NP_OF = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "F16": np.float16, "F64": np.float64}


def save_safetensors(path, tensors, metadata=None):
    """Format: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}}, raw LE data.

    Tensors are laid out in sorted-name order; the header is space-padded to a multiple of 8 bytes so every
    tensor starts 8-aligned (readers may then view the buffer as Float32Array without copying).
    """
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        code, npt = _DTYPES[t.dtype]
        raw = t.numpy().astype(np.dtype(npt).newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Returns (dict name -> torch tensor, metadata dict)."""
    with open(path, "rb") as f:
        buf = f.read()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    base, out = 8 + n, {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        arr = np.frombuffer(buf[base + a:base + b], dtype=np.dtype(_NP_OF[h["dtype"]]).newbyteorder("<"))
        out[name] = torch.from_numpy(arr.astype(_NP_OF[h["dtype"]]).reshape(h["shape"]))
    return out, meta


def write_png_gray(path, img):
    """img: 2-D uint8 numpy array [H,W] -> 8-bit greyscale PNG (filter 0 on every row)."""
    h, w = img.shape
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def ddim_timesteps(steps, n_t=N_T):
    """Evenly spaced from nT-1 downwards: t_i = (nT-1) - floor(i*nT/steps), i = 0..steps-1.

    DDIM 20 -> 999, 949, ..., 49; DDIM 1000 -> 999..0. The step after the last one goes to "t = -1",
    whose alphaBar is 1 (the clean image).
    """
    return [(n_t - 1) - (i * n_t) // steps for i in range(steps)]


@torch.no_grad()
def ddim_sample(model, x_t, y, steps=20, w=1.0):
    """DDIM (eta = 0), no x0 clipping. x_t [B,1,32,32] f32 initial noise, y [B] int64.

    w == 1: one conditional forward per step (as the golden); otherwise classifier-free guidance
    eps = eps(x,t,null) + w * (eps(x,t,y) - eps(x,t,null)), batched as one forward of 2B.
    """
    ab = make_alpha_bar().to(torch.float32)  # [nT] f32, same rounding the TS side gets from f64 -> f32
    ts = ddim_timesteps(steps)
    x = x_t.clone()  # [B,1,32,32]
    b = x.shape[0]
    for i, t in enumerate(ts):
        tt = torch.full((b,), float(t), dtype=torch.float32, device=x.device)  # [B]
        if w == 1.0:
            eps = model(x, tt, y)  # [B,1,32,32]
        else:
            yy = torch.cat([y, torch.full_like(y, NULL_CLASS)])  # [2B]
            both = model(torch.cat([x, x]), torch.cat([tt, tt]), yy)  # [2B,1,32,32]
            ec, eu = both[:b], both[b:]
            eps = eu + w * (ec - eu)  # [B,1,32,32]
        a_t = ab[t].item()
        a_p = ab[ts[i + 1]].item() if i + 1 < len(ts) else 1.0
        x0 = (x - (1.0 - a_t) ** 0.5 * eps) / a_t ** 0.5  # [B,1,32,32] predicted clean image
        x = a_p ** 0.5 * x0 + (1.0 - a_p) ** 0.5 * eps  # [B,1,32,32]
    return x


def grid_png(path, x, ncol):
    """x [N,1,32,32] in [-1,1] -> one PNG grid, 2-pixel gaps, pixel = clip((x+1)/2, 0, 1)."""
    x = ((x.float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()[:, 0]  # [N,32,32]
    n = x.shape[0]
    nrow = (n + ncol - 1) // ncol
    g = np.full((nrow * 34 + 2, ncol * 34 + 2), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        g[2 + r * 34:2 + r * 34 + 32, 2 + c * 34:2 + c * 34 + 32] = x[i]
    write_png_gray(path, g)
