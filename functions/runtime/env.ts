/** Reads a required environment variable, failing the cold start with the variable's name when it is missing. */
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is not set`);
  return value;
}

/** The workflow's own account and Region: keys elsewhere are refused. */
export const scopeFromEnv = () => ({ account: requireEnv('KEYMAT_ACCOUNT_ID'), region: requireEnv('AWS_REGION') });
