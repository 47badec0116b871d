export async function runDirector(_flags: { dataDir: string; listen?: string; configFile?: string }, _env: Record<string, string | undefined>): Promise<void> {
  throw new Error('not wired yet');
}
