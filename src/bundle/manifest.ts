import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { Ajv } from 'ajv';
import { InputError, type SourcePlace } from '../engine/errors.js';
import { packagePath } from '../package-root.js';
import { InputErrors } from '../engine/playbook/problems.js';
import { ajvErrorsToInput } from '../engine/playbook/schema.js';
import { YamlSource, type YamlPath } from '../engine/playbook/yaml-source.js';
import type { RegistryConfig } from './registry/index.js';

/**
 * A bundle manifest: the binaries, images and OS packages one offline bundle carries. It is YAML,
 * checked against schemas/bundle-manifest.schema.json; every error names file:line:column. URLs,
 * file names and image references may use {{version}}, {{arch}} and {{versions.NAME}}, so the
 * versions live in one place (the manifest's `versions:`).
 */

const SCHEMA_FILE = packagePath('schemas', 'bundle-manifest.schema.json');

export type Arch = string;

/** One binary download for one architecture, with its templates filled in. */
export interface BinaryItem {
  name: string;
  version: string;
  arch: Arch;
  url: string;
  /** The download's published digest: sha256 (most projects) or sha512 (Kubernetes' release tarballs). */
  checksum: Checksum;
  /**
   * Files taken out of the archive: path inside it, and the name under bin/<arch>/. Undefined: the download is the
   * file.
   */
  files?: { from: string; to: string }[];
  hosts: string;
  /** Where it is written in the manifest (for errors). */
  place: SourcePlace;
}

export interface Checksum {
  algorithm: 'sha256' | 'sha512';
  hex: string;
}

export interface ImageItem {
  ref: string;
  arches: Arch[];
  /** Taken from this OCI image layout (a path or file:// URL) instead of the image's registry. */
  layout?: string;
  place: SourcePlace;
}

export interface Manifest {
  file: string;
  name: string;
  arches: Arch[];
  binaries: BinaryItem[];
  images: ImageItem[];
  packages: { family: 'debian' | 'redhat'; names: string[] }[];
  registries: RegistryConfig;
}

interface RawBinary {
  name: string;
  version?: string | number;
  url: string;
  sha256?: string | Record<string, string>;
  sha512?: string | Record<string, string>;
  arch?: string[];
  files?: (string | { from: string; to?: string })[];
  hosts?: string;
}

interface RawManifest {
  name?: string;
  arch?: string[];
  versions?: Record<string, string | number>;
  registries?: Record<
    string,
    { mirrors?: string[]; insecure?: boolean; auth?: { username: string; password?: string; password_env?: string } }
  >;
  binaries?: RawBinary[];
  images?: (string | { ref: string; arch?: string[]; layout?: string })[];
  packages?: { debian?: string[]; redhat?: string[] };
}

let validator: ReturnType<Ajv['compile']> | undefined;

function validate(source: YamlSource): InputError[] {
  validator ??= new Ajv({ allErrors: true, allowUnionTypes: true, verbose: true }).compile(
    JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')),
  );
  if (validator(source.data)) return [];
  return ajvErrorsToInput(validator.errors ?? [], source, []);
}

/**
 * Reads and checks a manifest and fills in its templates for `arches` (the manifest's own `arch:`
 * when not given). Throws InputErrors (exit 2) listing every problem with its place.
 */
