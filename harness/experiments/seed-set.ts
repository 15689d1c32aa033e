// Seed sets (`lplr run fig1|fig2|fig4|fig5 --seeds 0-4`): the same configuration once per seed.
// This module holds what needs no device and no files: a set's verdict from its seeds' verdicts
// ("k of n seeds"), each seed's numbers as summary.json records them, and the medians.
import { L_STAR_CHOICES, windowRate, type LStarChoice, type RunSummary } from '../analysis/summary.js';
import { DEFAULT_THRESHOLDS, makeVerdict, type Verdict, type VerdictOutcome, type VerdictThresholds } from '../analysis/verdicts.js';

/** The experiments that take --seeds. */
export type SeedSetKind = 'fig1' | 'fig2' | 'fig4' | 'fig5';
export const SEED_SET_KINDS: readonly SeedSetKind[] = ['fig1', 'fig2', 'fig4', 'fig5'];

/** Passes a set of n seeds needs: ⌈seedPassFraction·n⌉ (4 of 5 at 0.8). */
export function seedsNeeded(n: number, fraction: number): number {
  // The small slack keeps 0.8·5 = 4.000000000000001 from asking for 5.
  return Math.max(1, Math.ceil(fraction * n - 1e-9));
}

/**
 * A set's verdict from its seeds' outcomes: pass when at least ⌈seedPassFraction·n⌉ seeds pass;
 * fail when so many fail that the rest could not reach that; otherwise inconclusive (inconclusive
 * seeds never count as passes, and they are what leaves the set undecided).
 */
export function seedSetVerdict(name: string, outcomes: readonly VerdictOutcome[], th: Pick<VerdictThresholds, 'seedPassFraction'> = DEFAULT_THRESHOLDS, memberRule?: string): Verdict {
  const n = outcomes.length;
  const passed = outcomes.filter((o) => o === 'pass').length;
  const failed = outcomes.filter((o) => o === 'fail').length;
  const inconclusive = n - passed - failed;
  const needed = n === 0 ? 1 : seedsNeeded(n, th.seedPassFraction);
  const outcome: VerdictOutcome = n === 0 ? 'inconclusive' : passed >= needed ? 'pass' : failed > n - needed ? 'fail' : 'inconclusive';
  const rule =
    `at least ${needed} of ${n} seeds pass (seedPassFraction = ${th.seedPassFraction} of the seeds, rounded up); ` +
    `fails when more than ${Math.max(0, n - needed)} fail; inconclusive otherwise (an inconclusive seed is not a pass)` +
    (memberRule ? `. Each seed: ${memberRule}` : '');
  return makeVerdict({
    name,
    outcome,
    reading: `${passed} of ${n} seed${n === 1 ? '' : 's'}`,
    values: { seeds: n, passed, failed, inconclusive, needed },
    rule,
    ...(n === 0 ? { note: 'no seeds' } : inconclusive > 0 ? { note: `${inconclusive} seed${inconclusive === 1 ? '' : 's'} inconclusive` } : {}),
  });
}

/** One member run of a seed set: which seed, which group (he/enhanced, w64, or '' for fig1/fig2). */
export interface SeedMember {
  label: string;
  seed: number;
  group: string;
  /** Directory relative to the set's directory. */
  dir: string;
  configHash: string;
  /** The run's width (fig5's groups). */
  width?: number;
  summary: RunSummary;
}

/** One L* choice of one seed, as the set's summary.json records it. */
export interface SeedLStarRecord {
  value: number;
  obtained: string;
  judged: boolean;
  /** Median μ_t over the last third / over the middle third (the PL rule's number). */
  plRatio: number;
  plOutcome: VerdictOutcome;
  rho: number;
  r2: number;
  logLogSlope: number;
  degenerate?: boolean;
}

/** Every number of one seed that the set reports (the member's own summary.json has the rest). */
export interface SeedMemberRecord {
  label: string;
  seed: number;
  group: string;
  dir: string;
  configHash: string;
  finalLoss: number;
  window: { start: number; end: number; endReason?: string };
  /** The rate rule: q = rateLast / rateMiddle of log ‖∇L‖². */
  q: number;
  rateMiddle: number;
  rateLast: number;
  efoldsLast: number;
  /** −slope of log ‖∇L‖² over the whole window (fig4's comparison). */
  windowRate: number;
  primary: LStarChoice;
  /** The PL ratio of medians with the primary L*. */
  plRatio: number;
  lStar: Partial<Record<LStarChoice, SeedLStarRecord>>;
  verdicts: { name: string; outcome: VerdictOutcome; reading?: string }[];
}

