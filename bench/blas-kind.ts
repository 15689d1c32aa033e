// Which BLAS a PyTorch peer actually ran on, from what its process had loaded: the resolved
// paths of the BLAS libraries mapped into it (Debian's libblas.so.3 is an alternatives symlink
// to OpenBLAS, BLIS, ATLAS, MKL or the reference BLAS, so the name alone says nothing) and the
// version strings those libraries report about themselves. Only the reference (netlib) BLAS
// makes an invalid baseline: it is an order of magnitude slower than any tuned BLAS and would
// flatter every ratio against it.

/** One BLAS library mapped into the peer's process. */
export interface LoadedBlas {
  /** Its path as mapped (symlinks already resolved by the kernel in /proc/self/maps). */
  path: string;
  /** os.path.realpath of it, when it differs. */
  realpath?: string;
  /** openblas_get_config(), e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64". */
  openblasConfig?: string;
  /** openblas_get_corename(): the kernel set chosen for this CPU, e.g. "Haswell". */
  openblasCore?: string;
  /** bli_info_get_version_str(). */
  blisVersion?: string;
  /** mkl_get_version_string(). */
  mklVersion?: string;
}

export type BlasKind = 'openblas' | 'mkl' | 'blis' | 'atlas' | 'armpl' | 'accelerate' | 'flexiblas' | 'reference' | 'unknown';

export interface BlasVerdict {
  kind: BlasKind;
  /** False only for the reference BLAS. */
  valid: boolean;
  /** What to print, e.g. "OpenBLAS 0.3.21 (core Haswell) at /usr/lib/.../openblas-pthread/libblas.so.3". */
  description: string;
}

const TUNED_LABEL: Record<Exclude<BlasKind, 'reference' | 'unknown'>, string> = {
  openblas: 'OpenBLAS',
  mkl: 'MKL',
  blis: 'BLIS',
  atlas: 'ATLAS',
  armpl: 'Arm Performance Libraries',
  accelerate: 'Accelerate',
  flexiblas: 'FlexiBLAS',
};

/** The kind of one mapped library, or undefined when it is no BLAS we know. */
function kindOf(lib: LoadedBlas): BlasKind | undefined {
  if (lib.openblasConfig) return 'openblas';
  if (lib.mklVersion) return 'mkl';
  if (lib.blisVersion) return 'blis';
  const p = (lib.realpath ?? lib.path).toLowerCase();
  const base = p.slice(p.lastIndexOf('/') + 1);
  // FlexiBLAS is a switch: its netlib backend is the reference BLAS, other backends are tuned.
  if (/flexiblas_netlib/.test(base)) return 'reference';
  if (/openblas/.test(p)) return 'openblas';
  if (/mkl/.test(base)) return 'mkl';
  if (/blis/.test(p)) return 'blis';
  if (/atlas/.test(p)) return 'atlas';
  if (/armpl/.test(p)) return 'armpl';
  if (/accelerate|veclib/.test(p)) return 'accelerate';
  if (/flexiblas/.test(base)) return 'flexiblas';
  // A plain libblas/libcblas that named no tuned implementation in its path and reported no
  // version of one: Debian's libblas3 (/usr/lib/<arch>/blas/libblas.so.3.x) or another netlib build.
  if (/^lib(c)?blas\.so/.test(base) || /^lib(c)?blas\.\d.*dylib$/.test(base)) return 'reference';
  return undefined;
}

function describe(kind: BlasKind, lib: LoadedBlas | undefined): string {
  const where = lib ? ` at ${lib.realpath ?? lib.path}` : '';
  if (kind === 'openblas' && lib?.openblasConfig) {
    // "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64": the version is word 2.
    const version = /^OpenBLAS (\d\S*)/.exec(lib.openblasConfig.trim())?.[1];
    return `OpenBLAS${version ? ` ${version}` : ''}${lib.openblasCore ? ` (core ${lib.openblasCore})` : ''}${where}`;
  }
  if (kind === 'mkl' && lib?.mklVersion) return `${lib.mklVersion.trim()}${where}`;
  if (kind === 'blis' && lib?.blisVersion) return `BLIS ${lib.blisVersion.trim()}${where}`;
  if (kind === 'reference') return `reference BLAS (netlib)${where}`;
  if (kind === 'unknown') return 'BLAS not identified';
  return `${TUNED_LABEL[kind]}${where}`;
}

/** torch.__config__'s BLAS_INFO, for a BLAS compiled into libtorch (nothing separate mapped). */
function kindFromBlasInfo(blasInfo: string): BlasKind {
  const b = blasInfo.toLowerCase();
  if (b.includes('mkl')) return 'mkl';
  if (b.includes('open')) return 'openblas';
  if (b.includes('blis')) return 'blis';
  if (b.includes('accelerate') || b.includes('veclib')) return 'accelerate';
  if (b.includes('flexi')) return 'flexiblas';
  if (b.includes('atlas')) return 'atlas';
  if (b.includes('armpl')) return 'armpl';
  // 'generic' only says torch calls whatever libblas it was linked against.
  return 'unknown';
}

/**
 * Decide which BLAS ran: a tuned library mapped into the process wins (a reference libblas
 * next to it is not the one doing the work); a reference BLAS otherwise is invalid; with nothing
 * mapped (a BLAS linked into libtorch, or no /proc), torch's BLAS_INFO names it, and a BLAS that
 * cannot be identified is reported as such but not called invalid.
 */
export function classifyBlas(libraries: readonly LoadedBlas[], blasInfo = 'unknown'): BlasVerdict {
  const kinds = libraries.map((lib) => ({ lib, kind: kindOf(lib) }));
  const tuned = kinds.find((k) => k.kind !== undefined && k.kind !== 'reference' && k.kind !== 'flexiblas');
  if (tuned) return { kind: tuned.kind!, valid: true, description: describe(tuned.kind!, tuned.lib) };
  // FlexiBLAS with its netlib backend maps both: the backend decides.
  const reference = kinds.find((k) => k.kind === 'reference');
  if (reference) return { kind: 'reference', valid: false, description: describe('reference', reference.lib) };
  const flexi = kinds.find((k) => k.kind === 'flexiblas');
  if (flexi) return { kind: 'flexiblas', valid: true, description: `${describe('flexiblas', flexi.lib)} (backend not identified)` };
  const kind = kindFromBlasInfo(blasInfo);
  const compiledIn = kind === 'unknown' ? ` (BLAS_INFO=${blasInfo}, no BLAS library mapped)` : ` (compiled into libtorch, BLAS_INFO=${blasInfo})`;
  return { kind, valid: true, description: `${describe(kind, undefined)}${compiledIn}` };
}
