import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../../../src/engine/errors.js';
import { connectionSpecFromVars, parseHop, type SpecDefaults } from '../../../src/engine/connections/spec.js';
import { clearSshConfigCache, lookupSshConfig } from '../../../src/engine/connections/ssh-config.js';
import type { ConnectionSpec } from '../../../src/engine/connections/types.js';

let dir: string;
let keys: string;
let config: string;
const savedAgent = process.env.SSH_AUTH_SOCK;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'furrow-spec-'));
  keys = join(dir, 'keys');
  mkdirSync(keys);
  writeFileSync(join(keys, 'id_lab'), 'not really a key');
  config = join(dir, 'ssh_config');
  writeFileSync(
    config,
    `
# fixture: what an operator's ~/.ssh/config looks like
Host bastion
  HostName 192.0.2.1
  User jumper
  Port 2200

Host web*
  HostName %h.lab.example
  User deploy
  Port 2222
  IdentityFile ~/.ssh/furrow-test-missing-key
  IdentityFile ${keys}/id_lab
  ProxyJump bastion

Host db1
  HostName 10.0.0.9
  ProxyJump ops@192.0.2.7:2022,bastion

Host direct
  ProxyJump none

Host loop1
  ProxyJump loop2
Host loop2
  ProxyJump loop1

Match exec "touch ${join(dir, 'exec-ran')}"
  User matched

Host *
  User fallback
`,
  );
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (savedAgent === undefined) delete process.env.SSH_AUTH_SOCK;
  else process.env.SSH_AUTH_SOCK = savedAgent;
});

beforeEach(() => {
  delete process.env.SSH_AUTH_SOCK;
  clearSshConfigCache();
});

const base = (extra: Partial<SpecDefaults> = {}): SpecDefaults => ({
  knownHostsFile: '/kh/known_hosts',
  strictHostKeys: false,
  sshConfigFile: false,
  ...extra,
});

