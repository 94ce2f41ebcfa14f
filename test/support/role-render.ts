import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { VarScope } from '../../src/engine/vars.js';

/** The host a template is rendered for: its name, the groups, and the other hosts' inventory vars. */
export interface RenderHost {
  name: string;
  groups: Record<string, string[]>;
  hostvars?: Record<string, Record<string, unknown>>;
}

/**
 * Renders a role's template as a deploy would for one host, without a host: the role's defaults,
 * then the given settings (config.yml and inventory), then the magic variables. For tests that
 * check what the templates produce (flags by Kubernetes version) without a lab.
 */
export function renderRoleTemplate(
  role: string,
  template: string,
  settings: Record<string, unknown>,
  host: RenderHost,
): string {
  const file = path.resolve('roles', role, 'templates', template);
  return renderRoleText(role, readFileSync(file, 'utf8'), file, settings, host);
}

/** Renders text (a template's, or a task's string) with the role's defaults, as renderRoleTemplate does. */
export function renderRoleText(
  role: string,
  text: string,
  file: string,
  settings: Record<string, unknown>,
  host: RenderHost,
): string {
  const roleDir = path.resolve('roles', role);
  const defaults = YAML.parse(readFileSync(path.join(roleDir, 'defaults/main.yml'), 'utf8')) as Record<string, unknown>;
  const scope = new VarScope([
    { level: 'role_defaults', vars: defaults, source: path.join(roleDir, 'defaults/main.yml') },
    { level: 'inventory', vars: settings },
    { level: 'extra', vars: { inventory_hostname: host.name, groups: host.groups, hostvars: host.hostvars ?? {} } },
  ]);
  return scope.render(text, { file });
}

/** The flags of the ExecStart command line of a systemd unit: name (without --) and value. */
export function execStartFlags(unit: string): Array<{ name: string; value: string | undefined }> {
  const start = unit.indexOf('\nExecStart=');
  if (start < 0) throw new Error('the unit has no ExecStart line');
  const lines: string[] = [];
  for (const line of unit.slice(start + 1).split('\n')) {
    lines.push(line.replace(/\\$/, ''));
    if (!line.endsWith('\\')) break;
  }
  return lines
    .join(' ')
    .split(/\s+/)
    .filter((word) => word.startsWith('--'))
    .map((word) => {
      const eq = word.indexOf('=');
      return eq < 0
        ? { name: word.slice(2), value: undefined }
        : { name: word.slice(2, eq), value: word.slice(eq + 1) };
    });
}