export function memberRecord(m: SeedMember): SeedMemberRecord {
  const s = m.summary;
  const lStar: Partial<Record<LStarChoice, SeedLStarRecord>> = {};
  for (const c of L_STAR_CHOICES) {
    const a = s.lStar[c];
    if (!a) continue;
    lStar[c] = {
      value: a.lStar,
      obtained: a.obtained,
      judged: a.judged,
      plRatio: a.pl.ratio,
      plOutcome: a.pl.outcome,
      rho: a.semiLog.rho,
      r2: a.semiLog.r2,
      logLogSlope: a.logLog.slope,
      ...(a.degenerate !== undefined ? { degenerate: a.degenerate } : {}),
    };
  }
  return {
    label: m.label,
    seed: m.seed,
    group: m.group,
    dir: m.dir,
    configHash: m.configHash,
    finalLoss: s.final.loss,
    window: { start: s.window.start, end: s.window.end, ...(s.window.endReason ? { endReason: s.window.endReason } : {}) },
    q: s.rate.q,
    rateMiddle: s.rate.middle.rate,
    rateLast: s.rate.last.rate,
    efoldsLast: s.rate.last.efolds,
    windowRate: windowRate(s),
    primary: s.primary,
    plRatio: s.lStar[s.primary]?.pl.ratio ?? NaN,
    lStar,
    verdicts: s.verdicts.map((v) => ({ name: v.name, outcome: v.outcome, ...(v.reading ? { reading: v.reading } : {}) })),
  };
}

/** Median of the finite values (NaN when there is none). */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return NaN;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/** The medians across seeds of one group's headline numbers. */
export interface GroupMedians {
  group: string;
  seeds: number;
  finalLoss: number;
  q: number;
  rateMiddle: number;
  rateLast: number;
  windowRate: number;
  plRatio: number;
  lStar: Partial<Record<LStarChoice, number>>;
}

export function groupMedians(group: string, records: readonly SeedMemberRecord[]): GroupMedians {
  const of = (f: (r: SeedMemberRecord) => number) => median(records.map(f));
  const lStar: Partial<Record<LStarChoice, number>> = {};
  for (const c of L_STAR_CHOICES) if (records.some((r) => r.lStar[c])) lStar[c] = of((r) => r.lStar[c]?.value ?? NaN);
  return {
    group,
    seeds: records.length,
    finalLoss: of((r) => r.finalLoss),
    q: of((r) => r.q),
    rateMiddle: of((r) => r.rateMiddle),
    rateLast: of((r) => r.rateLast),
    windowRate: of((r) => r.windowRate),
    plRatio: of((r) => r.plRatio),
    lStar,
  };
}

/** A verdict computed per seed across a seed's members (fig4: he vs enhanced; fig5: the width effect). */
export interface PerSeedVerdicts {
  seed: number;
  verdicts: Verdict[];
}

/** summary.json of a seed set. */
export interface SeedSetSummary {
  experiment: SeedSetKind;
  /** Marks the directory as a seed set (fig4 and fig5 without --seeds have their own layout). */
  seedSet: true;
  seeds: number[];
  /** The L* the PL verdicts use (that of the first member; all members share the config). */
  primary: LStarChoice;
  /** ⌈seedPassFraction·n⌉ and the fraction. */
  passRule: { fraction: number; needed: number };
  groups: GroupMedians[];
  members: SeedMemberRecord[];
  perSeed: { seed: number; verdicts: { name: string; outcome: VerdictOutcome; reading?: string; values: Record<string, number> }[] }[];
  /** The set's verdicts: each with "k of n seeds" as its reading. */
  verdicts: Verdict[];
  thresholds: VerdictThresholds;
}

/** The name of a member verdict at the set level: "he: linear convergence" (no prefix for fig1/fig2). */
export function groupVerdictName(group: string, name: string): string {
  return group ? `${group}: ${name}` : name;
}

/**
 * The set's summary: every member's record, the medians per group, and the verdicts. Each member
 * verdict becomes a set verdict per group (k of n seeds); each per-seed verdict likewise, unless
 * `setVerdicts` already has one of its name (fig4's comparison needs every seed, a rule of its own).
 */
