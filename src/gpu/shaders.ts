// Registry of the WGSL sources in shaders/, imported as text at build time.
import activation from '../../shaders/activation.wgsl';
import batchnorm from '../../shaders/batchnorm.wgsl';
import broadcast from '../../shaders/broadcast.wgsl';
import conv2d from '../../shaders/conv2d.wgsl';
import conv2d_pack from '../../shaders/conv2d_pack.wgsl';
import conv2d_texture from '../../shaders/conv2d_texture.wgsl';
import conv2d_wgrad from '../../shaders/conv2d_wgrad.wgsl';
import elementwise from '../../shaders/elementwise.wgsl';
import loss from '../../shaders/loss.wgsl';
import matmul from '../../shaders/matmul.wgsl';
import matmul_pack from '../../shaders/matmul_pack.wgsl';
import matmul_register from '../../shaders/matmul_register.wgsl';
import matmul_small from '../../shaders/matmul_small.wgsl';
import matmul_splitk from '../../shaders/matmul_splitk.wgsl';
import matmul_texture from '../../shaders/matmul_texture.wgsl';
import optim from '../../shaders/optim.wgsl';
import pool from '../../shaders/pool.wgsl';
import reduce from '../../shaders/reduce.wgsl';
import rng from '../../shaders/rng.wgsl';
import select from '../../shaders/select.wgsl';

const SOURCES: Record<string, string> = {
  activation,
  batchnorm,
  broadcast,
  conv2d,
  conv2d_pack,
  conv2d_texture,
  conv2d_wgrad,
  elementwise,
  loss,
  matmul,
  matmul_pack,
  matmul_register,
  matmul_small,
  matmul_splitk,
  matmul_texture,
  optim,
  pool,
  reduce,
  rng,
  select,
};

/** Register more kernel families (e.g. from other modules) without touching this table. */
export function registerShader(name: string, source: string): void {
  SOURCES[name] = source;
}

export function shaderSource(name: string): string {
  const src = SOURCES[name];
  if (src === undefined) throw new Error(`No shader named '${name}' (known: ${Object.keys(SOURCES).join(', ')})`);
  return src;
}

export function shaderNames(): string[] {
  return Object.keys(SOURCES);
}
