/**
 * Redis's glob matcher (util.c stringmatchlen), byte for byte: `*`, `?`, `[abc]`, `[^a]`, `[a-z]` (reversed
 * ranges allowed), `\x` escapes, an unclosed `[` matching to the pattern's end. Bytes compare as C's signed
 * `char`, which matters only for ranges that span 0x7f/0x80, and `nocase` folds ASCII letters only.
 */

/** Redis 7.2 stops recursing this deep and reports no match, which bounds the work of hostile patterns. */
const NESTING_MAX = 1000;

/** Whether `subject` matches the glob `pattern` (KEYS, SCAN MATCH, HSCAN MATCH). */
export function globMatch(pattern: Uint8Array, subject: Uint8Array, nocase = false): boolean {
  const state = { skipLongerMatches: false };
  return matchFrom(pattern, 0, subject, 0, nocase, state, 0);
}

function matchFrom(pattern: Uint8Array, p: number, subject: Uint8Array, s: number, nocase: boolean, state: { skipLongerMatches: boolean }, nesting: number): boolean {
  if (nesting > NESTING_MAX) return false;
  const patternEnd = pattern.length;
  const subjectEnd = subject.length;
  while (p < patternEnd && s < subjectEnd) {
    const c = pattern[p]!;
    if (c === 0x2a /* * */) {
      while (p + 1 < patternEnd && pattern[p + 1] === 0x2a) p++;
      if (p + 1 === patternEnd) return true;
      while (s < subjectEnd) {
        if (matchFrom(pattern, p + 1, subject, s, nocase, state, nesting + 1)) return true;
        if (state.skipLongerMatches) return false;
        s++;
      }
      // The rest of the pattern matches nowhere in the rest of the subject, so no earlier `*` can
      // help by matching more: stop trying (Redis's fix for exponential patterns).
      state.skipLongerMatches = true;
      return false;
    } else if (c === 0x3f /* ? */) {
      s++;
    } else if (c === 0x5b /* [ */) {
      p++;
      const not = pattern[p] === 0x5e; /* ^ */
      if (not) p++;
      let match = false;
      const target = subject[s]!;
      for (;;) {
        if (pattern[p] === 0x5c /* \ */ && patternEnd - p >= 2) {
          p++;
          if (pattern[p] === target) match = true;
        } else if (pattern[p] === 0x5d /* ] */) {
          break;
        } else if (p >= patternEnd) {
          // Unclosed class: step back so the loop's final advance lands on the pattern's end.
          p--;
          break;
        } else if (patternEnd - p >= 3 && pattern[p + 1] === 0x2d /* - */) {
          let start = signedChar(pattern[p]!);
          let end = signedChar(pattern[p + 2]!);
          let ch = signedChar(target);
          if (start > end) [start, end] = [end, start];
          if (nocase) {
            start = lower(start);
            end = lower(end);
            ch = lower(ch);
          }
          p += 2;
          if (ch >= start && ch <= end) match = true;
        } else if (nocase ? lower(pattern[p]!) === lower(target) : pattern[p] === target) {
          match = true;
        }
        p++;
      }
      if (not) match = !match;
      if (!match) return false;
      s++;
    } else {
      let literal = c;
      if (c === 0x5c /* \ */ && patternEnd - p >= 2) {
        p++;
        literal = pattern[p]!;
      }
      const ch = subject[s]!;
      if (nocase ? lower(literal) !== lower(ch) : literal !== ch) return false;
      s++;
    }
    p++;
    if (s === subjectEnd) {
      while (p < patternEnd && pattern[p] === 0x2a) p++;
      break;
    }
  }
  return p === patternEnd && s === subjectEnd;
}

function signedChar(byte: number): number {
  return byte >= 0x80 ? byte - 0x100 : byte;
}

function lower(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 0x20 : c;
}
