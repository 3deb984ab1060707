// Reads vitest's JSON report (and the summaries of the other suites: conformance, fuzz, image, helm,
// each {passed, failed, skipped}) and prints
// the closing line CI reads: "N passed, N failed[, N skipped]". In CI a suite skipped for a
// missing service is a failure: the services were supposed to be started.
import { existsSync, readFileSync } from 'node:fs';

const [reportPath, ...summaryPaths] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const missingService = [];
const failures = [];

if (existsSync(reportPath)) {
  const report = JSON.parse(readFileSync(reportPath, 'utf8'));
  for (const file of report.testResults ?? []) {
    for (const test of file.assertionResults ?? []) {
      if (test.status === 'passed') passed++;
      else if (test.status === 'failed') {
        failed++;
        const name = [...(test.ancestorTitles ?? []), test.title].join(' > ');
        const message = (test.failureMessages ?? []).join('\n').split('\n').slice(0, 6).join('\n');
        failures.push(`${file.name}\n  ${name}\n${message.replace(/^/gm, '    ')}`);
      }
      else {
        skipped++;
        const name = [...(test.ancestorTitles ?? []), test.title].join(' > ');
        if (/\(skipped: set [A-Z_]+/.test(name)) missingService.push(name);
      }
    }
    // A file that failed to load has no assertion results but counts as a failure.
    if ((file.assertionResults ?? []).length === 0 && file.status === 'failed') {
      failed++;
      failures.push(`${file.name}\n  (the file failed to load)\n    ${String(file.message ?? '').split('\n')[0]}`);
    }
  }
} else {
  console.error(`summarize: no vitest report at ${reportPath}`);
  failed++;
}

for (const summaryPath of summaryPaths) {
  if (existsSync(summaryPath)) {
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    passed += summary.passed ?? 0;
    failed += summary.failed ?? 0;
    skipped += summary.skipped ?? 0;
  } else {
    console.error(`summarize: no summary at ${summaryPath}`);
    failed++;
  }
}

if (process.env.CI && missingService.length > 0) {
  console.error(`summarize: ${missingService.length} tests skipped for a missing service in CI:`);
  for (const name of missingService.slice(0, 20)) console.error(`  - ${name}`);
  failed += missingService.length;
  skipped -= missingService.length;
}

// The failing tests are named last, next to the closing line, where a truncated CI log still shows them.
if (failures.length > 0) {
  console.error(`summarize: ${failures.length} failing test(s):`);
  for (const failure of failures.slice(0, 10)) console.error(failure);
}

console.log(`${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
