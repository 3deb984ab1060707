// The operator console: sign-in with an API key or through OAuth (oauth.js), then the
// approvals inbox, runs with their graphs, and the audit trail. Plain DOM; every action is a
// REST call (api.js); a run in progress is followed through its MCP subscription (live.js).
import { ApiError, call, hooks, session } from './api.js';
import { runGraph } from './graph.js';
import { listen, runUri } from './live.js';
import { beginSignIn, completeSignIn, isAuthorizationResponse, OAuthError, protectedResource } from './oauth.js';
import { aliasComparison, gatesTable, h, when } from './promotion-view.js';

const $ = (id) => document.getElementById(id);
const PAGES = ['approvals', 'runs', 'audit', 'registry', 'rag'];
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);
// Only while a run's live updates are cut off: how often its state is fetched instead (and
// the subscription tried again).
const FALLBACK_MS = 5000;
let following; // the run on screen while it is followed: {stop()}

const say = (id, text, kind = '') => {
  const node = $(id);
  node.textContent = text;
  node.className = kind;
};

/** The server's refusal in plain words. */
function plain(error) {
  if (!(error instanceof ApiError)) return `Something went wrong: ${error.message}`;
  if (error.status === 403 && /four-eyes/.test(error.message)) return 'You asked for this promotion yourself, so you cannot decide on it: the four-eyes rule needs another approver.';
  if (error.status === 403) return `Not allowed: ${error.message}`;
  if (error.status === 429) return `Too many requests: ${error.message}`;
  return error.message;
}

// ------------------------------------------------------------------ session

function stopFollowing() {
  following?.stop();
  following = undefined;
}

function showSignIn(message = '') {
  stopFollowing();
  $('nav').hidden = true;
  for (const page of PAGES) $(page).hidden = true;
  $('sign-in').hidden = false;
  say('session-message', message, message ? 'notice' : '');
  $('api-key').focus();
}

hooks.onUnauthorized = (credential) => {
  session.clear();
  showSignIn(
    credential.kind === 'oauth'
      ? `Your session has ended: the server no longer accepts your sign-in with ${credential.issuer} (the access token expired or was refused). Sign in again.`
      : 'Your session has ended: the server no longer accepts this API key (it expired or was revoked). Sign in again with a valid key.',
  );
};

/** Offers "Sign in with <issuer>" when the server takes OAuth tokens (its RFC 9728 metadata names an issuer). */
async function offerOAuth() {
  const server = await protectedResource();
  if (!server) return;
  $('oauth-button').textContent = `Sign in with ${server.issuer}`;
  $('oauth-sign-in').hidden = false;
}

async function signInWithOAuth() {
  say('sign-in-error', '');
  $('oauth-button').disabled = true;
  try {
    await beginSignIn(location.hash); // leaves the page for the authorization server
  } catch (error) {
    $('oauth-button').disabled = false;
    say('sign-in-error', `Sign-in failed: ${error instanceof OAuthError ? error.message : plain(error)}`, 'error');
  }
}

/** Back from the authorization server: trade the code for a token, check it with the server, start the session. */
async function finishOAuth() {
  let returnHash = '';
  try {
    const signedIn = await completeSignIn();
    returnHash = signedIn.returnHash;
    const credential = { kind: 'oauth', token: signedIn.token, issuer: signedIn.issuer };
    try {
      await call('promotion_pending', { limit: 1 }, credential);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw new OAuthError(`this server does not accept the access token from ${signedIn.issuer}: ${error.message}`);
      if (!(error instanceof ApiError && error.status === 403)) throw error;
    }
    session.set(credential);
    return true;
  } catch (error) {
    say('sign-in-error', `Sign-in failed: ${error instanceof OAuthError ? error.message : plain(error)}`, 'error');
    return false;
  } finally {
    // The code and state are spent: off the address bar and the history.
    history.replaceState(null, '', `${location.pathname}${returnHash && returnHash !== '#' ? returnHash : '#approvals'}`);
  }
}

