// replaced by the lead
export async function handler(): Promise<never> {
  throw new Error('gateway not built yet');
}
