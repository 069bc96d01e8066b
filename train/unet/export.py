"""Export fm-unet: ONNX (opset 17, legacy TorchScript exporter) + golden.safetensors (fp32, TF32 off, CPU).

  python3 train/unet/export.py --dir train/unet/out

Reads DIR/fm-unet.safetensors, writes DIR/fm-unet.onnx and DIR/golden.safetensors:
  x.N [1,1,32,32] f32, t.N [1] f32, y.N [1] f32 (class index as float, spec: "everything f32"), eps.N [1,1,32,32]
  for N = 0..3 with (t, y) = (999, 9), (500, 7), (100, 0), (3, 10);
  golden.ddim.xT [1,1,32,32] (torch.Generator seed 0), golden.ddim.x0 [1,1,32,32] (DDIM 20, eta 0, class 9,
  w = 1, no clipping), golden.ddim.t [20] f32 (the timesteps used), golden.ddim.y [1] f32 (= 9).
Then checks the ONNX file: onnx.checker if `onnx` is importable, and numerics against PyTorch with
onnxruntime or onnx.reference when either is importable.
"""
import argparse
import inspect
import os
import sys

import numpy as np
import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import FmUNet, spec_shapes  # noqa: E402
from util import ddim_sample, ddim_timesteps, load_safetensors, save_safetensors  # noqa: E402

CASES = [(999, 9), (500, 7), (100, 0), (3, 10)]  # (t, y) of golden case N


def load_model(path):
    sd, meta = load_safetensors(path)
    betas = sd.pop("sched.betas")  # [1000]
    assert list(betas.shape) == [1000]
    spec = spec_shapes()
    assert {k: list(v.shape) for k, v in sd.items()} == spec, "safetensors names/shapes differ from the spec"
    m = FmUNet()
    m.load_state_dict(sd, strict=True)
    return m.eval(), meta


def export_onnx(model, path):
    x = torch.zeros(1, 1, 32, 32)  # [1,1,32,32]
    t = torch.tensor([500.0])  # [1]
    y = torch.tensor([3], dtype=torch.int64)  # [1]
    kw = dict(input_names=["x", "t", "y"], output_names=["eps"], opset_version=17, do_constant_folding=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kw["dynamo"] = False  # torch >= 2.5 has the dynamo exporter (default on since 2.9): we want the legacy one
    with torch.no_grad():
        torch.onnx.export(model, (x, t, y), path, **kw)


def onnx_check(path, golden):
    """Returns a short text report; never raises for a missing package."""
    lines = []
    try:
        import onnx
        mdl = onnx.load(path)
        onnx.checker.check_model(mdl)
        ops = sorted({n.op_type for n in mdl.graph.node})
        ins = [(i.name, [d.dim_value for d in i.type.tensor_type.shape.dim], i.type.tensor_type.elem_type)
               for i in mdl.graph.input]
        lines.append(f"onnx.checker OK (onnx {onnx.__version__}); inputs {ins}; ops {ops}")
    except ImportError:
        lines.append("onnx not importable: checker skipped")
    run = None
    try:
        import onnxruntime as ort
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        run = lambda feeds: sess.run(["eps"], feeds)[0]  # noqa: E731
        lines.append(f"numerics via onnxruntime {ort.__version__}")
    except ImportError:
        try:
            import onnx
            from onnx.reference import ReferenceEvaluator
            ev = ReferenceEvaluator(onnx.load(path))
            run = lambda feeds: ev.run(["eps"], feeds)[0]  # noqa: E731
            lines.append("numerics via onnx.reference")
        except ImportError:
            lines.append("no onnxruntime / onnx.reference: numeric ONNX check skipped")
    if run is not None:
        for n in range(len(CASES)):
            feeds = {"x": golden[f"x.{n}"].numpy(), "t": golden[f"t.{n}"].numpy(),
                     "y": golden[f"y.{n}"].numpy().astype(np.int64)}
            got = run(feeds)  # [1,1,32,32]
            ref = golden[f"eps.{n}"].numpy()
            err = float(np.abs(got - ref).max())
            lines.append(f"  case {n}: max|onnx - torch| = {err:.3e}")
            assert err < 1e-3, f"ONNX differs from PyTorch on case {n}: {err}"
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True, help="folder holding fm-unet.safetensors; outputs go there too")
    a = p.parse_args()
    # the golden is an fp32 reference: CPU, no TF32 anywhere, deterministic kernels
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))

    model, meta = load_model(os.path.join(a.dir, "fm-unet.safetensors"))
    print(f"loaded fm-unet ({sum(p.numel() for p in model.parameters())} parameters), meta {meta}", flush=True)

    golden = {}
    g = torch.Generator(device="cpu")
    g.manual_seed(20240601)
    with torch.no_grad():
        for n, (tv, yv) in enumerate(CASES):
            x = torch.randn(1, 1, 32, 32, generator=g)  # [1,1,32,32]
            t = torch.tensor([float(tv)])  # [1] f32
            y = torch.tensor([yv], dtype=torch.int64)  # [1]
            golden[f"x.{n}"], golden[f"t.{n}"], golden[f"y.{n}"] = x, t, y.float()
            golden[f"eps.{n}"] = model(x, t, y)  # [1,1,32,32]
        g0 = torch.Generator(device="cpu")
        g0.manual_seed(0)
        xT = torch.randn(1, 1, 32, 32, generator=g0)  # [1,1,32,32]
        golden["golden.ddim.xT"] = xT
        golden["golden.ddim.x0"] = ddim_sample(model, xT, torch.tensor([9]), steps=20, w=1.0)  # [1,1,32,32]
        golden["golden.ddim.t"] = torch.tensor(ddim_timesteps(20), dtype=torch.float32)  # [20]
        golden["golden.ddim.y"] = torch.tensor([9.0])  # [1]
    save_safetensors(os.path.join(a.dir, "golden.safetensors"), golden,
                     {"format": "fm-unet-golden", "precision": "fp32 CPU, TF32 off", "torch": torch.__version__})
    for n in range(len(CASES)):
        e = golden[f"eps.{n}"]
        print(f"golden case {n}: t={CASES[n][0]} y={CASES[n][1]} eps mean {e.mean():.4f} std {e.std():.4f}")
    x0 = golden["golden.ddim.x0"]
    print(f"golden DDIM-20 class 9: x0 min {x0.min():.3f} max {x0.max():.3f} mean {x0.mean():.3f}")

    onnx_path = os.path.join(a.dir, "fm-unet.onnx")
    export_onnx(model, onnx_path)
    print(f"wrote {onnx_path} ({os.path.getsize(onnx_path) / 1e6:.1f} MB)")
    print(onnx_check(onnx_path, golden), flush=True)


if __name__ == "__main__":
    main()