async function signIn(event) {
  event.preventDefault();
  const key = $('api-key').value.trim();
  say('sign-in-error', '');
  if (!key) return say('sign-in-error', 'Type an API key to sign in.', 'error');
  try {
    await call('promotion_pending', { limit: 1 }, { kind: 'key', key });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      return say('sign-in-error', 'Sign-in failed: the server does not accept this API key. Check that it is typed in full and has not expired or been revoked.', 'error');
    }
    // 403: the key is valid but lacks promotion:read; the other pages may still work.
    if (!(error instanceof ApiError && error.status === 403)) return say('sign-in-error', `Sign-in failed: ${plain(error)}`, 'error');
  }
  session.set({ kind: 'key', key });
  $('api-key').value = '';
  say('session-message', '');
  // A new hash routes through hashchange; the same one is routed here.
  if (location.hash === '' || location.hash === '#') location.hash = '#approvals';
  else route();
}

// ------------------------------------------------------------------ approvals

async function decide(request, verb, card) {
  const comment = card.querySelector('textarea').value.trim();
  const outcome = card.querySelector('.outcome');
  if (verb === 'reject' && !comment) {
    outcome.textContent = 'Say why you reject it in the reason box first.';
    outcome.className = 'outcome error';
    return;
  }
  for (const button of card.querySelectorAll('button')) button.disabled = true;
  try {
    const result = await call(verb === 'approve' ? 'promotion_approve' : 'promotion_reject', verb === 'approve' ? { requestId: request.requestId, ...(comment ? { comment } : {}) } : { requestId: request.requestId, comment });
    if (result.status === 'promoted') outcome.textContent = `Approved: ${request.name}@${request.version} is now promoted to ${request.environment}.`;
    else if (result.status === 'rejected') outcome.textContent = 'Rejected.';
    else outcome.textContent = `Approved: ${result.approvals} of ${result.approvalsRequired} approvals so far; still pending.`;
    outcome.className = 'outcome ok';
    card.dataset.status = result.status;
    if (result.status === 'pending_approval') for (const button of card.querySelectorAll('button')) button.disabled = false;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) {
      // Decided elsewhere meanwhile (or expired): say what happened rather than fail.
      try {
        const now = await call('promotion_status', { requestId: request.requestId });
        if (now.status !== 'pending_approval') {
          const by = now.request.approvals.map((a) => `${a.decision === 'approve' ? 'approved' : 'rejected'} by ${a.by}`).join(', ');
          outcome.textContent = `Already decided elsewhere: this request is now ${now.status.replace('_', ' ')}${by ? ` (${by})` : ''}. Nothing more to do.`;
          outcome.className = 'outcome notice';
          card.dataset.status = now.status;
          return;
        }
      } catch {
        // fall through to the message of the refusal
      }
    }
    outcome.textContent = plain(error);
    outcome.className = 'outcome error';
    for (const button of card.querySelectorAll('button')) button.disabled = false;
  }
}

async function requestCard(request) {
  const approvals = request.approvals.filter((a) => a.decision === 'approve');
  const reasonId = `reason-${request.requestId}`;
  const card = h(
    'article',
    { class: 'request', 'data-request-id': request.requestId, 'data-status': 'pending_approval', 'aria-labelledby': `title-${request.requestId}` },
    h('h3', { id: `title-${request.requestId}`, text: `${request.name}@${request.version} → ${request.environment}` }),
    h('p', { text: `Requested by ${request.requestedBy} on ${when(request.createdAt)}: “${request.reason}”. Expires ${when(request.expiresAt)}.` }),
    h('p', { text: `Approvals: ${approvals.length} of ${request.approvalsRequired}${approvals.length ? ` (${approvals.map((a) => a.by).join(', ')})` : ''}.` }),
    gatesTable(request.gates),
    ...(await aliasComparison(request, { read: (args) => call('registry_get', args), isNotFound: (error) => error instanceof ApiError && error.status === 404, describe: plain })),
    h('label', { for: reasonId, text: 'Reason (required to reject)' }),
    h('textarea', { id: reasonId, rows: 2, maxlength: 1000 }),
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'approve', text: 'Approve' }), h('button', { type: 'button', class: 'reject', text: 'Reject' })),
    h('p', { class: 'outcome', role: 'status' }),
  );
  card.querySelector('.approve').addEventListener('click', () => decide(request, 'approve', card));
  card.querySelector('.reject').addEventListener('click', () => decide(request, 'reject', card));
  return card;
}

