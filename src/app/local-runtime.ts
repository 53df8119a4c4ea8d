// The embedded default's wiring (no KFM_QUEUE_URL: `npm start`, `npm run serve`,
// `npm run invoke`): the in-process queue feeds a worker in the same process, and
// the status route reads through the same deployer, so it also shows the outcomes
// held in memory. One per process and settings; on Lambda this module is never loaded.
import type { Settings } from '../settings/settings.js';
import type { Logger } from '../log.js';
import { createInProcessQueue } from '../queue/in-process.js';
import type { CommandQueue } from '../queue/port.js';
import { createWorker } from './worker.js';
import { deadLetterDir, lazyDeployer, registerLocalDeployer, workloadGroup, writeDeadLetter, type ReportListener, type RuntimeOverrides } from './runtime.js';

export interface LocalRuntime {
  queue: CommandQueue & { drain(): Promise<void> };
  deployer: ReturnType<typeof lazyDeployer>;
  /** Calls `listener` with every step's report; returns the unsubscribe call. */
  onReport(listener: ReportListener): () => void;
}

/** How long one local delivery may run (a Lambda worker's timeout). */
const LOCAL_STEP_MS = 60_000;

export function createLocalRuntime(settings: Settings, logger: Logger, overrides: RuntimeOverrides = {}): LocalRuntime {
  const deployer = lazyDeployer(settings, logger, overrides);
  const listeners = new Set<ReportListener>();
  const intake = { image: settings.image, tagPolicy: settings.tagPolicy };
  const dir = deadLetterDir(settings);
  const queue = createInProcessQueue({
    async deliver(batch) {
      const end = Date.now() + LOCAL_STEP_MS;
      const deadline = () => end - Date.now();
      const worker = createWorker({
        deployer: await deployer(), logger, intake, onReport: (report) => listeners.forEach((listener) => listener(report)),
        followUp: { queue, groupId: workloadGroup(settings) },
      });
      return worker(batch, deadline);
    },
    async deadLetter(record) {
      writeDeadLetter(dir, record);
      logger.warn('dead-lettered', { messageId: record.messageId, dir });
    },
  });
  return {
    queue,
    deployer,
    onReport(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
}

const runtimes = new WeakMap<Settings, LocalRuntime>();

/** The process's local runtime for these settings (the handlers' default exports share it). */
export function localRuntime(settings: Settings, logger: Logger): LocalRuntime {
  let runtime = runtimes.get(settings);
  if (!runtime) {
    runtime = createLocalRuntime(settings, logger);
    runtimes.set(settings, runtime);
    registerLocalDeployer(settings, runtime.deployer);
  }
  return runtime;
}
