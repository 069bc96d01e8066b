# The vendor's f32 GEMM on the same GPU, as the anchor for issue 7's WGSL GEMM goal: torch.matmul (cuBLAS)
# at N^3 in strict FP32 (TF32 off), timed with CUDA events over back-to-back calls, median of 5 runs; run it
# in the same session as bench/gemm-clock.ts. GPU machines only (PyTorch + CUDA); writes JSON + markdown to $OUT.
# Usage: python3 bench/cublas-sgemm.py [N ...]   (default 4096 8192)
import datetime, sys
import torch
from torch_bench_util import time_ms, write_result

torch.backends.cuda.matmul.allow_tf32 = False  # strict FP32 FMAs, like the WGSL kernels
torch.backends.cudnn.allow_tf32 = False
dev = torch.device('cuda')
name = torch.cuda.get_device_name(0)
rows = []
for n in [int(x) for x in sys.argv[1:]] or [4096, 8192]:
    a = torch.rand(n, n, device=dev) - 0.5
    b = torch.rand(n, n, device=dev) - 0.5
    c = a @ b
    ref = (a.double() @ b.double())
    err = ((c.double() - ref).abs().max() / ref.abs().max()).item()
    reps = max(3, int(2.0 / (2 * n ** 3 / 50e12)))  # ~2 s of work per run at 50 TFLOPS
    ms = time_ms(lambda i: torch.matmul(a, b, out=c), reps)
    rows.append({'n': n, 'ms': ms, 'tflops': 2 * n ** 3 / (ms * 1e-3) / 1e12, 'rel_err_vs_f64': err, 'reps': reps})
res = {'name': 'cublas-sgemm', 'date': datetime.datetime.utcnow().isoformat() + 'Z', 'gpu': name, 'torch': torch.__version__,
       'cuda': torch.version.cuda, 'tf32': False, 'rows': rows}
md = [f'# cuBLAS f32 GEMM via torch.matmul, TF32 off ({name}, {res["date"][:10]})', '',
      f'torch {torch.__version__}, CUDA {torch.version.cuda}; CUDA events over back-to-back calls, median of 5 runs.', '',
      '| N^3 | ms | TFLOPS | rel err vs f64 |', '|---|---|---|---|']
md += [f'| {r["n"]} | {r["ms"]:.3f} | {r["tflops"]:.2f} | {r["rel_err_vs_f64"]:.1e} |' for r in rows]
write_result('gemm-cublas', res, md)
