import { withPkiLock } from '../../../src/pki/store.js';

/** The pki/ locks: entries side by side, one entry one at a time, the whole folder alone. */
function gate(): { open: () => void; opened: Promise<void> } {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

const settle = () => new Promise((r) => setImmediate(r));

test('different entries run side by side; the same entry waits for the one before it', async () => {
  const started: string[] = [];
  const [a, b, a2] = [gate(), gate(), gate()];
  const runs = [
    withPkiLock('/pki', async () => {
      started.push('a');
      await a.opened;
    }, ['etcd/server-h1']),
    withPkiLock('/pki', async () => {
      started.push('b');
      await b.opened;
    }, ['etcd/server-h2']),
    withPkiLock('/pki', async () => {
      started.push('a again');
      await a2.opened;
    }, ['etcd/server-h1']),
  ];
  await settle();
  expect(started).toEqual(['a', 'b']);
  a.open();
  await settle();
  expect(started).toEqual(['a', 'b', 'a again']);
  b.open();
  a2.open();
  await Promise.all(runs);
});

test('the whole folder waits for the entries before it, and the entries after it wait for it', async () => {
  const events: string[] = [];
  const [leaf, whole] = [gate(), gate()];
  const runs = [
    withPkiLock('/pki2', async () => {
      events.push('leaf');
      await leaf.opened;
      events.push('leaf done');
    }, ['ca']),
    withPkiLock('/pki2', async () => {
      events.push('whole');
      await whole.opened;
      events.push('whole done');
    }),
    withPkiLock('/pki2', async () => void events.push('later leaf'), ['other']),
  ];
  await settle();
  expect(events).toEqual(['leaf']);
  leaf.open();
  await settle();
  expect(events).toEqual(['leaf', 'leaf done', 'whole']);
  whole.open();
  await Promise.all(runs);
  expect(events).toEqual(['leaf', 'leaf done', 'whole', 'whole done', 'later leaf']);
});

test('a failed operation does not hold the lock', async () => {
  await expect(withPkiLock('/pki3', async () => Promise.reject(new Error('boom')), ['x'])).rejects.toThrow('boom');
  await expect(withPkiLock('/pki3', async () => 'next', ['x'])).resolves.toBe('next');
  await expect(withPkiLock('/pki3', async () => 'whole')).resolves.toBe('whole');
});
