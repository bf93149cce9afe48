export { createEngine } from './engine.js';
export type { Engine, EngineInfo, EngineOptions, CgroupInfo, RunRequest, RunResult, RunStdio } from './types.js';
export type { NetworkAttachRequest, NetworkAttachment, NetworkCreateRequest, NetworkDetachReport, NetworkInspect, NetworkPruneReport, NetworkSettings } from './types.js';
export type { InspectMount, VolumeCreateRequest, VolumeInspect, VolumePruneReport } from './types.js';
export type { ContainerInspect, ContainerLogChunk, ContainerLogsOptions, ContainerProcess, ContainerPruneReport, ContainerStats, ContainerSummary, ContainerVerbs, ListContainersOptions, RemoveContainerOptions, StopOptions } from './container-types.js';
