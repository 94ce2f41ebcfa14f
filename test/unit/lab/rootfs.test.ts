import { ROOTFS_RECIPE, rootfsDir, rootfsHash, rootfsRecipe } from '../../../src/lab/rootfs.js';

describe('lab root filesystem recipe', () => {
  test('without extra packages the recipe and its cache key are exactly the default ones', () => {
    expect(rootfsRecipe()).toBe(ROOTFS_RECIPE);
    expect(rootfsRecipe([])).toBe(ROOTFS_RECIPE);
    // The hash the default tree has been cached under: changing it would rebuild every machine's lab.
    expect(rootfsHash(rootfsRecipe())).toBe('10b2a32cfe7ee4f0');
    expect(rootfsDir(rootfsRecipe())).toBe(rootfsDir());
  });

  test('extra packages join the recipe, so they get a tree of their own', () => {
    const withPython = rootfsRecipe(['python3']);
    expect(withPython.packages).toEqual([...ROOTFS_RECIPE.packages, 'python3']);
    expect(withPython.hooks).toEqual(ROOTFS_RECIPE.hooks);
    expect(rootfsHash(withPython)).not.toBe(rootfsHash(ROOTFS_RECIPE));
    expect(rootfsDir(withPython)).not.toBe(rootfsDir());
    expect(ROOTFS_RECIPE.packages).not.toContain('python3');
  });

  test('order and repeats do not matter; packages already in the default add nothing', () => {
    expect(rootfsHash(rootfsRecipe(['tree', 'python3', 'python3']))).toBe(
      rootfsHash(rootfsRecipe(['python3', 'tree'])),
    );
    expect(rootfsRecipe(['sudo', 'kmod'])).toBe(ROOTFS_RECIPE);
  });

  test('a name that is not a Debian package name is an input error', () => {
    expect(() => rootfsRecipe(['python3', '--foo'])).toThrow(/'--foo' is not a Debian package name/);
    expect(() => rootfsRecipe(['a b'])).toThrow(/'a b' is not a Debian package name/);
  });
});
