# The vendor stack's decode attention on the same GPU, as the anchor for issue 7's decode-attention goal:
# torch.nn.functional.scaled_dot_product_attention for one query token against an f32 KV cache (the layout
# and dtype of bench/attention-decode.ts), GQA via enable_gqa, timed with CUDA events over back-to-back calls
# (each on another cache, rotating over >= 512 MB so L2 never holds them), median of 5 runs. GPU machines only.
# Usage: python3 bench/torch-decode-attention.py   -> JSON + markdown to $OUT (default bench/out)
import datetime
import torch
import torch.nn.functional as F
from torch_bench_util import time_ms, write_result

dev = torch.device('cuda')
name = torch.cuda.get_device_name(0)
peak = 4800 if 'H200' in name else 3350 if 'H100' in name else None
shapes = [('7B-gqa (32q/8kv/128)', 32, 8, 128), ('7B-mha (32q/32kv/128)', 32, 32, 128), ('1B (32q/4kv/64)', 32, 4, 64)]
rows = []
for label, hq, hkv, hd in shapes:
    for ctx in [4096, 16384]:
        per = 2 * ctx * hkv * hd * 4  # K + V bytes of one cache
        n = max(2, -(-512 * 2 ** 20 // per))  # caches to rotate over
        ks = [torch.randn(1, hkv, ctx, hd, device=dev) for _ in range(n)]
        vs = [torch.randn(1, hkv, ctx, hd, device=dev) for _ in range(n)]
        q = torch.randn(1, hq, 1, hd, device=dev)
        call = lambda i: F.scaled_dot_product_attention(q, ks[i % n], vs[i % n], enable_gqa=hq != hkv)
        out = call(0)
        kr = ks[0].repeat_interleave(hq // hkv, dim=1)
        vr = vs[0].repeat_interleave(hq // hkv, dim=1)
        ref = torch.softmax((q.double() @ kr.double().transpose(-1, -2)) / hd ** 0.5, -1) @ vr.double()
        err = ((out.double() - ref).abs().max()).item()
        us = time_ms(call, 200) * 1e3
        gbs = per / (us * 1e-6) / 1e9
        rows.append({'shape': label, 'ctx': ctx, 'mb': per / 2 ** 20, 'us': us, 'GBs': gbs, 'pct_peak': 100 * gbs / peak if peak else None, 'max_abs_err_vs_f64': err})
        del ks, vs
res = {'name': 'torch-decode-attention', 'date': datetime.datetime.utcnow().isoformat() + 'Z', 'gpu': name, 'torch': torch.__version__,
       'peak_GBs': peak, 'dtype': 'f32', 'rows': rows}
md = [f'# Decode attention in PyTorch (SDPA, f32 KV cache) on {name}, {res["date"][:10]}', '',
      f'torch {torch.__version__}; one query token, enable_gqa for GQA; CUDA events over 200 back-to-back calls rotating over >= 512 MB of caches, median of 5 runs; peak {peak} GB/s.', '',
      '| shape | ctx | K+V MB | us | GB/s | % of peak | max abs err vs f64 |', '|---|---|---|---|---|---|---|']
md += [f'| {r["shape"]} | {r["ctx"]} | {r["mb"]:.1f} | {r["us"]:.1f} | {r["GBs"]:.0f} | {r["pct_peak"]:.1f} | {r["max_abs_err_vs_f64"]:.1e} |' for r in rows]
write_result('torch-decode-attention', res, md)
