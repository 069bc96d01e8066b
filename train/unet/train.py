"""Train fm-unet (docs/unet-spec.md) on Fashion-MNIST; write EMA weights as safetensors + loss curve.

Only stdlib + torch + numpy (the GPU machine has no pip). Works on torch 1.13 (CPU smoke test) and 2.x.

  python3 train/unet/train.py --data .data/usr/share/datasets/fashion-mnist --out train/unet/out --minutes 7

The LR schedule (linear warmup, cosine to 10%) runs on progress = max(step / --steps, elapsed / --minutes),
so a wall-clock budget still ends on the low LR, whichever limit is hit first.
"""
import argparse
import copy
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import DeviceBatcher  # noqa: E402
from model import FmUNet, NULL_CLASS, N_T, make_alpha_bar, make_betas, n_params  # noqa: E402
from util import ddim_sample, grid_png, save_safetensors  # noqa: E402


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="folder with train-images-idx3-ubyte.gz etc.")
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=0.0, help="wall-clock budget of the training loop (0 = none)")
    p.add_argument("--steps", type=int, default=0, help="step cap (0 = none)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=500)
    p.add_argument("--min-lr-frac", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--ema", type=float, default=0.999)
    p.add_argument("--p-uncond", type=float, default=0.1)
    p.add_argument("--clip", type=float, default=1.0, help="grad-norm clip")
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--no-samples", action="store_true", help="skip samples.png")
    a = p.parse_args()
    if a.minutes <= 0 and a.steps <= 0:
        p.error("give --minutes and/or --steps")
    return a


def lr_at(a, step, elapsed):
    prog = 0.0
    if a.steps > 0:
        prog = max(prog, step / a.steps)
    if a.minutes > 0:
        prog = max(prog, elapsed / (a.minutes * 60.0))
    prog = min(prog, 1.0)
    warm = min(1.0, (step + 1) / a.warmup) if a.warmup > 0 else 1.0
    cos = a.min_lr_frac + (1.0 - a.min_lr_frac) * 0.5 * (1.0 + math.cos(math.pi * prog))
    return a.lr * warm * cos


def write_svg(path, rows):
    """Loss curve as a hand-written SVG polyline (raw loss grey, smoothed loss blue, log y axis)."""
    W, H, L, R, T, B = 640, 360, 60, 20, 20, 40
    steps = [r[0] for r in rows]
    vals = [v for r in rows for v in (r[1], r[2]) if v > 0]
    lo, hi = math.log10(min(vals)), math.log10(max(vals))
    hi = hi if hi > lo else lo + 1
    s0, s1 = steps[0], max(steps[-1], steps[0] + 1)

    def xy(s, v):
        return (L + (W - L - R) * (s - s0) / (s1 - s0), T + (H - T - B) * (hi - math.log10(max(v, 1e-12))) / (hi - lo))

    def poly(col, color):
        pts = " ".join("%.1f,%.1f" % xy(r[0], r[col]) for r in rows)
        return f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{pts}"/>'

    ticks = []
    for e in range(math.floor(lo), math.ceil(hi) + 1):
        for m in (1, 2, 5):
            v = m * 10.0 ** e
            if lo <= math.log10(v) <= hi:
                _, y = xy(s0, v)
                ticks.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                             f'<text x="{L - 4}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{v:g}</text>')
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif">'
           f'<rect width="{W}" height="{H}" fill="white"/>{"".join(ticks)}'
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="#444"/>'
           f'{poly(1, "#bbb")}{poly(2, "#1f5fbf")}'
           f'<text x="{L}" y="{H - 12}" font-size="11">step {s0}</text>'
           f'<text x="{W - R}" y="{H - 12}" font-size="11" text-anchor="end">step {steps[-1]}</text>'
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" font-size="12" text-anchor="middle">fm-unet training loss '
           f'(MSE on eps, log scale; blue = smoothed)</text></svg>\n')
    with open(path, "w") as f:
        f.write(svg)


def write_samples(ema, dev, path):
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    g = torch.Generator(device="cpu")
    g.manual_seed(1234)
    xT = torch.randn(80, 1, 32, 32, generator=g).to(dev)  # [80,1,32,32]
    ys = torch.arange(10, device=dev).repeat_interleave(8)  # [80] row = class
    grid_png(path, ddim_sample(ema, xT, ys, steps=20, w=2.0), ncol=8)


