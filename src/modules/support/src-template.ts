/**
 * A module's `src` template from templates/ on the controller (template, k8s): which file the
 * engine checks before any host is touched, and the text rendered with the task's variables.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../engine/errors.js';
import type { ModuleContext } from '../../engine/module.js';

/** templateFiles for a module whose `src` names a template (a templated name is found at run time). */
export const srcTemplateFiles = (params: Record<string, unknown>): string[] =>
  typeof params.src === 'string' && !params.src.includes('{{') ? [params.src] : [];

/** The template `src` found the way Ansible finds it, rendered with the task's variables; its path. */
export async function renderSrcTemplate(
  ctx: ModuleContext,
  module: string,
  src: string,
): Promise<{ text: string; file: string }> {
  const file = ctx.findFile('templates', src);
  let text: string;
  try {
    // Synchronously, as the pki reads its files (pki/store.ts readIfExists): a few KB, read per host.
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new InputError(
      undefined,
      `${module}: src '${src}' could not be read (${file}: ${why})`,
      `put the template in the role's or playbook's templates/ folder`,
    );
  }
  return { text: ctx.render(text, file), file };
}
