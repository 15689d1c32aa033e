// Peer: PyTorch on the CPU (2 threads), when `python3 -c "import torch"` works. Records the
// BLAS library actually loaded (mapped into the process, or compiled in per
// torch.__config__), the thread count and OPENBLAS_CORETYPE; a run on the reference
// (netlib) BLAS is kept but marked as an invalid baseline, since it is an order of
// magnitude slower than any tuned BLAS and would flatter every ratio.
import { spawnSync } from 'node:child_process';
import { parsePeerOutput, PEER_MARK, type PeerMatmulCase, type PeerOutput } from './peer-tfjs.js';

export const TORCH_THREADS = 2;

const SCRIPT = String.raw`
import json, os, re, sys, time
MARK = sys.argv[1]
spec = json.loads(sys.argv[2])
def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()
def fail_all(status, detail):
    emit({"peer": {"name": "torch-cpu", "status": status, "detail": detail},
          "results": [{"name": c["name"], "status": "failed", "medianMs": None} for c in spec["cases"]]})
try:
    import torch
except Exception as e:
    fail_all("unavailable", "python3 cannot import torch (%s: %s)" % (type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    sys.exit(0)
threads = int(spec["threads"])
torch.set_num_threads(threads)
x = torch.randn(64, 64)
(x @ x).sum().item()  # loads the BLAS
config = torch.__config__.show()
m = re.search(r"BLAS_INFO=([^,\s]+)", config)
blas_info = m.group(1) if m else "unknown"
libs = []
try:
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6:
            p = parts[-1]
            if re.search(r"(openblas|mkl|blis|libblas|libcblas|flexiblas|atlas|armpl)", os.path.basename(p).lower()) and p not in libs:
                libs.append(p)
except OSError:
    pass
def is_reference(p):
    b = os.path.basename(p).lower()
    return re.match(r"lib(c)?blas\.so", b) is not None and not re.search(r"openblas|mkl|blis|flexiblas|atlas", p.lower())
reference = any(is_reference(p) for p in libs) or blas_info in ("generic", "blas", "ref", "reference")
if libs:
    blas = ", ".join(libs)
else:
    blas = "%s (compiled into libtorch, BLAS_INFO=%s)" % (blas_info, blas_info)
info = {"torch": torch.__version__, "blasInfo": blas_info, "blasLibraries": libs, "blas": blas,
        "threads": torch.get_num_threads(), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "referenceBlas": reference}
results = []
for c in spec["cases"]:
    a = torch.rand(*c["a"])
    b = torch.rand(*c["b"])
    A = a.t() if c["transA"] else a
    B = b.t() if c["transB"] else b
    try:
        warm = 0.0
        skipped = None
        for i in range(max(1, spec["warmup"])):
            t0 = time.perf_counter(); torch.matmul(A, B); warm = (time.perf_counter() - t0) * 1000
            if i == 0 and spec["maxRunS"] > 0 and warm > spec["maxRunS"] * 1000:
                skipped = "one run took %.1f s, over --max-run-s %s" % (warm / 1000, spec["maxRunS"])
                break
        if skipped:
            results.append({"name": c["name"], "status": "skipped", "medianMs": None, "note": skipped})
            continue
        min_trial = spec.get("minTrialMs", 20)
        reps = 1 if warm >= min_trial else min(100, int(min_trial / max(warm, 0.05)) + 1)
        trials = []
        for t in range(spec["trials"]):
            t0 = time.perf_counter()
            for r in range(reps):
                torch.matmul(A, B)
            trials.append((time.perf_counter() - t0) * 1000 / reps)
        s = sorted(trials); n = len(s)
        med = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
        results.append({"name": c["name"], "status": "ok", "medianMs": med, "trialsMs": trials})
    except Exception as e:
        results.append({"name": c["name"], "status": "failed", "medianMs": None, "note": str(e)})
status = "invalid" if reference else "ok"
detail = "torch %s, %d threads, BLAS %s, OPENBLAS_CORETYPE=%s%s" % (torch.__version__, torch.get_num_threads(), blas,
          os.environ.get("OPENBLAS_CORETYPE", "(unset)"), " - reference BLAS: not a valid baseline" if reference else "")
emit({"peer": {"name": "torch-cpu", "status": status, "detail": detail, "info": info}, "results": results})
`;

export interface TorchSpec {
  cases: PeerMatmulCase[];
  warmup: number;
  trials: number;
  maxRunS: number;
  minTrialMs?: number;
}

/** Run the PyTorch CPU peer; 'unavailable' when python3 or torch is missing. */
export function runTorchPeer(spec: TorchSpec, python = process.env.LPLR_PYTHON ?? 'python3'): PeerOutput {
  const budgetS = 60 + spec.cases.length * (spec.warmup + spec.trials + 1) * Math.max(spec.maxRunS, 5);
  const child = spawnSync(python, ['-c', SCRIPT, PEER_MARK, JSON.stringify({ ...spec, threads: TORCH_THREADS })], {
    encoding: 'utf8',
    timeout: budgetS * 1000,
    maxBuffer: 16 << 20,
    // Thread pools read these at start-up; torch.set_num_threads covers the intra-op pool.
    env: { ...process.env, OMP_NUM_THREADS: String(TORCH_THREADS), MKL_NUM_THREADS: String(TORCH_THREADS), OPENBLAS_NUM_THREADS: String(TORCH_THREADS) },
  });
  if (child.error && (child.error as NodeJS.ErrnoException).code === 'ENOENT') {
    return {
      peer: { name: 'torch-cpu', status: 'unavailable', detail: `${python} is not on PATH` },
      results: spec.cases.map((c) => ({ name: c.name, status: 'failed', medianMs: null })),
    };
  }
  const out = parsePeerOutput('torch-cpu', child.stdout ?? '', child.stderr ?? '', child.status, child.signal, spec.cases);
  return { ...out, peer: { ...out.peer, name: 'torch-cpu' } };
}
