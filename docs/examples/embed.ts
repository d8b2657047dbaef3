// docs/examples/embed.ts — the library API: protocols registered at start, added and removed at runtime.
import { startLab, type SwitchyardServer } from 'switchyard';
import createKnock from './knock.js';
import shout from './shout.js';

export async function startMyLab(port = 0): Promise<SwitchyardServer> {
  const lab = await startLab({ port, plugins: [shout] });                 // registered at start
  lab.registry.register(createKnock({ secret: 'open-sesame' }));          // ...or while it runs
  return lab;
}

// Later, while it runs:
//   await lab.registry.unregister('knock');   knock's close() runs; new requests for it get plain HTTP,
//                                             connections it already has keep going
//   await lab.close();                        every takeover's signal aborts (knock says "the door
//                                             closes"), then the remaining close() hooks run
