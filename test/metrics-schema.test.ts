import { describe, expect, it } from 'vitest';
import { DataError } from '../src/errors.js';
import { METRICS_SCHEMA_VERSION, formatMetricRow, parseMetricsJsonl, type MetricRow } from '../src/metrics/schema.js';

describe('metrics schema', () => {
  const rows: MetricRow[] = [
    { kind: 'header', schemaVersion: METRICS_SCHEMA_VERSION, run: 'fig1' },
    { kind: 'epoch', epoch: 0, loss: 0.5, gradNormSq: 2, drift: 0, acc: 0.5, lr: 0.001, timeMs: 3, testLoss: 0.6 },
    { kind: 'step', step: 0, epoch: 0, loss: 0.4, gradNormSq: 1.5, lr: 0.1, timeMs: 4 },
    { kind: 'eval', epoch: 1, testLoss: 0.3, testAcc: 0.9 },
    { kind: 'fullgrad', epoch: 1, loss: 0.2, gradNormSq: 0.7 },
    { kind: 'ntk', epoch: 1, lambdaMin: 0.01, method: 'lanczos' },
  ];

  it('round-trips rows through JSON lines', () => {
    const text = rows.map(formatMetricRow).join('\n') + '\n';
    expect(parseMetricsJsonl(text)).toEqual(rows);
  });

  it('reads null (JSON for NaN) back as NaN', () => {
    const text = formatMetricRow({ kind: 'epoch', epoch: 3, loss: NaN, gradNormSq: Infinity, drift: 1, acc: 0, lr: 0, timeMs: 0 });
    const [row] = parseMetricsJsonl(text);
    expect(row.kind === 'epoch' && Number.isNaN(row.loss) && Number.isNaN(row.gradNormSq)).toBe(true);
  });

  it('names the line and the fix for bad rows', () => {
    expect(() => parseMetricsJsonl('{"kind":"epoch","epoch":0}', 'm.jsonl')).toThrow(/m.jsonl line 1: a 'epoch' row needs a number in "loss"/);
    expect(() => parseMetricsJsonl('{"kind":"epoc","epoch":0}')).toThrow(/did you mean 'epoch'/);
    expect(() => parseMetricsJsonl('{"kind":"eval","epoch":0,"testLoss":1,"testAcc":1}\n{"kind":"ep')).toThrow(/line 2 is not valid JSON \(probably cut off/);
    expect(() => parseMetricsJsonl('[1]')).toThrow(DataError);
    expect(() => parseMetricsJsonl(`{"kind":"header","schemaVersion":${METRICS_SCHEMA_VERSION + 1}}`)).toThrow(/newer than this reader/);
    expect(() => parseMetricsJsonl('{"kind":"ntk","epoch":0,"eig":[1,2]}')).toThrow(/Flatten nested values/);
  });
});

describe('src/metrics stays browser-safe', () => {
  it('imports only relative modules (no Node built-ins, no packages)', async () => {
    const fs = await import('node:fs');
    const dir = new URL('../src/metrics/', import.meta.url);
    for (const name of fs.readdirSync(dir)) {
      const text = fs.readFileSync(new URL(name, dir), 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
        expect(m[1], `${name} imports ${m[1]}`).toMatch(/^\.\.?\//);
      }
    }
  });
});
