/*
 * API keys
 * ========
 * Keys look like `ml3_<id>_<secret>`: the id (12 hex digits) finds the row, the secret
 * (256 random bits, base64url) proves possession. Only SHA-256 of the secret is stored;
 * a high-entropy secret needs no slow hash, and the plain key is returned once, at
 * creation. Revoked and expired keys stay listed (for audit) but never authenticate.
 *
 * A verified key's row is kept in memory for a few seconds (VERIFIED_KEY_TTL_MS), so a
 * client's every request does not read the key table. Revoking through this store (the
 * HTTP server, the admin socket) drops it at once; a revocation made by another replica
 * takes effect here within that TTL, and an expiry at its exact time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { sha256Hex } from '../../platform/digest.js';
import { invalidInput, notFound } from '../../errors.js';
import { unknownScopesProblem } from '../../../tools/scopes.js';
import { isoTimestamp, type SqlPort } from '../../platform/sql/sql-port.js';

export const API_KEY_PREFIX = 'ml3_';
const KEY_PATTERN = /^ml3_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

export interface ApiKeyRecord {
  id: string;
  name: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface VerifiedKey {
  id: string;
  name: string;
  scopes: string[];
}

interface Row {
  id: string;
  name: string;
  secret_hash: string;
  scopes: string[];
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
}


function hashSecret(secret: string): string {
  return sha256Hex(secret);
}

function toRecord(row: Row): ApiKeyRecord {
  return { id: row.id, name: row.name, scopes: row.scopes, createdAt: isoTimestamp(row.created_at)!, expiresAt: isoTimestamp(row.expires_at), revokedAt: isoTimestamp(row.revoked_at) };
}

/** How long a verified key is believed without reading its row again. */
export const VERIFIED_KEY_TTL_MS = 5000;

interface VerifiedRow {
  identity: VerifiedKey;
  secretHash: Buffer;
}

export class ApiKeyStore {
  private readonly verified: LRUCache<string, VerifiedRow>;
  private readonly verifiedKeyTtlMs: number;

  constructor(
    private readonly sql: SqlPort,
    options: { verifiedKeyTtlMs?: number } = {},
  ) {
    this.verifiedKeyTtlMs = options.verifiedKeyTtlMs ?? VERIFIED_KEY_TTL_MS;
    this.verified = new LRUCache({ max: 10_000, ttl: this.verifiedKeyTtlMs });
  }

  /** Creates a key and returns it in full: the only time the secret is seen. */
  async create(input: { name: string; scopes: readonly string[]; expiresInSeconds?: number }): Promise<ApiKeyRecord & { key: string }> {
    const name = input.name.trim();
    if (!name || name.length > 100) throw invalidInput('name: give a name of 1-100 characters that says who or what uses the key, e.g. "ci-publisher"');
    if (input.scopes.length === 0) throw invalidInput('scopes: give at least one scope, e.g. "registry:read,registry:write" ("*" grants all)');
    const scopeProblem = unknownScopesProblem(input.scopes);
    if (scopeProblem) throw invalidInput(`scopes: ${scopeProblem}`);
    if (input.expiresInSeconds !== undefined && !(input.expiresInSeconds > 0)) throw invalidInput('expires: give a positive duration like "90d"');

    const id = randomBytes(6).toString('hex');
    const secret = randomBytes(32).toString('base64url');
    const { rows } = await this.sql.query<Row>(
      `insert into api_keys (id, name, secret_hash, scopes, expires_at)
       values ($1, $2, $3, $4, case when $5::integer is null then null else now() + make_interval(secs => $5::integer) end)
       returning *`,
      [id, name, hashSecret(secret), [...new Set(input.scopes)], input.expiresInSeconds ?? null],
    );
    return { ...toRecord(rows[0]!), key: `${API_KEY_PREFIX}${id}_${secret}` };
  }

  async list(): Promise<ApiKeyRecord[]> {
    const { rows } = await this.sql.query<Row>('select * from api_keys order by created_at, id');
    return rows.map(toRecord);
  }

  async revoke(id: string): Promise<ApiKeyRecord> {
    const { rows } = await this.sql.query<Row>('update api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 returning *', [id]);
    this.verified.delete(id);
    if (rows.length === 0) throw notFound(`no API key with id ${JSON.stringify(id)}; \`mcp-level3 apikey list\` shows the ids`);
    return toRecord(rows[0]!);
  }

  /**
   * Whether any key that has not been revoked exists. Expired keys count: a key running out
   * must not turn `api_key.enabled: auto` off and open the server; revoking it does.
   */
  async anyUnrevoked(): Promise<boolean> {
    const { rows } = await this.sql.query<{ found: boolean }>('select exists (select 1 from api_keys where revoked_at is null) as found');
    return rows[0]?.found === true;
  }

  /** The key's identity when it is well-formed, known, unrevoked and unexpired; otherwise undefined. */
  async verify(key: string): Promise<VerifiedKey | undefined> {
    const match = KEY_PATTERN.exec(key);
    if (!match) return undefined;
    const [, id, secret] = match as unknown as [string, string, string];
    const given = Buffer.from(hashSecret(secret), 'hex');
    const known = this.verified.get(id);
    if (known) return timingSafeEqual(known.secretHash, given) ? known.identity : undefined;
    const { rows } = await this.sql.query<Row>(
      'select * from api_keys where id = $1 and revoked_at is null and (expires_at is null or expires_at > now())',
      [id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const expected = Buffer.from(row.secret_hash, 'hex');
    if (!timingSafeEqual(expected, given)) return undefined;
    const identity = { id: row.id, name: row.name, scopes: row.scopes };
    // Kept no longer than the key is valid.
    const ttl = row.expires_at === null ? this.verifiedKeyTtlMs : Math.min(this.verifiedKeyTtlMs, new Date(row.expires_at).getTime() - Date.now());
    if (ttl > 0) this.verified.set(id, { identity, secretHash: expected }, { ttl });
    return identity;
  }
}
