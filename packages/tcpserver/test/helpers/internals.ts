// Entry of the bundle that child scripts import: the public API plus the internals tests drive.
export * from '../../src/index';
export { detachBoundSockets, runPrimary, Supervisor, sendSockets } from '../../src/process';
