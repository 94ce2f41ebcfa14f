/** A terminal (or, with isTTY false, a pipe) that keeps what was written to it. */
export function screen(isTTY = false, columns = 120): { out: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const write = (s: string): boolean => {
    text += s;
    return true;
  };
  return { out: { isTTY, columns, write } as unknown as NodeJS.WriteStream, text: () => text };
}
