// Writes one benchmark's rows as JSON (machine-readable) and a markdown table under bench/out/.
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';

export function writeReport(name: string, meta: Record<string, unknown>, rows: Record<string, unknown>[]): void {
  const dir = path.resolve(process.cwd(), 'bench/out');
  fs.mkdirSync(dir, { recursive: true });
  const doc = { name, date: new Date().toISOString(), machine: { host: os.hostname(), cpus: os.cpus().length, cpu: os.cpus()[0]?.model }, ...meta, rows };
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(doc, null, 2));
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v ?? ''));
  const md = [`# ${name}`, '', `${doc.date} on ${doc.machine.cpu} (${doc.machine.cpus} cores)`, '', `| ${cols.join(' | ')} |`, `| ${cols.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`), ''].join('\n');
  fs.writeFileSync(path.join(dir, `${name}.md`), md);
  console.log(md);
}
