import { describe, expect, test } from "vitest";
import fc from "fast-check";
import {
  UnitParseError,
  formatCountFp,
  formatIsoUs,
  formatMoneyDollars,
  formatPriceDollars,
  notional,
  parseCountFp,
  parseIsoToUs,
  parseMoneyDollars,
  parseScaled,
  parsePriceCents,
  parsePriceDollars,
  priceToProb,
} from "../../lib/core/units.ts";

describe("fixed-point parsing at the boundary", () => {
  test("dollar strings become exact 1/10 000 dollar integers", () => {
    expect(parsePriceDollars("0.5600")).toBe(5600);
    expect(parsePriceDollars("0.0010")).toBe(10); // sub-cent tick
    expect(parsePriceDollars("1.0000")).toBe(10000);
    expect(parsePriceDollars("0.56")).toBe(5600); // requests accept 2 dp
    expect(parsePriceDollars(0.56)).toBe(5600); // sometimes a JSON number
    expect(parsePriceDollars("0.560000")).toBe(5600); // trailing zeros beyond scale are fine
  });
  test("rejects what is not an exact price in [0,1]", () => {
    for (const bad of ["0.56001", "1.0001", "-0.01", "abc", "", "0x10", "1e-2", null, undefined, {}, Number.NaN]) {
      expect(() => parsePriceDollars(bad), String(bad)).toThrow(UnitParseError);
    }
  });
  test("counts are hundredths of a contract, signed", () => {
    expect(parseCountFp("10.00")).toBe(1000);
    expect(parseCountFp("74.77")).toBe(7477);
    expect(parseCountFp("-35.50")).toBe(-3550);
    expect(parseCountFp("0.01")).toBe(1);
    expect(() => parseCountFp("0.001")).toThrow(UnitParseError);
  });
  test("money keeps six decimals", () => {
    expect(parseMoneyDollars("0.010000")).toBe(10_000);
    expect(parseMoneyDollars("1250.3400")).toBe(1_250_340_000);
  });
  test("legacy integer cents", () => {
    expect(parsePriceCents(47)).toBe(4700);
    expect(() => parsePriceCents(101)).toThrow(UnitParseError);
  });
  test("price × count is exact money (e4 × e2 = e6)", () => {
    // 10 contracts at $0.45 = $4.50 = 4 500 000 micros
    expect(notional(4500, 1000)).toBe(4_500_000);
  });
  test("format ∘ parse round-trips", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10000 }), (p) => parsePriceDollars(formatPriceDollars(p)) === p),
    );
    fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), (c) => parseCountFp(formatCountFp(c)) === c));
    expect(formatMoneyDollars(10_000)).toBe("0.010000");
    // Display rounding: −$41.4626 → "−41.46"; $0.175 → "0.18" (half away from zero).
    expect(formatMoneyDollars(-41_462_600, 2)).toBe("-41.46");
    expect(formatMoneyDollars(175_000, 2)).toBe("0.18");
    expect(priceToProb(5600)).toBeCloseTo(0.56, 12);
  });
  test("a JSON number is read as the decimal it was written as, whatever its size", () => {
    // 133896.07 as a double is 133896.0700000000069849…: read with 12 fixed decimals it carried
    // nonzero digits past the second and was rejected (1 in 10 counts ≥ 1 000, most ≥ 10 000).
    expect(parseCountFp(133_896.07)).toBe(13_389_607);
    expect(parseCountFp(1234.56)).toBe(123_456);
    expect(parseCountFp(90_071_992_547.41)).toBe(9_007_199_254_741);
    expect(parseMoneyDollars(12_345.6789)).toBe(12_345_678_900);
    expect(parsePriceDollars(0.0001)).toBe(1);
    expect(parseCountFp(-54)).toBe(-5400);
    expect(parseCountFp(1e-2)).toBe(1);
    expect(() => parseCountFp(1e-7)).toThrow(); // more decimals than a count has
    expect(() => parseCountFp(0.1 + 0.2)).toThrow(); // 0.30000000000000004: not a two-decimal number
    expect(parseScaled(2.5e-5, 6, "money")).toBe(25);
    expect(parseScaled(1.5e3, 2, "count")).toBe(150_000);
    // Where neighbouring doubles are further apart than the field's last digit, the number cannot say
    // which decimal was sent: refused, not read as the nearest one
    expect(() => parseMoneyDollars(8_999_999_999.999999)).toThrow();
    expect(() => parseCountFp(80_000_000_000_000.01)).toThrow();
    expect(parseCountFp(80_000_000_000_000)).toBe(8e15); // an integer is exact
    // every two-decimal count JSON can carry comes back exact
    fc.assert(fc.property(fc.integer({ min: -9e14, max: 9e14 }), (c) => parseCountFp(Number(formatCountFp(c))) === c));
    fc.assert(fc.property(fc.integer({ min: 0, max: 9e12 }), (m) => parseMoneyDollars(Number(formatMoneyDollars(m))) === m));
  });
  test("timestamps keep microseconds", () => {
    expect(parseIsoToUs("2026-08-09T21:05:48.123456Z")).toBe(Date.UTC(2026, 7, 9, 21, 5, 48) * 1000 + 123456);
    expect(parseIsoToUs("2026-08-09T21:05:48.123456789Z")).toBe(Date.UTC(2026, 7, 9, 21, 5, 48) * 1000 + 123456);
    expect(formatIsoUs(Date.UTC(2026, 0, 2, 3, 4, 5) * 1000 + 7)).toBe("2026-01-02T03:04:05.000007Z");
  });
});
