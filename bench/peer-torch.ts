// Peer: PyTorch on the CPU (2 threads), when `python3 -c "import torch"` works. Records the
// BLAS libraries actually loaded (mapped into the process, with what they report about
// themselves, or compiled in per torch.__config__), the thread count and OPENBLAS_CORETYPE;
// bench/blas-kind.ts decides which BLAS that was. A run on the reference (netlib) BLAS is kept
// but marked as an invalid baseline, since it is an order of magnitude slower than any tuned
// BLAS and would flatter every ratio.
import { spawnSync } from 'node:child_process';
import { classifyBlas, type LoadedBlas } from './blas-kind.js';
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
seen = set()
try:
    for line in open("/proc/self/maps"):
        parts = line.split()
        if len(parts) >= 6:
            p = parts[-1]
            if re.search(r"(openblas|mkl|blis|libblas|libcblas|flexiblas|atlas|armpl)", os.path.basename(p).lower()) and p not in seen:
                seen.add(p)
                libs.append(p)
except OSError:
    pass
def probe(p):
    # What the library says about itself; RTLD_NOLOAD: only libraries already loaded are asked.
    d = {"path": p}
    real = os.path.realpath(p)
    if real != p:
        d["realpath"] = real
    try:
        import ctypes
        lib = ctypes.CDLL(p, mode=getattr(os, "RTLD_NOLOAD", 0) | getattr(os, "RTLD_LAZY", 1))
    except Exception:
        return d
    def text(sym):
        try:
            f = getattr(lib, sym)
        except AttributeError:
            return None
        f.restype = ctypes.c_char_p
        f.argtypes = []
        v = f()
        return v.decode("utf-8", "replace") if v else None
    for key, sym in (("openblasConfig", "openblas_get_config"), ("openblasCore", "openblas_get_corename"), ("blisVersion", "bli_info_get_version_str")):
        v = text(sym)
        if v:
            d[key] = v
    try:
        f = lib.mkl_get_version_string
        buf = ctypes.create_string_buffer(256)
        f.restype = None
        f(buf, ctypes.c_int(256))
        if buf.value:
            d["mklVersion"] = buf.value.decode("utf-8", "replace")
    except AttributeError:
        pass
    return d
loaded = [probe(p) for p in libs]
info = {"torch": torch.__version__, "blasInfo": blas_info, "blasLibraries": loaded,
        "threads": torch.get_num_threads(), "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}
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
# Which BLAS that was (and so whether the peer is a valid baseline) is decided in bench/blas-kind.ts.
emit({"peer": {"name": "torch-cpu", "status": "ok", "detail": "", "info": info}, "results": results})
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
  return { ...out, peer: judgeTorchPeer({ ...out.peer, name: 'torch-cpu' }) };
}

interface TorchInfo {
  torch: string;
  blasInfo: string;
  blasLibraries: LoadedBlas[];
  threads: number;
  OPENBLAS_CORETYPE?: string | null;
}

/**
 * The peer's status and detail line from what its process reported: the BLAS it ran on
 * (classifyBlas) and, for the reference BLAS only, status 'invalid'. Peers that failed or were
 * unavailable pass through unchanged.
 */
export function judgeTorchPeer(peer: PeerOutput['peer']): PeerOutput['peer'] {
  const info = peer.info as TorchInfo | undefined;
  if (peer.status !== 'ok' || !info || !Array.isArray(info.blasLibraries)) return peer;
  const blas = classifyBlas(info.blasLibraries, info.blasInfo);
  const detail =
    `torch ${info.torch}, ${info.threads} threads, BLAS: ${blas.description}, OPENBLAS_CORETYPE=${info.OPENBLAS_CORETYPE ?? '(unset)'}` +
    (blas.valid ? '' : ' - reference BLAS: not a valid baseline');
  return { ...peer, status: blas.valid ? 'ok' : 'invalid', detail, info: { ...info, blas: blas.description, blasKind: blas.kind, referenceBlas: !blas.valid } };
}
