// Validates custom resources against the schemas of their operators' APIs, offline:
//   node validate.mjs < docs.json      (a JSON array of objects; prints a JSON array of errors, one list per object)
// Two checks per object, both from npm packages pinned in package-lock.json:
//  1. the package's JSON-schema validator (types, enums, required fields, patterns): generated from the
//     operator's Go API types (@kubernetes-models/cloudnative-pg 2.0.0, .../prometheus-operator 6.0.0);
//  2. unknown fields (what `kubectl apply --validate=strict` rejects): the object as a TypeScript literal
//     of the package's interface, type-checked by tsc, whose excess-property check names any field the
//     API does not have.
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const here = dirname(fileURLToPath(import.meta.url));
const MODELS = {
  "postgresql.cnpg.io/v1": "@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

const docs = JSON.parse(readFileSync(0, "utf8"));
const errors = docs.map(() => []);
const lines = [];
const spans = [];
for (const [i, doc] of docs.entries()) {
  const base = MODELS[doc.apiVersion];
  if (!base) { errors[i].push(`no schema for ${doc.apiVersion} ${doc.kind}`); continue; }
  let mod;
  try { mod = await import(`${base}/${doc.kind}`); } catch { errors[i].push(`no schema for ${doc.apiVersion} ${doc.kind}`); continue; }
  try { new mod[doc.kind](doc).validate(); } catch (e) { errors[i].push(String(e.message || e)); }
  lines.push(`import type { I${doc.kind} as T${i} } from "${base}/${doc.kind}";`);
  spans.push([i, `const d${i}: T${i} = ${JSON.stringify(doc, null, 1)};`]);
}
const dir = mkdtempSync(join(here, ".check-"));
try {
  let text = lines.join("\n") + "\n";
  const starts = [];
  for (const [i, code] of spans) { starts.push([text.length, i]); text += code + "\nvoid d" + i + ";\n"; }
  const file = join(dir, "check.ts");
  writeFileSync(file, text);
  const program = ts.createProgram([file], {
    noEmit: true, strict: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [],
  });
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (!d.file || d.file.fileName !== file.replaceAll("\\", "/")) continue;
    let owner = -1;
    for (const [at, i] of starts) if (d.start >= at) owner = i;
    const msg = ts.flattenDiagnosticMessageText(d.messageText, " ");
    if (owner >= 0) errors[owner].push(msg);
    else errors.forEach((e) => e.push(msg));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(errors));
