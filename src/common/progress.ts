/**
 * Progress of long operations (pull, import) as typed events. Library code
 * emits them; the CLI draws them as bars on a TTY or lines otherwise, and the
 * API streams them as Docker's JSON progress.
 */

export type ProgressEvent =
  | { kind: 'resolve'; ref: string; digest?: string }
  | { kind: 'layer-cached'; digest: string }
  | { kind: 'download'; digest: string; current: number; total: number; resumedFrom?: number }
  | { kind: 'verify'; digest: string }
  | { kind: 'extract'; digest: string; current: number; total: number }
  | { kind: 'layer-done'; digest: string }
  | { kind: 'done'; ref: string; imageId: string; digest?: string; downloadedBytes: number }
  | { kind: 'message'; text: string };

export type ProgressSink = (event: ProgressEvent) => void;

export const ignoreProgress: ProgressSink = () => {};
