/** Lists names for an error message: `a, b, c` (at most `max`, then `… and N more`). */
export function listNames(names: readonly string[], max = 40): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} … and ${names.length - max} more`;
}
