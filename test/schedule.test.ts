import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { constantLr, cosineLr, makeLrSchedule } from '../src/optim/schedule.js';

describe('cosineLr', () => {
  it('starts at base, is half way at the middle, ends at 0', () => {
    expect(cosineLr(0, 100, 0.1)).toBe(0.1);
    expect(cosineLr(50, 100, 0.1)).toBeCloseTo(0.05, 15);
    expect(cosineLr(100, 100, 0.1)).toBeCloseTo(0, 15);
    expect(cosineLr(150, 100, 0.1)).toBeCloseTo(0, 15);
  });

  it('matches cos values at quarter points', () => {
    // p = 1/4: (1 + cos(π/4))/2 = (1 + √2/2)/2; p = 3/4: (1 − √2/2)/2.
    expect(cosineLr(25, 100, 1)).toBeCloseTo((1 + Math.SQRT1_2) / 2, 15);
    expect(cosineLr(75, 100, 1)).toBeCloseTo((1 - Math.SQRT1_2) / 2, 15);
  });

  it('anneals to minLr', () => {
    expect(cosineLr(0, 10, 0.5, { minLr: 0.1 })).toBe(0.5);
    expect(cosineLr(5, 10, 0.5, { minLr: 0.1 })).toBeCloseTo(0.3, 15);
    expect(cosineLr(10, 10, 0.5, { minLr: 0.1 })).toBeCloseTo(0.1, 15);
  });

  it('warms up linearly, then runs the cosine over the remaining steps', () => {
    const opts = { warmupSteps: 4 };
    [0.05, 0.1, 0.15, 0.2].forEach((want, s) => expect(cosineLr(s, 104, 0.2, opts)).toBeCloseTo(want, 15));
    expect(cosineLr(4, 104, 0.2, opts)).toBe(0.2);
    expect(cosineLr(54, 104, 0.2, opts)).toBeCloseTo(0.1, 15);
    expect(cosineLr(104, 104, 0.2, opts)).toBeCloseTo(0, 15);
  });

  it('is non-increasing after warmup', () => {
    let prev = Infinity;
    for (let s = 3; s <= 60; s++) {
      const lr = cosineLr(s, 60, 1, { warmupSteps: 3 });
      expect(lr).toBeLessThanOrEqual(prev);
      prev = lr;
    }
  });

  it('rejects bad arguments with a fix', () => {
    expect(() => cosineLr(0, 0, 0.1)).toThrow(/totalSteps must be a positive integer/);
    expect(() => cosineLr(-1, 10, 0.1)).toThrow(ConfigError);
    expect(() => cosineLr(0, 10, 0.1, { warmupSteps: 10 })).toThrow(/warmupSteps/);
    expect(() => cosineLr(0, 10, 0.1, { minLr: 0.2 })).toThrow(/minLr/);
    expect(() => cosineLr(0, 10, NaN)).toThrow(/base learning rate/);
  });
});

describe('constantLr and makeLrSchedule', () => {
  it('constant is constant', () => {
    expect([0, 5, 99].map((s) => constantLr(s, 100, 0.001))).toEqual([0.001, 0.001, 0.001]);
  });
  it('binds a schedule to its run', () => {
    const f = makeLrSchedule('cosine', 10, 1);
    expect(f(0)).toBe(1);
    expect(f(5)).toBeCloseTo(0.5, 15);
    expect(makeLrSchedule('constant', 10, 0.3)(7)).toBe(0.3);
    expect(() => makeLrSchedule('step' as never, 10, 1)).toThrow(/Use 'constant' or 'cosine'/);
  });
});