export async function loadManifest(
  file: string,
  arches?: Arch[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Manifest> {
  const { source, errors } = await YamlSource.read(file);
  if (!source) throw new InputErrors(errors, 0, 'the bundle manifest');
  if (source.data === null || typeof source.data !== 'object' || Array.isArray(source.data)) {
    throw new InputError({ file, line: 1 }, 'a bundle manifest must be a mapping (binaries:, images:, packages:)');
  }
  const schemaErrors = validate(source);
  if (schemaErrors.length)
    throw new InputErrors(schemaErrors.slice(0, 20), Math.max(0, schemaErrors.length - 20), 'the bundle manifest');
  return resolveManifest(source, arches, env);
}

function resolveManifest(source: YamlSource, archArg: Arch[] | undefined, env: NodeJS.ProcessEnv): Manifest {
  const raw = source.data as RawManifest;
  const problems: InputError[] = [];
  const at = (path: YamlPath) => source.place(path);
  const versions = Object.fromEntries(Object.entries(raw.versions ?? {}).map(([k, v]) => [k, String(v)]));
  const fill = (text: string, path: YamlPath, data: Record<string, unknown>): string => {
    try {
      return Handlebars.compile(text, { strict: true, noEscape: true })({ versions, ...data });
    } catch (err) {
      problems.push(
        new InputError(
          at(path),
          `cannot fill in ${JSON.stringify(text)}: ${(err as Error).message.split('\n')[0]}`,
          'use {{version}}, {{arch}} or {{versions.NAME}} with NAME under versions:',
        ),
      );
      return text;
    }
  };

  const arches = archArg?.length ? archArg : (raw.arch ?? ['amd64']);
  const binaries: BinaryItem[] = [];
  const seenFiles = new Map<string, string>();
  (raw.binaries ?? []).forEach((b, i) => {
    const base: YamlPath = ['binaries', i];
    const version = b.version !== undefined ? fill(String(b.version), [...base, 'version'], {}) : versions[b.name];
    if (version === undefined) {
      problems.push(
        new InputError(
          at(base),
          `binary '${b.name}' has no version`,
          `add version: to it, or ${b.name}: under versions:`,
        ),
      );
      return;
    }
    for (const arch of arches) {
      if (b.arch && !b.arch.includes(arch)) continue;
      const algorithm = b.sha512 !== undefined ? 'sha512' : 'sha256';
      const given = b[algorithm]!;
      const hex = typeof given === 'string' ? given : given[arch];
      if (!hex) {
        problems.push(
          new InputError(
            at([...base, algorithm]),
            `binary '${b.name}' has no ${algorithm} for ${arch}`,
            `add ${arch}: <${algorithm} of the ${arch} download>, or leave ${arch} out with --arch`,
          ),
        );
        continue;
      }
      const checksum: Checksum = { algorithm, hex };
      const data = { version, arch };
      const files = b.files?.map((f, j) => {
        const from = fill(typeof f === 'string' ? f : f.from, [...base, 'files', j], data);
        const to = typeof f === 'string' || !f.to ? from.split('/').pop()! : f.to;
        return { from, to };
      });
      for (const name of files?.map((f) => f.to) ?? [b.name]) {
        const other = seenFiles.get(`${arch}/${name}`);
        if (other)
          problems.push(
            new InputError(
              at(base),
              `bin/${arch}/${name} would come from two binaries ('${other}' and '${b.name}')`,
              'give one of the files another name with to:',
            ),
          );
        seenFiles.set(`${arch}/${name}`, b.name);
      }
      binaries.push({
        name: b.name,
        version,
        arch,
        url: fill(b.url, [...base, 'url'], data),
        checksum,
        ...(files ? { files } : {}),
        hosts: b.hosts ?? 'all',
        place: at(base),
      });
    }
  });

  const images: ImageItem[] = (raw.images ?? []).map((entry, i) => {
    const path: YamlPath = typeof entry === 'string' ? ['images', i] : ['images', i, 'ref'];
    const ref = fill(typeof entry === 'string' ? entry : entry.ref, path, {});
    const own = typeof entry === 'string' ? undefined : entry.arch;
    const layout = typeof entry === 'string' ? undefined : entry.layout;
    return { ref, arches: own ?? arches, ...(layout ? { layout } : {}), place: at(path) };
  });

  const registries: RegistryConfig = {};
  for (const [host, r] of Object.entries(raw.registries ?? {})) {
    let auth: { username: string; password: string } | undefined;
    if (r.auth) {
      const password = r.auth.password ?? (r.auth.password_env ? env[r.auth.password_env] : undefined);
      if (password === undefined) {
        const fix = r.auth.password_env
          ? `set the environment variable ${r.auth.password_env}`
          : 'add password_env: NAME (an environment variable that holds it)';
        problems.push(new InputError(at(['registries', host, 'auth']), `registry ${host}: no password`, fix));
      } else auth = { username: r.auth.username, password };
    }
    registries[host] = {
      ...(r.mirrors ? { mirrors: r.mirrors } : {}),
      ...(r.insecure !== undefined ? { insecure: r.insecure } : {}),
      ...(auth ? { auth } : {}),
    };
  }

  const packages = (['debian', 'redhat'] as const)
    .filter((f) => raw.packages?.[f]?.length)
    .map((family) => ({ family, names: raw.packages![family]! }));
  if (packages.some((p) => p.family === 'redhat')) {
    problems.push(
      new InputError(
        at(['packages', 'redhat']),
        'RPM packages are not built yet (only debian)',
        'leave packages.redhat out for now',
      ),
    );
  }

  if (problems.length)
    throw new InputErrors(problems.slice(0, 20), Math.max(0, problems.length - 20), 'the bundle manifest');
  return { file: source.file, name: raw.name ?? 'furrow-bundle', arches, binaries, images, packages, registries };
}
