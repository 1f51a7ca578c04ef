/**
 * Warnings as kube-apiserver passes them on to clients. Kubernetes docs (extensible admission
 * controllers): "Individual warning messages over 256 characters may be truncated by the API server
 * before being returned to clients. If more than 4096 characters of warning messages are added
 * (from all sources), additional warning messages are ignored." The apiserver's warning recorder
 * dedupes texts, keeps them whole while the total fits 4096 runes, and once it does not, cuts every
 * warning to 256 runes and stops adding once 4096 runes have been written. We apply the same rule,
 * so what celgate answers is what a client of the cluster would see.
 */
export const WARNING_TOTAL_RUNES = 4096;
export const WARNING_ITEM_RUNES = 256;

function runeLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function cutRunes(text: string, runes: number): string {
  if (text.length <= runes) return text;
  return Array.from(text).slice(0, runes).join('');
}

export function limitWarnings(warnings: readonly string[]): string[] {
  if (warnings.length === 0) return [];
  const unique: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  for (const warning of warnings) {
    if (warning.length === 0 || seen.has(warning)) continue;
    seen.add(warning);
    unique.push(warning);
    total += runeLength(warning);
  }
  if (total <= WARNING_TOTAL_RUNES) return unique;
  const limited: string[] = [];
  let written = 0;
  for (const warning of unique) {
    if (written >= WARNING_TOTAL_RUNES) break;
    const cut = cutRunes(warning, WARNING_ITEM_RUNES);
    limited.push(cut);
    written += runeLength(cut);
  }
  return limited;
}