async function showApprovals() {
  say('approvals-status', 'Loading…');
  const list = $('approvals-list');
  try {
    const { requests } = await call('promotion_pending', { limit: 100 });
    const cards = [];
    for (const request of requests) cards.push(await requestCard(request));
    list.replaceChildren(...cards);
    say('approvals-status', requests.length ? `${requests.length} request${requests.length === 1 ? '' : 's'} awaiting approval.` : 'No promotion request is awaiting approval.');
  } catch (error) {
    list.replaceChildren();
    say('approvals-status', plain(error), 'error');
  }
}

// ------------------------------------------------------------------ runs

async function showRuns() {
  const form = $('runs-filter');
  const tbody = $('runs-table').querySelector('tbody');
  try {
    const { runs } = await call('dag_runs', { status: form.status.value, workflow: form.workflow.value.trim(), limit: 50 });
    tbody.replaceChildren(
      ...runs.map((r) =>
        h('tr', {}, h('td', {}, h('a', { class: 'run-link', href: `#runs/${encodeURIComponent(r.runId)}`, text: r.runId })), h('td', { text: r.workflow }), h('td', { text: r.status }), h('td', { text: when(r.createdAt) })),
      ),
    );
    say('runs-status-line', runs.length ? '' : 'No run matches.');
  } catch (error) {
    tbody.replaceChildren();
    say('runs-status-line', plain(error), 'error');
  }
}

async function showRun(runId) {
  $('run-detail').hidden = false;
  $('run-title').textContent = `Run ${runId}`;
  try {
    const run = await call('dag_status', { runId });
    say('run-summary', `${run.workflow}: ${run.status}${run.error ? ` — ${run.error}` : ''}`);
    $('run-graph').replaceChildren(runGraph(run.runId, run.nodes));
    return !TERMINAL.has(run.status);
  } catch (error) {
    say('run-summary', plain(error), 'error');
    $('run-graph').replaceChildren();
    return undefined; // not known
  }
}

/**
 * Draws a run, and while it is in progress follows it through its MCP subscription: each
 * change the server announces redraws the graph. If the subscription is refused or cut off,
 * the run is fetched every FALLBACK_MS instead, and the subscription tried again each time.
 * #run-live says which, in words, with data-state (connecting, live, polling, ended, or off
 * when the run cannot be read) and data-updates (changes heard so far).
 */
async function followRun(runId) {
  const line = $('run-live');
  const me = { stopped: false, stream: undefined, timer: undefined, updates: 0, drawing: undefined, again: false };
  const show = (state, text) => {
    line.dataset.state = state;
    line.dataset.updates = String(me.updates);
    line.textContent = text;
  };
  me.stop = () => {
    me.stopped = true;
    clearTimeout(me.timer);
    me.stream?.close();
  };
  following = me;

  const ended = () => {
    me.stop();
    show('ended', 'The run has ended: nothing more to follow.');
  };
  // One redraw at a time; changes heard meanwhile make one more.
  const redraw = async () => {
    if (me.drawing) {
      me.again = true;
      return me.drawing;
    }
    me.drawing = (async () => {
      do {
        me.again = false;
        const running = await showRun(runId);
        await showRuns();
        if (running === false && !me.stopped) ended();
      } while (me.again && !me.stopped);
    })();
    try {
      await me.drawing;
    } finally {
      me.drawing = undefined;
    }
  };
  const fallBack = (why) => {
    if (me.stopped) return;
    me.stream = undefined;
    show('polling', `Live updates are off: ${why}. The run is checked every ${FALLBACK_MS / 1000} seconds instead, and live updates are tried again each time.`);
    me.timer = setTimeout(async () => {
      await redraw();
      if (!me.stopped) connect();
    }, FALLBACK_MS);
  };
  const connect = async () => {
    if (me.stopped) return;
    if (line.dataset.state !== 'polling') show('connecting', 'Connecting to live updates…');
    try {
      const stream = await listen([runUri(runId)], {
        onUpdate: () => {
          me.updates += 1;
          line.dataset.updates = String(me.updates);
          redraw();
        },
        onDrop: (why) => fallBack(why),
      });
      if (me.stopped) return stream.close();
      me.stream = stream;
      show('live', 'Live: the graph changes as the run does.');
      await redraw(); // what changed before the subscription was in force
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // the session has ended
      fallBack(plain(error));
    }
  };

  const running = await showRun(runId);
  if (me.stopped) return;
  if (running) await connect();
  else if (running === false) ended();
  else show('off', ''); // why is in the summary above
}

// ------------------------------------------------------------------ audit

let auditCursor;

