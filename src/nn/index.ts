// Modules, initializers and arenas.
export * from './module.js';
export * from './layers.js';
export * from './init.js';
export * from './arena.js';
export * from './conv-layers.js';
