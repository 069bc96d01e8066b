# The vendor's matrix-vector product on the same GPU, as the anchor for issue 7's GEMV goal: torch.mv / a
# [1, K] x [K, N] matmul (cuBLAS) in f32 and f16, one token against a weight matrix, timed with CUDA events over
# back-to-back calls rotating over >= 1 GB of weights (L2 never holds them), median of 5 runs; bandwidth = weight
# bytes / time. Shapes as bench/gpu-kernels.ts (N x K, y = W x). GPU machines only; JSON + markdown to $OUT.
import datetime
import torch
from torch_bench_util import time_ms, write_result

dev = torch.device('cuda')
name = torch.cuda.get_device_name(0)
peak = 4800 if 'H200' in name else 3350 if 'H100' in name else None
rows = []
for n, k in [(4096, 4096), (8192, 8192), (4096, 14336), (14336, 4096)]:
    for dt in [torch.float32, torch.float16]:
        per = n * k * (4 if dt == torch.float32 else 2)
        copies = max(2, -(-(1 << 30) // per))
        ws = [torch.randn(n, k, device=dev, dtype=dt) for _ in range(copies)]
        x = torch.randn(k, device=dev, dtype=dt)
        y = torch.mv(ws[0], x)
        ref = ws[0].double() @ x.double()
        err = ((y.double() - ref).abs().max() / ref.abs().max()).item()
        us = time_ms(lambda i: torch.mv(ws[i % copies], x), 400) * 1e3
        gbs = per / (us * 1e-6) / 1e9
        rows.append({'N': n, 'K': k, 'wtype': 'f32' if dt == torch.float32 else 'f16', 'us': us, 'GBs': gbs, 'pct_peak': 100 * gbs / peak if peak else None, 'rel_err_vs_f64': err})
        del ws
res = {'name': 'cublas-gemv', 'date': datetime.datetime.utcnow().isoformat() + 'Z', 'gpu': name, 'torch': torch.__version__, 'peak_GBs': peak, 'rows': rows}
md = [f'# cuBLAS matrix-vector (torch.mv) on {name}, {res["date"][:10]}', '',
      f'torch {torch.__version__}; CUDA events over 400 back-to-back calls rotating over >= 1 GB of weights, median of 5 runs; peak {peak} GB/s.', '',
      '| N x K | weights | us | GB/s | % of peak | rel err vs f64 |', '|---|---|---|---|---|---|']
md += [f'| {r["N"]}x{r["K"]} | {r["wtype"]} | {r["us"]:.1f} | {r["GBs"]:.0f} | {r["pct_peak"]:.1f} | {r["rel_err_vs_f64"]:.1e} |' for r in rows]
write_result('gemv-cublas', res, md)
