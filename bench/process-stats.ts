import { readFileSync } from 'node:fs';

/** CPU seconds (user + system) and RSS bytes of a process, read from /proc (Linux). */
export interface ProcessSample { cpuSeconds: number; rssBytes: number; at: number }

const TICKS_PER_SECOND = 100; // sysconf(_SC_CLK_TCK) on Linux x86_64 and arm64

export function sampleProcess(pid: number): ProcessSample {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpuSeconds: (utime + stime) / TICKS_PER_SECOND, rssBytes: rssKb * 1024, at: performance.now() };
}

/** Busy fraction of one core between two samples (1.0 = one core fully used). */
export function busy(before: ProcessSample, after: ProcessSample): number {
  const wall = (after.at - before.at) / 1000;
  return wall > 0 ? (after.cpuSeconds - before.cpuSeconds) / wall : 0;
}

/**
 * Several processes as one server (a `--workers` cluster: the primary and its workers): CPU seconds and
 * RSS summed, plus each process's own sample in the order of `pids`.
 */
export function sampleProcesses(pids: readonly number[]): ProcessSample & { parts: ProcessSample[] } {
  const parts = pids.map(sampleProcess);
  return {
    cpuSeconds: parts.reduce((n, p) => n + p.cpuSeconds, 0),
    rssBytes: parts.reduce((n, p) => n + p.rssBytes, 0),
    at: performance.now(),
    parts,
  };
}
