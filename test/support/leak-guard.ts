// The secret-leak guard every test file runs under (jest.config.js loads
// leak-guard.setup.ts). The helpers that start peers register the secrets they
// are given (the webhook secret, registry and MySQL passwords, the Kubernetes
// double's token) and what the functions show: log lines, response bodies, and
// the objects a target stores other than Secrets; stdout and stderr are watched
// too. After every test, a registered secret found there — plain, or base64 at
// any byte alignment — fails that test.

/** Shorter values (and base64 fragments) would match by chance. */
const MIN_LENGTH = 8;
const secrets = new Set<string>();
let observed: Array<{ where: string; text: string }> = [];
const stores = new Map<string, () => Promise<string>>();

/** Secrets this test file uses: none may show outside a Secret. */
export function watchSecrets(...values: Array<string | undefined>): void {
  for (const value of values) if (value !== undefined && value.length >= MIN_LENGTH) secrets.add(value);
}

/** Something a function showed: a log line, a response body. */
export function observe(where: string, text: string): void {
  if (text.length > 0) observed.push({ where, text });
}

/** A target's stored objects other than Secrets, read after every test; returns the unregister call. */
export function watchStore(name: string, snapshot: () => Promise<string>): () => void {
  stores.set(name, snapshot);
  return () => void stores.delete(name);
}

/** The secret itself, and its base64 at each of the three byte alignments (the part that does not depend on neighbours). */
export function encodings(secret: string): string[] {
  const variants = [secret];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift, 0x20), Buffer.from(secret)]).toString('base64');
    variants.push(encoded.slice(shift === 0 ? 0 : 4, -4));
  }
  return variants.filter((form) => form.length >= MIN_LENGTH);
}

/** `<secret> as <form>` for every registered (or given) secret found in `text`. */
export function leaksIn(text: string, among: Iterable<string> = secrets): string[] {
  return [...among].flatMap((secret) => encodings(secret).filter((form) => text.includes(form)).map((form) => `${secret} as ${form}`));
}

/** Leaks in what was observed since the last call (then forgotten) and in the watched stores now. */
export async function pendingLeaks(): Promise<string[]> {
  const seen = observed;
  observed = [];
  if (secrets.size === 0) return [];
  const found = seen.flatMap(({ where, text }) => leaksIn(text).map((leak) => `${leak} in ${where}: ${text.slice(0, 160)}`));
  for (const [name, snapshot] of stores) found.push(...leaksIn(await snapshot()).map((leak) => `${leak} in ${name}`));
  return found;
}