describe('connectionSpecFromVars: inventory variables', () => {
  it("takes -u, -b, -k and -K as defaults below the inventory's own, as Ansible does", () => {
    const flags = base({ user: 'alice', become: true, password: 'ssh-pw', becomePassword: 'sudo-pw' });
    expect(connectionSpecFromVars('10.1.1.1', {}, flags)).toMatchObject({
      user: 'alice',
      become: true,
      password: 'ssh-pw',
      becomePassword: 'sudo-pw',
    });
    expect(
      connectionSpecFromVars(
        '10.1.1.1',
        { ansible_user: 'ops', ansible_become: false, ansible_password: 'inv-pw', ansible_become_password: 'inv-sudo' },
        flags,
      ),
    ).toMatchObject({
      user: 'ops',
      become: false,
      password: 'inv-pw',
      becomePassword: 'inv-sudo',
    });
    // A jump hop is another host: the target's -u and passwords are not its.
    const hop = connectionSpecFromVars('10.1.1.1', { furrow_jump: 'bastion' }, flags).jump!;
    expect([hop.user, hop.password, hop.becomePassword]).toEqual([userInfo().username, undefined, undefined]);
  });

  it('applies the defaults: current user, port 22, 10 s timeout, 15 s keepalive, no become', () => {
    const spec = connectionSpecFromVars('10.1.1.1', {}, base());
    expect(spec).toEqual({
      name: '10.1.1.1',
      transport: 'ssh',
      address: '10.1.1.1',
      port: 22,
      user: userInfo().username,
      connectTimeoutMs: 10_000,
      keepaliveMs: 15_000,
      become: false,
      becomeUser: 'root',
      knownHostsFile: '/kh/known_hosts',
      strictHostKeys: false,
    });
  });

  it('reads Ansible names, as strings from INI or typed from YAML', () => {
    const spec = connectionSpecFromVars(
      'node1',
      {
        ansible_host: '10.0.0.5',
        ansible_port: '2222',
        ansible_user: 'ops',
        ansible_ssh_private_key_file: 'keys/id_ed25519',
        ansible_ssh_pass: 'pw',
        ansible_become: 'yes',
        ansible_become_user: 'etcd',
        ansible_become_pass: 'bpw',
      },
      base({ baseDir: '/inv/prod' }),
    );
    expect(spec).toMatchObject({
      address: '10.0.0.5',
      port: 2222,
      user: 'ops',
      privateKeyFile: '/inv/prod/keys/id_ed25519',
      password: 'pw',
      become: true,
      becomeUser: 'etcd',
      becomePassword: 'bpw',
    });
    expect(
      connectionSpecFromVars('n', { ansible_port: 2200, ansible_become: true, ansible_password: 123 }, base()),
    ).toMatchObject({
      port: 2200,
      become: true,
      password: '123',
    });
  });

  it('lets furrow_* names win over Ansible names', () => {
    const spec = connectionSpecFromVars(
      'n',
      {
        ansible_host: 'a',
        furrow_host: 'f',
        ansible_user: 'a',
        furrow_user: 'f',
        furrow_port: 2022,
        furrow_become: 'false',
        ansible_become: 'true',
        furrow_connect_timeout: '3',
        furrow_passphrase: 'pp',
        furrow_private_key_file: '~/.ssh/id_lab',
        furrow_known_hosts_file: 'kh',
      },
      base({ baseDir: '/inv' }),
    );
    expect(spec).toMatchObject({
      address: 'f',
      user: 'f',
      port: 2022,
      become: false,
      connectTimeoutMs: 3000,
      passphrase: 'pp',
      privateKeyFile: join(homedir(), '.ssh', 'id_lab'),
      knownHostsFile: '/inv/kh',
    });
  });

  it('takes the become default from the caller', () => {
    expect(connectionSpecFromVars('n', {}, base({ become: true })).become).toBe(true);
    expect(connectionSpecFromVars('n', { ansible_become: 'no' }, base({ become: true })).become).toBe(false);
  });

  it('uses the local transport for ansible_connection=local and for localhost without ansible_host', () => {
    expect(connectionSpecFromVars('ctl', { ansible_connection: 'local' }, base()).transport).toBe('local');
    expect(connectionSpecFromVars('localhost', {}, base()).transport).toBe('local');
    expect(connectionSpecFromVars('127.0.0.1', {}, base()).transport).toBe('local');
    expect(connectionSpecFromVars('localhost', { ansible_host: '10.0.0.1' }, base()).transport).toBe('ssh');
    expect(connectionSpecFromVars('localhost', { ansible_connection: 'ssh' }, base()).transport).toBe('ssh');
  });

  it('offers the ssh-agent only when no key or password is given', () => {
    process.env.SSH_AUTH_SOCK = '/run/agent.sock';
    expect(connectionSpecFromVars('n', {}, base()).agent).toBe('/run/agent.sock');
    expect(connectionSpecFromVars('n', { ansible_password: 'x' }, base()).agent).toBeUndefined();
    expect(connectionSpecFromVars('n', { ansible_ssh_private_key_file: '/k' }, base()).agent).toBeUndefined();
  });

  it('rejects bad values with an InputError naming the host and the variable', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ ansible_port: 'ssh' }, /host n: ansible_port must be a number/],
      [{ ansible_port: 70000 }, /ansible_port must be a port number/],
      [{ ansible_become: 'maybe' }, /ansible_become must be true or false/],
      [{ ansible_connection: 'winrm' }, /connection type 'winrm' is not supported/],
      [{ ansible_become_method: 'su' }, /ansible_become_method 'su' is not supported/],
      [{ ansible_user: ['a'] }, /ansible_user must be a string/],
      [{ furrow_connect_timeout: 0 }, /furrow_connect_timeout must be a positive/],
      [{ furrow_jump: 'a b' }, /jump host 'a b' is not/],
    ];
    for (const [vars, message] of bad) {
      const run = (): ConnectionSpec =>
        connectionSpecFromVars('n', vars, base({ source: { file: 'inventory/hosts' } }));
      expect(run).toThrow(InputError);
      expect(run).toThrow(message);
      expect(run).toThrow(/^inventory\/hosts: /);
    }
  });
});

describe('jump hosts', () => {
  it('parses [user@]host[:port] hops', () => {
    expect(parseHop('bastion')).toEqual({ host: 'bastion' });
    expect(parseHop('ops@10.0.0.1:2022')).toEqual({ user: 'ops', host: '10.0.0.1', port: 2022 });
    expect(parseHop('ssh://u@h')).toEqual({ user: 'u', host: 'h' });
    expect(parseHop('[fd00::1]:22')).toEqual({ host: 'fd00::1', port: 22 });
    expect(parseHop('h:0')).toBeUndefined();
  });

  it('uses another inventory host by name, with its own settings and without become', () => {
    const bastion = connectionSpecFromVars(
      'bastion',
      { ansible_host: '192.0.2.10', ansible_user: 'jump', ansible_become: true },
      base(),
    );
    const resolveHost = (name: string): ConnectionSpec | undefined => (name === 'bastion' ? bastion : undefined);
    const spec = connectionSpecFromVars('node1', { furrow_jump: 'bastion' }, base({ resolveHost }));
    expect(spec.jump).toEqual({ ...bastion, become: false });
  });

  it('builds user@host:port jumps with the same known_hosts and timeouts', () => {
    const spec = connectionSpecFromVars(
      'node1',
      { furrow_jump: 'ops@192.0.2.7:2022', furrow_connect_timeout: 4 },
      base(),
    );
    expect(spec.jump).toMatchObject({
      name: '192.0.2.7',
      transport: 'ssh',
      address: '192.0.2.7',
      user: 'ops',
      port: 2022,
      knownHostsFile: '/kh/known_hosts',
      become: false,
    });
  });
});

