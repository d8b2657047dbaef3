import { echoProtocol } from './protocols/echo/echo.js';
import type { ProtocolHandler } from './registry/plugin.js';
import { type ServerOptions, SwitchyardServer } from './server/server.js';

export interface LabOptions extends ServerOptions {
  /** Extra handlers (plugins) registered after the built-in ones. */
  plugins?: readonly ProtocolHandler<any>[];
}

/** The lab as `switchyard serve` runs it: the server plus the built-in protocols. */
export async function startLab(options: LabOptions = {}): Promise<SwitchyardServer> {
  const { plugins = [], ...serverOptions } = options;
  const protocols: ProtocolHandler<any>[] = [echoProtocol, ...(options.protocols ?? []), ...plugins];
  return SwitchyardServer.start({ ...serverOptions, protocols });
}