def main():
    a = parse()
    os.makedirs(a.out, exist_ok=True)
    dev = torch.device(a.device)
    cuda = dev.type == "cuda"
    torch.manual_seed(a.seed)
    if cuda:  # TF32 + cudnn autotune for training only; export.py turns TF32 off for the golden
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True

    batcher = DeviceBatcher(a.data, dev, a.batch, flip=True, seed=a.seed)
    model = FmUNet().to(dev)
    ema = copy.deepcopy(model).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    params, ema_params = list(model.parameters()), list(ema.parameters())
    print(f"fm-unet parameters: {n_params(model)}  device: {dev}  torch {torch.__version__}", flush=True)

    opt_kw = dict(lr=a.lr, betas=(0.9, 0.999), weight_decay=a.weight_decay)
    opt = None
    if cuda:
        try:  # fused AdamW exists in torch >= 2.0 on CUDA; 1.13 raises TypeError
            opt = torch.optim.AdamW(params, fused=True, **opt_kw)
        except (TypeError, RuntimeError):
            opt = None
    opt = opt or torch.optim.AdamW(params, **opt_kw)

    ab = make_alpha_bar().to(torch.float32).to(dev)  # [nT]
    sqrt_ab, sqrt_1mab = ab.sqrt(), (1.0 - ab).sqrt()  # [nT] each

    rows, loss_acc, n_acc, ema_loss = [], torch.zeros((), device=dev), 0, None
    csv = open(os.path.join(a.out, "loss.csv"), "w")
    csv.write("step,loss,ema_loss,lr,seconds\n")
    if cuda:
        torch.cuda.synchronize()
    t0 = time.time()
    step = 0
    while True:
        elapsed = time.time() - t0
        if (a.steps > 0 and step >= a.steps) or (a.minutes > 0 and elapsed >= a.minutes * 60.0):
            break
        lr = lr_at(a, step, elapsed)
        for g in opt.param_groups:
            g["lr"] = lr
        x0, y = batcher.next()  # [B,1,32,32], [B]
        b = x0.shape[0]
        y = torch.where(torch.rand(b, device=dev) < a.p_uncond, torch.full_like(y, NULL_CLASS), y)  # [B]
        t = torch.randint(0, N_T, (b,), device=dev)  # [B] int64
        eps = torch.randn_like(x0)  # [B,1,32,32]
        xt = sqrt_ab[t][:, None, None, None] * x0 + sqrt_1mab[t][:, None, None, None] * eps  # [B,1,32,32]
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=cuda):
            pred = model(xt, t.float(), y)  # [B,1,32,32]
        loss = F.mse_loss(pred.float(), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(params, a.clip)
        opt.step()
        # EMA with the usual warmup of the decay so short runs do not export the random init
        d = min(a.ema, (1.0 + step) / (10.0 + step))
        with torch.no_grad():
            torch._foreach_mul_(ema_params, d)
            torch._foreach_add_(ema_params, params, alpha=1.0 - d)
        loss_acc += loss.detach()
        n_acc += 1
        step += 1
        if step % a.log_every == 0:
            lv = (loss_acc / n_acc).item()  # one host sync per log interval
            ema_loss = lv if ema_loss is None else 0.9 * ema_loss + 0.1 * lv
            sec = time.time() - t0
            rows.append((step, lv, ema_loss, lr, sec))
            csv.write(f"{step},{lv:.6f},{ema_loss:.6f},{lr:.6e},{sec:.2f}\n")
            csv.flush()
            if step % (a.log_every * 10) == 0:
                print(f"step {step} loss {lv:.4f} ema_loss {ema_loss:.4f} lr {lr:.2e} {sec:.0f}s "
                      f"{step * a.batch / sec:.0f} samples/s", flush=True)
            loss_acc.zero_()
            n_acc = 0
    if cuda:
        torch.cuda.synchronize()
    train_s = time.time() - t0
    if n_acc > 0:  # the tail that did not fill a log interval
        lv = (loss_acc / n_acc).item()
        ema_loss = lv if ema_loss is None else 0.9 * ema_loss + 0.1 * lv
        rows.append((step, lv, ema_loss, lr, train_s))
        csv.write(f"{step},{lv:.6f},{ema_loss:.6f},{lr:.6e},{train_s:.2f}\n")
    csv.close()

    sd = {k: v.detach().float().cpu() for k, v in ema.state_dict().items()}  # EMA weights, f32
    sd["sched.betas"] = make_betas().to(torch.float32)  # [1000]
    meta = {"format": "fm-unet", "steps": step, "batch": a.batch, "train_seconds": f"{train_s:.1f}",
            "torch": torch.__version__, "device": torch.cuda.get_device_name(dev) if cuda else "cpu"}
    save_safetensors(os.path.join(a.out, "fm-unet.safetensors"), sd, meta)
    if len(rows) >= 2:
        write_svg(os.path.join(a.out, "loss.svg"), rows)

    if not a.no_samples:  # 10 classes x 8 samples, DDIM 20, CFG w = 2 (the app default), fp32
        try:
            write_samples(ema, dev, os.path.join(a.out, "samples.png"))
        except Exception as e:  # optional artefact: never lose the RESULT line over it
            print(f"samples.png skipped: {e!r}", flush=True)

    final = rows[-1][1] if rows else float("nan")

    final_ema = rows[-1][2] if rows else float("nan")
    print(f"RESULT parameters={n_params(model)} steps={step} train_seconds={train_s:.1f} "
          f"final_loss={final:.4f} final_ema_loss={final_ema:.4f} samples_per_s={step * a.batch / train_s:.0f} "
          f"epochs={step * a.batch / batcher.n:.2f}", flush=True)


if __name__ == "__main__":
    main()
