/** The path of TypeScript 7's `tsc` command (scripts/tsc.js). */
export declare const TSC: string;
