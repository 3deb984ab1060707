import { startOurHttpServer, rssMb, sleep, stopChild, tempDir, removeDir } from './lib.mjs';
for (const flags of [[], ['--wasm-lazy-compilation'], ['--liftoff-only'], ['--no-wasm-tier-up'], ['--no-liftoff']]) {
  const dir = tempDir('flags');
  try {
    const s = await startOurHttpServer({ dataDir: dir, nodeFlags: flags });
    await sleep(2000);
    const idle = rssMb(s.child.pid);
    const status = (await import('node:fs')).readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
    const anon = /RssAnon:\s+(\d+)/.exec(status)[1] / 1024, file = /RssFile:\s+(\d+)/.exec(status)[1] / 1024;
    const t0 = performance.now(); for (let i = 0; i < 300; i++) await s.client.callTool('registry_list', {}); const per = (performance.now() - t0) / 300;
    console.log(JSON.stringify({ flags: flags.join(' ') || '(none)', readyMs: Math.round(s.readyMs), idleRssMb: Math.round(idle), rssAnonMb: Math.round(anon), rssFileMb: Math.round(file), afterListRssMb: Math.round(rssMb(s.child.pid)), listMsPerCall: +per.toFixed(2) }));
    s.client.close(); await stopChild(s.child);
  } catch (e) { console.log(flags, 'failed', e.message.slice(0, 200)); }
  finally { removeDir(dir); }
}
