import { afterEach, describe, expect, it, vi } from 'vitest';
import { currentAnchor, hrNow, hrTimeDuration, isTimeInput, relToHrTime, toHrTime } from './clock.js';

const toMs = (t: readonly [number, number]) => t[0] * 1000 + t[1] / 1e6;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('clock', () => {
  it('hrNow() is epoch time with nanoseconds in range', () => {
    const t = hrNow();
    expect(Math.abs(toMs(t) - Date.now())).toBeLessThan(50);
    expect(t[1]).toBeGreaterThanOrEqual(0);
    expect(t[1]).toBeLessThan(1e9);
    expect(Number.isInteger(t[0]) && Number.isInteger(t[1])).toBe(true);
  });

  it('follows the wall clock when it drifts more than 2 ms from the monotonic one (checked at most once a second)', () => {
    const before = currentAnchor(performance.now());
    const wall = Date.now();
    // The wall clock is stepped 60 s ahead; the next check (a reading 1.5 s later) sees it.
    const rel = performance.now() + 1_500;
    vi.spyOn(Date, 'now').mockReturnValue(wall + 60_000 + 1_500);
    const after = currentAnchor(rel);
    expect(after.ms - before.ms).toBeGreaterThan(59_000);
    expect(Math.abs(toMs(relToHrTime(after, rel)) - (wall + 61_500))).toBeLessThan(20);
    // Within the same second it does not look again.
    vi.spyOn(Date, 'now').mockReturnValue(wall);
    expect(currentAnchor(rel + 100)).toBe(after);
    // Put the wall clock back for the other tests: the next check moves the anchor back.
    const rel2 = rel + 1_500;
    vi.spyOn(Date, 'now').mockReturnValue(Math.round(before.ms + rel2));
    expect(Math.abs(currentAnchor(rel2).ms - before.ms)).toBeLessThan(2);
  });

  it('reads every TimeInput form', () => {
    expect(toHrTime([5, 6])).toEqual([5, 6]);
    expect(toHrTime(new Date(1_700_000_000_250))).toEqual([1_700_000_000, 250_000_000]);
    expect(toHrTime(1_700_000_000_000.5)).toEqual([1_700_000_000, 500_000]);
    // A number not above performance.now() is a performance.now() reading.
    const p = performance.now();
    expect(Math.abs(toMs(toHrTime(p) ?? [0, 0]) - (performance.timeOrigin + p))).toBeLessThan(5);
    expect(toHrTime(Number.NaN)).toBeUndefined();
    expect(toHrTime(new Date(Number.NaN))).toBeUndefined();
    expect(isTimeInput('2024-01-01')).toBe(false);
    expect(isTimeInput([1, 2])).toBe(true);
  });

  it('hrTimeDuration borrows nanoseconds', () => {
    expect(hrTimeDuration([1, 900_000_000], [3, 100_000_000])).toEqual([1, 200_000_000]);
  });
});