export function buildSeedSetSummary(
  kind: SeedSetKind,
  seeds: readonly number[],
  members: readonly SeedMember[],
  extra: { perSeed?: readonly PerSeedVerdicts[]; setVerdicts?: readonly Verdict[] } = {},
): SeedSetSummary {
  const th = members[0]?.summary.thresholds ?? { ...DEFAULT_THRESHOLDS };
  const records = members.map(memberRecord);
  const groups = [...new Set(members.map((m) => m.group))];
  const verdicts: Verdict[] = [...(extra.setVerdicts ?? [])];
  const given = new Set(verdicts.map((v) => v.name));
  for (const g of groups) {
    const inGroup = members.filter((m) => m.group === g);
    const names = [...new Set(inGroup.flatMap((m) => m.summary.verdicts.map((v) => v.name)))];
    for (const name of names) {
      // A seed whose run has no such verdict (e.g. no epoch rows) counts as inconclusive.
      const outcomes = inGroup.map((m) => m.summary.verdicts.find((v) => v.name === name)?.outcome ?? 'inconclusive');
      const rule = inGroup.map((m) => m.summary.verdicts.find((v) => v.name === name)?.rule).find((r) => r !== undefined);
      verdicts.push(seedSetVerdict(groupVerdictName(g, name), outcomes, th, rule));
    }
  }
  const perSeed = extra.perSeed ?? [];
  const perSeedNames = [...new Set(perSeed.flatMap((p) => p.verdicts.map((v) => v.name)))];
  for (const name of perSeedNames) {
    if (given.has(name)) continue;
    const outcomes = seeds.map((s) => perSeed.find((p) => p.seed === s)?.verdicts.find((v) => v.name === name)?.outcome ?? 'inconclusive');
    const rule = perSeed.flatMap((p) => p.verdicts).find((v) => v.name === name)?.rule;
    verdicts.unshift(seedSetVerdict(name, outcomes, th, rule));
  }
  return {
    experiment: kind,
    seedSet: true,
    seeds: [...seeds],
    primary: members[0]?.summary.primary ?? 'zero',
    passRule: { fraction: th.seedPassFraction, needed: seedsNeeded(Math.max(1, seeds.length), th.seedPassFraction) },
    groups: groups.map((g) =>
      groupMedians(
        g,
        records.filter((r) => r.group === g),
      ),
    ),
    members: records,
    perSeed: perSeed.map((p) => ({ seed: p.seed, verdicts: p.verdicts.map((v) => ({ name: v.name, outcome: v.outcome, ...(v.reading ? { reading: v.reading } : {}), values: v.values })) })),
    verdicts,
    thresholds: th,
  };
}

/** "pass (4 of 5 seeds)": what the CLI prints for a set verdict. */
export function setVerdictWord(v: Pick<Verdict, 'outcome' | 'reading'>): string {
  return v.reading ? `${v.outcome} (${v.reading})` : v.outcome;
}

/** Seeds as --seeds writes them: runs of consecutive seeds as ranges (0-4,7). */
export function seedList(seeds: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < seeds.length; ) {
    let j = i;
    while (j + 1 < seeds.length && seeds[j + 1] === seeds[j] + 1) j++;
    parts.push(j > i + 1 ? `${seeds[i]}-${seeds[j]}` : seeds.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

/** The headline of a seed set: medians across seeds, a line per group (fig5: one line by width). */
export function seedSetHeadline(summary: SeedSetSummary): string {
  const f = (x: number, digits = 3) => (Number.isFinite(x) ? Number(x.toPrecision(digits)).toString() : '?');
  const e = (x: number) => (Number.isFinite(x) ? x.toExponential(3) : '?');
  const n = summary.seeds.length;
  const head = `median over ${n} seed${n === 1 ? '' : 's'} (${seedList(summary.seeds)})`;
  if (summary.experiment === 'fig5') {
    // Three widths a line keeps every line short.
    const parts = summary.groups.map((g) => `${g.group.replace(/^w/, '')}: ${e(g.finalLoss)}`);
    const lines = [`${head}, final loss by width:`];
    for (let i = 0; i < parts.length; i += 3) lines.push(parts.slice(i, i + 3).join(', '));
    return lines.join('\n');
  }
  const line = (g: GroupMedians) => `final loss ${e(g.finalLoss)}, q ${f(g.q)}, PL ratio ${f(g.plRatio)} (L* = ${summary.primary})`;
  if (summary.groups.length === 1 && summary.groups[0].group === '') return `${head}:\n${line(summary.groups[0])}`;
  return [`${head}:`, ...summary.groups.map((g) => `${g.group}: ${line(g)}`)].join('\n');
}
