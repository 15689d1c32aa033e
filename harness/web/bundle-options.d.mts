import type { BuildOptions } from 'esbuild';

export declare const WEB_STATIC_FILES: string[];
export declare function webBuildOptions(root: string, version: string): BuildOptions;
