// JSON with sorted object keys: equal values give equal text, whatever their
// key order or realm. Used to compare states and to store them.

function sortedKeys(_key: string, item: unknown): unknown {
  return item && typeof item === 'object' && !Array.isArray(item)
    ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    : item;
}

export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, sortedKeys, indent);
}