const isoOf = (local) => (local ? new Date(local).toISOString() : undefined);

async function loadAudit(more) {
  const form = $('audit-filter');
  const tbody = $('audit-table').querySelector('tbody');
  try {
    const page = await call('governance_audit_query', {
      principal: form.principal.value.trim(),
      operation: form.operation.value.trim(),
      since: isoOf(form.since.value),
      until: isoOf(form.until.value),
      limit: 50,
      ...(more && auditCursor ? { cursor: auditCursor } : {}),
    });
    const rows = page.records.map((r) =>
      h('tr', {}, h('td', { text: String(r.seq) }), h('td', { text: when(r.at) }), h('td', { text: r.principalName ? `${r.principal} (${r.principalName})` : r.principal }), h('td', { text: r.operation }), h('td', { text: r.surface }), h('td', { text: r.errorCode ? `${r.outcome} (${r.errorCode})` : r.outcome }), h('td', { text: String(r.durationMs ?? '') })),
    );
    if (more) tbody.append(...rows);
    else tbody.replaceChildren(...rows);
    auditCursor = page.nextCursor;
    $('audit-more').hidden = !auditCursor;
    say('audit-status', tbody.children.length ? '' : 'No audit record matches.');
  } catch (error) {
    say('audit-status', plain(error), 'error');
  }
}

async function showAudit() {
  await loadAudit(false);
  try {
    const verified = await call('governance_audit_verify', {});
    if (verified.ok) say('audit-chain', `Chain verified: all ${verified.records} records are intact.`, 'ok');
    else say('audit-chain', `Chain broken at record ${verified.firstBroken?.seq}: ${verified.firstBroken?.reason}. The records from there on cannot be trusted.`, 'error');
  } catch (error) {
    say('audit-chain', `Chain not verified: ${plain(error)}`, 'error');
  }
}

// ------------------------------------------------------------------ registry

