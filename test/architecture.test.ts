// The shape the project keeps (DEVELOPERS.md): no import cycle; the pure core (parsing, planning,
// rendering, the charm's rules) imports no I/O module; no source file much over 300 lines.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from '@jest/globals';

const ROOT = resolve(dirname(new URL(import.meta.url).pathname), '..');
const files = (dir: string): string[] =>
  readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
const SOURCES = [...files('src'), ...files('handlers')];
const IMPORT = /^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'|import\('([^']+)'\)/gm;

/** Static and dynamic imports of a file: relative ones resolved to repo paths, packages as named. */
function importsOf(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const specifier = match[1] ?? match[2] ?? '';
    if (specifier.startsWith('.')) local.push(relative(ROOT, resolve(ROOT, dirname(file), specifier)).replace(/\.js$/, '.ts'));
    else packages.push(specifier);
  }
  return { local, packages };
}

const PURE = ['src/charm/', 'src/reactive/', 'src/render/', 'src/policy/', 'src/domain/', 'src/image/', 'src/registry/payloads/', 'src/app/plan.ts', 'src/app/recent.ts', 'src/app/view.ts', 'src/targets/compare.ts'];
const IO = /^(node:(fs|http|https|net|child_process|dgram|dns|tls)|@aws-sdk\/|@kubernetes\/|js-yaml)/;

describe('the shape of the code', () => {
  it('has no import cycle', () => {
    const graph = new Map(SOURCES.map((file) => [file, importsOf(file).local.filter((target) => SOURCES.includes(target))]));
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (file: string, path: string[]) => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') return void cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of SOURCES) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('has no import cycle between the folders of src/ either (src/registry and src/resource, say)', () => {
    const folderOf = (file: string) => file.split('/').slice(0, 2).join('/');
    const edges = new Map<string, Set<string>>();
    for (const file of SOURCES.filter((path) => path.startsWith('src/') && path.split('/').length > 2)) {
      for (const target of importsOf(file).local) {
        if (target.split('/').length <= 2 || folderOf(target) === folderOf(file)) continue;
        edges.set(folderOf(file), (edges.get(folderOf(file)) ?? new Set()).add(folderOf(target)));
      }
    }
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      [...(edges.get(from) ?? [])].some((next) => next === to || (!seen.has(next) && (seen.add(next), reaches(next, to, seen))));
    const cycles = [...edges].flatMap(([from, targets]) => [...targets].filter((to) => reaches(to, from)).map((to) => `${from} ⇄ ${to}`));
    expect(cycles).toEqual([]);
  });

  it('keeps the core pure: no I/O module is imported by parsing, planning, rendering or the rules', () => {
    const offenders = SOURCES.filter((file) => PURE.some((prefix) => file.startsWith(prefix)))
      .flatMap((file) => importsOf(file).packages.filter((name) => IO.test(name)).map((name) => `${file} imports ${name}`));
    expect(offenders).toEqual([]);
  });

  it('keeps every source file near 300 lines at most', () => {
    const long = SOURCES.map((file) => [file, readFileSync(join(ROOT, file), 'utf8').split('\n').length] as const).filter(([, lines]) => lines > 320);
    expect(long).toEqual([]);
  });
});
