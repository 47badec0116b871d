/**
 * Reads a YAML file the way BOSH reads a manifest. The BOSH CLI parses manifests, ops files and
 * vars files with YAML 1.1 rules (go-yaml v2) before the director sees them: `yes`/`no`/`on`/`off`
 * (and `y`/`n`, `True`, `NO` …) are booleans, `102_400` is a number, `0777` is octal, `<<` merges a
 * map. bosun keeps two of YAML 1.1's rules out, as the BOSH CLI does: `6379:6379` is a string (not
 * a base-60 number) and `2024-01-02` is a string (not a date). Duplicate keys are errors.
 *
 * Anything that stops the file from being read (ERB tags left in it, several documents, a syntax
 * error) is an InvalidManifestError with the line and column of each place.
 */
import { LineCounter, parseAllDocuments, Scalar, visit, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';
import { InvalidManifestError, type ManifestProblem } from '../common/errors.js';

export interface YamlFile {
  /** As the user named it (shown next to line numbers of files other than the manifest). */
  fileName: string;
  doc: Document.Parsed;
  lines: LineCounter;
}

/** Tags of the YAML 1.1 schema that the BOSH CLI does not resolve implicitly. */
const NOT_IMPLICIT_IN_BOSH = new Set(['TIME']);

export const BOSH_YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  merge: true,
  uniqueKeys: true,
  prettyErrors: false,
  customTags: (tags) =>
    tags.filter((t) => {
      const tag = typeof t === 'object' && t !== null && 'tag' in t ? t : null;
      if (!tag) return true;
      if (tag.tag === 'tag:yaml.org,2002:timestamp') return false;
      return !(tag.format !== undefined && NOT_IMPLICIT_IN_BOSH.has(tag.format));
    }),
};

/** Aliases expanded while reading one file; more is refused as an alias bomb. */
export const MAX_ALIAS_COUNT = 1000;

/** 1-based line and column of an offset in a text. */
export function positionAt(lines: LineCounter, offset: number): { line: number; column: number } {
  const p = lines.linePos(offset);
  return { line: p.line, column: p.col };
}

function problem(
  fileName: string,
  isManifest: boolean,
  line: number,
  column: number,
  message: string,
): ManifestProblem {
  return {
    severity: 'error',
    path: '',
    line,
    column,
    message,
    ...(isManifest ? {} : { file: fileName }),
  };
}

/** `<% … %>` tags: the file is an ERB template that was never rendered. */
function erbProblems(text: string, fileName: string, isManifest: boolean): ManifestProblem[] {
  const lines = new LineCounter();
  let offset = 0;
  for (const l of text.split('\n')) {
    lines.addNewLine(offset);
    offset += l.length + 1;
  }
  const out: ManifestProblem[] = [];
  for (const m of text.matchAll(/<%[\s\S]*?%>/g)) {
    const tag = m[0].length > 60 ? `${m[0].slice(0, 57)}…` : m[0];
    const pos = positionAt(lines, m.index);
    out.push(
      problem(
        fileName,
        isManifest,
        pos.line,
        pos.column,
        `unresolved ERB tag ${JSON.stringify(tag.replace(/\n/g, ' '))}: this file is an ERB template; render it first (e.g. \`erb ${fileName}\`) or write the value in its place`,
      ),
    );
    if (out.length >= 20) break;
  }
  return out;
}

/**
 * Parses one YAML file into a document with source positions. `isManifest` decides whether the
 * problems name the file (ops and vars files are named, the manifest is the default).
 */
export function readYaml(text: string, fileName: string, isManifest = true): YamlFile {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { ...BOSH_YAML_OPTIONS, lineCounter: lines });
  const all = Array.isArray(docs) ? docs : [];
  const errors = all.flatMap((d) => d.errors);
  const withContent = all.filter((d) => d.contents !== null);
  // An unrendered ERB template: tags that break the YAML or stand as plain values (ERB inside a
  // quoted or block value, e.g. a Dockerfile, is text and stays).
  let erbInPlain = false;
  for (const d of withContent)
    visit(d, {
      Scalar(_k, n) {
        if (n.type === Scalar.PLAIN && typeof n.value === 'string' && /<%[\s\S]*?%>/.test(n.value)) erbInPlain = true;
      },
    });
  if (erbInPlain || errors.length > 0 || withContent.length > 1) {
    const erb = erbProblems(text, fileName, isManifest);
    if (erb.length > 0) throw new InvalidManifestError(erb, { fileName });
  }
  if (errors.length > 0) {
    throw new InvalidManifestError(
      errors.map((e) => {
        const pos = positionAt(lines, e.pos[0]);
        const first = e.message.split('\n')[0] ?? e.message;
        return { ...problem(fileName, isManifest, pos.line, pos.column, `${first} (the file is not valid YAML)`), path: 'yaml' };
      }),
      { fileName },
    );
  }
  if (withContent.length > 1) {
    const second = withContent[1];
    const pos = positionAt(lines, second?.contents?.range?.[0] ?? second?.range[0] ?? 0);
    throw new InvalidManifestError(
      [
        problem(
          fileName,
          isManifest,
          pos.line,
          pos.column,
          `this file holds ${withContent.length} YAML documents (a second one starts here, after a "---" line); a ${isManifest ? 'manifest' : 'file given to bosun'} is one document: remove the extra "---" or put each document in a file of its own`,
        ),
      ],
      { fileName },
    );
  }
  const doc = withContent[0] ?? all[0];
  if (!doc) {
    throw new InvalidManifestError([problem(fileName, isManifest, 1, 1, 'the file is empty')], { fileName });
  }
  return { fileName, doc, lines };
}
