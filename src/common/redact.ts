/**
 * The one place that decides what a secret looks like and hides it: the deploy diff, task events
 * and errors, audit events, log lines and the stored manifest all go through these functions.
 *
 * - A *name* is secret when it contains PASSWORD, SECRET, TOKEN, KEY or CREDENTIAL (any case):
 *   `DB_PASSWORD`, `api_key`, `GITHUB_TOKEN`. Key material and auth headers (`keyPem`,
 *   `privateKey`, `authorization`) count too.
 * - In objects, the value of a secret-named key is replaced at any depth; in text, `NAME=value`,
 *   `NAME: value` and `"NAME": "value"` with a secret NAME keep the name and lose the value.
 */
import { isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';

export const REDACTED = '<redacted>';

const SECRET_NAME = /PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL/i;
/** Keys of objects (not env names) that carry secrets: PEM key material, auth headers. */
const SECRET_FIELD = /pem$|private|authorization|passwd/i;
const MAX_DEPTH = 32;

/** Whether an environment variable (or object key) of this name holds a secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

function isSecretKey(key: string): boolean {
  return SECRET_NAME.test(key) || SECRET_FIELD.test(key);
}

// NAME=value (env, shell, docker -e); the value runs to whitespace, or is quoted.
const ASSIGNMENT = /\b([A-Za-z_][A-Za-z0-9_.-]*)=("[^"]*"|'[^']*'|[^\s"',;&|)]+)/g;
// "NAME": "value" (JSON)
const JSON_PAIR = /"([A-Za-z_][A-Za-z0-9_.-]*)"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g;
// NAME: value (YAML, headers)
const COLON_PAIR = /(^|[\s{,])([A-Za-z_][A-Za-z0-9_.-]*)(:[ \t]+)(?!<redacted>|Bearer |Basic )("[^"\n]*"|'[^'\n]*'|[^\s,}\n]+)/gm;
const BEARER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** Text with the values of secret-named assignments replaced: `DB_PASSWORD=<redacted>`. */
export function redactText(text: string): string {
  if (text.length === 0) return text;
  return text
    .replace(BEARER, (_all, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(ASSIGNMENT, (all, name: string) => (isSecretName(name) ? `${name}=${REDACTED}` : all))
    .replace(JSON_PAIR, (all, name: string, colon: string) => (isSecretKey(name) ? `"${name}"${colon}"${REDACTED}"` : all))
    .replace(COLON_PAIR, (all, lead: string, name: string, colon: string) => (isSecretKey(name) ? `${lead}${name}${colon}${REDACTED}` : all));
}

/**
 * A copy of `value` with secrets replaced at any depth: values of secret-named keys, and secret
 * assignments inside strings. Errors become `{name, message}` with the message redacted.
 */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) return { name: value.name, message: redactText(value.message) };
  if (value instanceof Date) return value;
  if (Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null && v !== '' ? REDACTED : redactValue(v, depth + 1);
  }
  return out;
}

/**
 * A manifest (YAML text) with every secret-named scalar replaced, wherever it is (`env`,
 * `env_vars`, release-compat `properties`), and `NAME=value` list items redacted. Comments and
 * layout stay; text that is not YAML is redacted as plain text.
 */
export function redactManifestText(text: string): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) return redactText(text);
  visit(doc, {
    Pair(_key, pair) {
      if (!isPair(pair) || !isScalar(pair.key)) return;
      const name = String(pair.key.value);
      if (isSecretKey(name) && isScalar(pair.value) && pair.value.value !== null && pair.value.value !== '') {
        pair.value.value = REDACTED;
      } else if (isScalar(pair.value) && typeof pair.value.value === 'string') {
        pair.value.value = redactText(pair.value.value);
      }
    },
    Scalar(_key, node) {
      if (typeof node.value === 'string') node.value = redactText(node.value);
    },
  });
  // A map or list nested under a secret-named key (e.g. `credentials: {user: a, pass: b}`).
  visit(doc, {
    Pair(_key, pair) {
      if (!isPair(pair) || !isScalar(pair.key) || !isSecretKey(String(pair.key.value))) return;
      if (!isMap(pair.value) && !isSeq(pair.value)) return;
      visit(pair.value, {
        Pair(_k, inner) {
          if (isScalar(inner.value) && inner.value.value !== null) inner.value.value = REDACTED;
        },
        Seq(_k, seq) {
          for (const item of seq.items) if (isScalar(item) && item.value !== null) item.value = REDACTED;
        },
      });
    },
  });
  return doc.toString();
}
