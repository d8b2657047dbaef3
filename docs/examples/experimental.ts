// docs/examples/experimental.ts — the experimental protocols (docs/protocols.md), configured from code.
import { readFile } from 'node:fs/promises';
import { startLab, type SwitchyardServer, type TunnelTarget } from 'switchyard';

export async function startFullLab(redis: TunnelTarget, certFile: string, keyFile: string): Promise<SwitchyardServer> {
  return startLab({
    port: 0,
    experimental: {
      tunnels: { redis },                                            // Upgrade: tcp on /tunnel/redis only
      tunnel: { connectTimeoutMs: 5_000, idleTimeoutMs: 600_000 },
      tls: { cert: await readFile(certFile), key: await readFile(keyFile) },   // TLS/1.0 (RFC 2817)
      labChat: { maxLineBytes: 4096, lineTimeoutMs: 60_000 },        // or false to leave lab-chat/1 out
    },
  });
}
