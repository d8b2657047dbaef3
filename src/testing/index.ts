/**
 * `switchyard/testing`: the plugin author's kit. A private server with your handler, raw upgraded
 * connections that send early bytes, reads with a timeout, and the contract checks that
 * `switchyard check-plugin` runs, as functions for your own test suite:
 *
 *   import { test } from 'node:test';
 *   import { runContractChecks, formatCheckLine } from 'switchyard/testing';
 *   import plugin from './my-protocol.js';
 *
 *   test('my-protocol keeps the contract', async () => {
 *     const results = await runContractChecks(plugin);
 *     assert.deepEqual(results.filter((r) => !r.ok).map(formatCheckLine), []);
 *   });
 */
export { startPrivateServer, type PrivateServer, type PrivateServerOptions } from './private-server.js';
export {
  openUpgraded, readWithTimeout, upgradeRequest, UpgradedConnection, TimeoutError,
  type OpenUpgradedOptions, type ResponseHeadSeen, type UpgradeRequestOptions,
} from './upgraded-connection.js';
export { type CheckExchange, type CheckOptions, type RefusalRequest, nonce } from './check-options.js';
export {
  CheckName, CONTRACT_CHECKS, formatCheckLine, runContractChecks,
  checkHandshake101, checkEarlyBytes, checkSlowReaderBounded, checkClientCloseReleases, checkShutdownEnds,
  checkHandshakeThrowIsolated, checkTakeoverThrowIsolated, checkDecline, checkReject,
  type CheckResult, type ContractCheck, type PluginUnderTest,
} from './contract-checks.js';
