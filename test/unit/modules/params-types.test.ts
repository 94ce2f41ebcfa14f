import type { BlockinfileParams } from '../../../src/modules/blockinfile.js';
import type { KmodParams } from '../../../src/modules/kmod.js';
import { kmod } from '../../../src/modules/kmod.js';
import type { SysctlParams } from '../../../src/modules/sysctl.js';

/**
 * Each module's params type is derived from its JSON Schema (ParamsOf): what the schema rejects,
 * the type rejects too. The build (tsc) fails if any line marked @ts-expect-error compiles.
 */
test('the params types follow the schemas', () => {
  const ok: SysctlParams[] = [{ name: 'net.ipv4.ip_forward', value: 1, reload: 'yes' }];
  // @ts-expect-error state is an enum in the schema
  const badState: SysctlParams = { name: 'x', state: 'gone' };
  // @ts-expect-error name is required in the schema
  const noName: KmodParams = { state: 'present' };
  // @ts-expect-error additionalProperties: false
  const unknownKey: KmodParams = { name: 'br_netfilter', persist: 'present' };
  // @ts-expect-error the schema wants one of path, dest or name
  const noPath: BlockinfileParams = { block: 'x' };
  expect([ok, badState, noName, unknownKey, noPath]).toHaveLength(5);
  // The schema the type comes from is the module's own, as ajv gets it.
  expect(kmod.schema.required).toEqual(['name']);
});