const labelText = (labels) => Object.entries(labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');

async function showRegistry() {
  const form = $('registry-filter');
  const tbody = $('registry-table').querySelector('tbody');
  try {
    const { artifacts } = await call('registry_list', { prefix: form.prefix.value.trim(), label: form.label.value.trim(), limit: 100 });
    tbody.replaceChildren(
      ...artifacts.map((a) =>
        h('tr', {}, h('td', {}, h('a', { href: `#registry/${encodeURIComponent(a.name)}`, text: a.name })), h('td', { text: a.version }), h('td', { text: labelText(a.labels) }), h('td', { text: a.latest ? 'latest' : '' }), h('td', { text: when(a.createdAt) })),
      ),
    );
    say('registry-status', artifacts.length ? '' : 'No artifact version matches.');
  } catch (error) {
    tbody.replaceChildren();
    say('registry-status', plain(error), 'error');
  }
}

async function rollback(name, environment) {
  const outcome = $('rollback-outcome');
  try {
    const moved = await call('promotion_rollback', { name, environment });
    await showArtifact(name, true);
    outcome.textContent = `Rolled back: ${environment} now points at ${name}@${moved.version} (was ${moved.previousVersion ?? 'nothing'}).`;
    outcome.className = 'ok';
  } catch (error) {
    outcome.textContent = plain(error);
    outcome.className = 'error';
  }
}

async function showArtifact(name, keepOutcome = false) {
  $('artifact-detail').hidden = false;
  $('artifact-title').textContent = name;
  if (!keepOutcome) say('rollback-outcome', '');
  const versions = $('artifact-versions').querySelector('tbody');
  const history = $('artifact-history').querySelector('tbody');
  try {
    const { artifacts } = await call('registry_list', { prefix: name, includeYanked: true, limit: 100 });
    const mine = artifacts.filter((a) => a.name === name);
    const details = [];
    for (const a of mine) details.push(await call('registry_get', { name, version: a.version, includeContent: false }));
    versions.replaceChildren(
      ...details.map((d) => h('tr', {}, h('td', { text: d.yanked ? `${d.version} (yanked)` : d.version }), h('td', { text: [...(mine.find((a) => a.version === d.version)?.latest ? ['latest'] : []), ...d.aliases].join(', ') }), h('td', { text: labelText(d.labels) }), h('td', { text: d.digest }))),
    );
    const { events } = await call('promotion_history', { name, limit: 50 });
    history.replaceChildren(
      ...events.map((e) => h('tr', {}, h('td', { text: when(e.at) }), h('td', { text: e.environment }), h('td', { text: e.action }), h('td', { text: e.version }), h('td', { text: e.previousVersion ?? '—' }), h('td', { text: e.actor }))),
    );
    const environments = [...new Set(events.map((e) => e.environment))];
    $('artifact-rollback').replaceChildren(...environments.map((env) => h('button', { type: 'button', onclick: () => rollback(name, env), text: `Roll back ${env}` })));
    say('artifact-status', `${details.length} version${details.length === 1 ? '' : 's'}, ${events.length} alias move${events.length === 1 ? '' : 's'}.`);
  } catch (error) {
    say('artifact-status', plain(error), 'error');
  }
}

// ------------------------------------------------------------------ RAG playground

async function showRag() {
  const select = $('rag-collection');
  try {
    const { collections } = await call('rag_collections', {});
    const chosen = select.value;
    select.replaceChildren(...collections.map((c) => h('option', { value: c.name, text: `${c.name} (${c.documents} documents)` })));
    if (collections.some((c) => c.name === chosen)) select.value = chosen;
    say('rag-status', collections.length ? '' : 'No collection yet: ingest documents with rag_ingest first.');
  } catch (error) {
    say('rag-status', plain(error), 'error');
  }
}

async function searchRag(event) {
  event.preventDefault();
  const form = $('rag-form');
  const list = $('rag-hits');
  say('rag-status', 'Searching…');
  try {
    const { hits, graph } = await call('rag_query', { collection: form.collection.value, query: form.query.value.trim(), mode: form.mode.value, topK: Number(form.topK.value) || 5, maxChars: 600 });
    list.replaceChildren(
      ...hits.map((hit) => {
        const c = hit.citation;
        const source = [c.title, c.uri].filter(Boolean).join(' — ');
        const where = `${hit.documentId}${source ? ` (${source})` : ''}, characters ${c.start}–${c.end}${c.page ? `, page ${c.page}` : ''}`;
        return h('li', { class: 'hit' }, h('p', { class: 'citation', text: `${where} · score ${Number(hit.score.toPrecision(3))}` }), h('blockquote', { text: hit.text }));
      }),
    );
    say('rag-status', hits.length ? `${hits.length} hit${hits.length === 1 ? '' : 's'}, best first (${form.mode.value}).` : 'No passage matched.');
    $('rag-graph').textContent = graph && graph.entities.length ? `Graph entities: ${graph.entities.join(', ')}${graph.paths.length ? `. Paths: ${graph.paths.join('; ')}` : ''}` : '';
  } catch (error) {
    list.replaceChildren();
    say('rag-status', plain(error), 'error');
  }
}

// ------------------------------------------------------------------ routing

async function route() {
  stopFollowing();
  if (!session.current()) return showSignIn();
  $('sign-in').hidden = true;
  $('nav').hidden = false;
  const [page, id] = location.hash.slice(1).split('/');
  const current = PAGES.includes(page) ? page : 'approvals';
  for (const p of PAGES) $(p).hidden = p !== current;
  for (const link of $('nav').querySelectorAll('a')) {
    if (link.getAttribute('href') === `#${current}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (current === 'approvals') await showApprovals();
  if (current === 'audit') await showAudit();
  if (current === 'rag') await showRag();
  if (current === 'registry') {
    $('artifact-detail').hidden = !id;
    await showRegistry();
    if (id) await showArtifact(decodeURIComponent(id));
  }
  if (current === 'runs') {
    $('run-detail').hidden = !id;
    await showRuns();
    if (id) await followRun(decodeURIComponent(id));
  }
}

$('sign-in-form').addEventListener('submit', signIn);
$('oauth-button').addEventListener('click', signInWithOAuth);
$('sign-out').addEventListener('click', () => {
  session.clear();
  showSignIn('Signed out.');
});
$('approvals-refresh').addEventListener('click', showApprovals);
$('runs-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  showRuns();
});
$('audit-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  loadAudit(false);
});
$('audit-more').addEventListener('click', () => loadAudit(true));
$('rag-form').addEventListener('submit', searchRag);
$('registry-filter').addEventListener('submit', (event) => {
  event.preventDefault();
  showRegistry();
});
window.addEventListener('hashchange', route);
offerOAuth();
if (isAuthorizationResponse()) finishOAuth().then(route);
else route();
