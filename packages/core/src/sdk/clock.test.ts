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

  /** Moves both clocks `ms` ahead of the real ones (the process "runs" that much later). */
  function later(ms: number, wallExtra = 0): void {
    const perfNow = performance.now.bind(performance);
    const dateNow = Date.now;
    vi.restoreAllMocks();
    vi.spyOn(performance, 'now').mockImplementation(() => perfNow() + ms);
    vi.spyOn(Date, 'now').mockImplementation(() => dateNow() + ms + wallExtra);
  }

  it('follows the wall clock when it drifts more than 2 ms from the monotonic one (checked at most once a second)', () => {
    const before = currentAnchor(performance.now());
    // The wall clock is stepped 60 s ahead; the next check (a reading 10 s later) sees it.
    later(10_000, 60_000);
    // The wall clock is read next to `rel`: a pause of the test process later must not count.
    const rel = performance.now();
    const wallAtRel = Date.now();
    const after = currentAnchor(rel);
    expect(after.ms - before.ms).toBeGreaterThan(59_990);
    expect(after.ms - before.ms).toBeLessThan(60_010);
    expect(Math.abs(toMs(relToHrTime(after, rel)) - wallAtRel)).toBeLessThan(5);
    // Within the same second it does not look again.
    later(10_100, 0);
    expect(currentAnchor(performance.now())).toBe(after);
    // Put the wall clock back for the other tests: the next check moves the anchor back.
    later(20_000, 0);
    expect(Math.abs(currentAnchor(performance.now()).ms - before.ms)).toBeLessThan(2);
  });

  it('does not move the anchor for a reading taken before a pause (a GC, a preemption)', () => {
    const before = currentAnchor(performance.now());
    // 30 s later (a check is due), a span's start was read 8 ms before the check runs: a
    // scavenge of a busy Node 20 server, or the thread losing its core, fell in between.
    later(30_000);
    const rel = performance.now() - 8;
    const wallAtRel = Date.now() - 8;
    const a = currentAnchor(rel);
    expect(Math.abs(a.ms - before.ms)).toBeLessThan(2);
    // Its timestamp is where the reading was: 8 ms before the wall clock read beside it.
    expect(Math.abs(toMs(relToHrTime(a, rel)) - wallAtRel)).toBeLessThan(3);
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
