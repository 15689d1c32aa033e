import type { Plugin } from 'esbuild';

export declare const SHADERS_DIR: string;
export declare function assembleWgslSource(source: string, file?: string, seen?: Set<string>): { text: string; files: string[] };
export declare function assembleWgslFile(file: string): { text: string; files: string[] };
export declare function uniformStructWgsl(schema: unknown, file?: string): string;
export declare function wgslPlugin(): Plugin;