describe('~/.ssh/config', () => {
  it('reads HostName (with %h), User, Port, IdentityFile (~, first existing) and ProxyJump', () => {
    const entry = lookupSshConfig(config, 'web1');
    expect(entry).toEqual({
      hostName: 'web1.lab.example',
      user: 'deploy',
      port: 2222,
      identityFiles: [join(homedir(), '.ssh', 'furrow-test-missing-key'), join(keys, 'id_lab')],
      proxyJump: 'bastion',
    });
    expect(lookupSshConfig(config, 'direct').proxyJump).toBeUndefined();
  });

  it('never runs Match exec', () => {
    expect(lookupSshConfig(config, 'web1').user).toBe('deploy');
    expect(lookupSshConfig(config, 'other').user).toBe('fallback');
    expect(() => lookupSshConfig(config, 'x')).not.toThrow();
    expect(existsSync(join(dir, 'exec-ran'))).toBe(false);
  });

  it('is honoured under the inventory: the inventory wins where both speak', () => {
    const fromConfig = connectionSpecFromVars('web1', {}, base({ sshConfigFile: config }));
    expect(fromConfig).toMatchObject({
      address: 'web1.lab.example',
      user: 'deploy',
      port: 2222,
      privateKeyFile: join(keys, 'id_lab'),
    });
    expect(fromConfig.jump).toMatchObject({
      name: 'bastion',
      address: '192.0.2.1',
      user: 'jumper',
      port: 2200,
      become: false,
    });

    const overridden = connectionSpecFromVars(
      'web1',
      { ansible_user: 'root', ansible_port: 22, ansible_ssh_private_key_file: '/keys/k' },
      base({ sshConfigFile: config }),
    );
    expect(overridden).toMatchObject({
      address: 'web1.lab.example',
      user: 'root',
      port: 22,
      privateKeyFile: '/keys/k',
    });
  });

  it('looks up ansible_host when given (that is the name ssh would get)', () => {
    const spec = connectionSpecFromVars('k8s-node-1', { ansible_host: 'web7' }, base({ sshConfigFile: config }));
    expect(spec).toMatchObject({ address: 'web7', user: 'deploy', port: 2222 });
  });

  it('offers the agent as well when the key comes from the ssh config (it may be encrypted)', () => {
    process.env.SSH_AUTH_SOCK = '/run/agent.sock';
    expect(connectionSpecFromVars('web1', {}, base({ sshConfigFile: config })).agent).toBe('/run/agent.sock');
  });

  it('follows ProxyJump chains in order: db1 is reached via bastion via ops@192.0.2.7:2022', () => {
    const spec = connectionSpecFromVars('db1', {}, base({ sshConfigFile: config }));
    expect(spec.address).toBe('10.0.0.9');
    expect(spec.jump).toMatchObject({ name: 'bastion', address: '192.0.2.1' });
    expect(spec.jump?.jump).toMatchObject({ address: '192.0.2.7', user: 'ops', port: 2022 });
    expect(spec.jump?.jump?.jump).toBeUndefined();
  });

  it('lets furrow_jump replace the config ProxyJump', () => {
    const spec = connectionSpecFromVars('web1', { furrow_jump: 'other@192.0.2.99' }, base({ sshConfigFile: config }));
    expect(spec.jump).toMatchObject({ address: '192.0.2.99', user: 'other' });
  });

  it('stops ProxyJump loops with an InputError', () => {
    expect(() => connectionSpecFromVars('loop1', {}, base({ sshConfigFile: config }))).toThrow(/nest more than 8 deep/);
  });

  it('reports an unreadable config file as input', () => {
    expect(() => connectionSpecFromVars('n', {}, base({ sshConfigFile: join(dir, 'nope') }))).toThrow(InputError);
  });
});
