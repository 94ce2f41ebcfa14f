/**
 * What cert, kubeconfig and service_account_key share: the controller's pki/ folder they read
 * (src_dir, or the variable pki_dir), the certificate a task names (name, or its spec's name), and
 * when a certificate is re-issued.
 */
import { InputError } from '../../engine/errors.js';
import type { ModuleContext } from '../../engine/module.js';

export const srcDirParam = {
  type: 'string',
  minLength: 1,
  description: "the cluster's pki/ folder on the controller; default: the variable pki_dir",
  examples: ['{{ furrow_pki_dir }}'],
} as const;

export const renewWithinDaysParam = {
  type: 'integer',
  minimum: 0,
  default: 30,
  description: 're-issue (with spec) when it expires within this many days',
  examples: [60],
} as const;

/** The task's src_dir, else the variable pki_dir; neither is an input error naming the module. */
export function pkiSourceDir(ctx: ModuleContext, module: string, srcDir: string | undefined): string {
  const dir = srcDir ?? (ctx.lookup.has('pki_dir') ? String(ctx.lookup.get('pki_dir')) : undefined);
  if (!dir)
    throw new InputError(
      undefined,
      `${module}: src_dir is not given and the variable pki_dir is not set`,
      'add src_dir: <cluster folder>/pki',
    );
  return dir;
}

/** The certificate under pki/ a task names: its name, else its spec's; both given must agree. */
export function certificateName(
  module: string,
  params: { name?: string | undefined; spec?: { name: string } | undefined },
  what: string,
): string {
  if (params.spec && params.name && params.name !== params.spec.name) {
    throw new InputError(
      undefined,
      `${module}: name '${params.name}' and spec.name '${params.spec.name}' differ`,
      'leave out name when giving a spec',
    );
  }
  const name = params.name ?? params.spec?.name;
  if (!name) throw new InputError(undefined, `${module}: name or spec is required`, `add name: ${what} or spec: {...}`);
  return name;
}
