// WGSL files are imported as text (esbuild `text` loader, a vite plugin under vitest).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
