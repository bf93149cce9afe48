import fs from 'node:fs';
import { resolvePaths, silentExplainer } from '../common/index.js';
import { images } from '../db/index.js';
import { readEngineInfo } from './info.js';
import { imageHistory, inspectImage, listImageSummaries, pruneImages, removeImage, tagImage } from './images.js';
import { importImage, pull } from './pull.js';
import { runContainer } from './run.js';
import { execInContainer } from './exec.js';
import { copyFiles } from './cp.js';
import { attachNetwork, checkNetworks, createNetwork, detachNetworks, inspectNetwork, listNetworks, networkSettingsOf, pruneNetworks, removeNetwork, setUpLoopback } from './network.js';
import { createEngineState } from './state.js';
import { containerVerbs } from './containers.js';
import { createContainer, runDetached } from './container-create.js';
import { createVolume, inspectVolume, listVolumes, mountsForInspect, pruneVolumes, releaseContainerVolumes, removeVolume } from './volumes.js';
import type { Engine, EngineOptions, StoreCheckReport } from './types.js';

/** Creates the engine over a data root. Nothing is opened or created until a verb needs it. */
export function createEngine(options: EngineOptions = {}): Engine {
  const paths = resolvePaths(options);
  const insecure = options.insecureRegistries ?? (process.env.DIDACTIC_INSECURE_REGISTRIES ?? '').split(',').filter(Boolean);
  const state = createEngineState(paths, options.explainer ?? silentExplainer, { insecureRegistries: insecure, credentialsFile: options.credentialsFile });
  return {
    ...containerVerbs(state),
    paths,
    info: async () => readEngineInfo(paths),
    pull: (ref, pullOptions) => pull(state, ref, pullOptions),
    importImage: (name, importOptions) => importImage(state, name, importOptions),
    listImages: async () => listImageSummaries(state),
    inspectImage: async (ref) => inspectImage(state, ref),
    imageHistory: async (ref) => imageHistory(state, ref),
    tagImage: async (source, target) => tagImage(state, source, target),
    removeImage: async (ref, removeOptions) => removeImage(state, ref, removeOptions),
    pruneImages: async () => pruneImages(state),
    login: (registry, username, password) => state.registry().login(registry, username, password),
    logout: (registry) => state.registry().logout(registry),
    async checkStore(checkOptions = {}): Promise<StoreCheckReport> {
      const report = await state.content().verifyAll({ removeBad: checkOptions.repair === true });
      const missing: string[] = [];
      let ok = 0;
      for (const layer of images.listLayers(state.db())) {
        if (state.layers().hasLayer(layer.chainId as `sha256:${string}`) && fs.existsSync(state.layers().layerDir(layer.chainId as `sha256:${string}`))) ok++;
        else missing.push(layer.chainId);
      }
      return { blobs: { ok: report.ok.length, bad: report.bad }, layers: { ok, missing } };
    },
    run: (runOptions) => runContainer(state, runOptions),
    createContainer: (request) => createContainer(state, request),
    runDetached: (request) => runDetached(state, request),
    createNetwork: (request) => createNetwork(state, request),
    listNetworks: () => listNetworks(state),
    inspectNetwork: (nameOrId) => inspectNetwork(state, nameOrId),
    removeNetwork: (nameOrId) => removeNetwork(state, nameOrId),
    pruneNetworks: () => pruneNetworks(state),
    attachNetwork: (request) => attachNetwork(state, request),
    detachNetworks: (containerId, network) => detachNetworks(state, containerId, network),
    checkNetworks: (containerId) => checkNetworks(state, containerId),
    networkSettings: async (containerId) => networkSettingsOf(state, containerId),
    setUpLoopback: (containerId, pid) => setUpLoopback(state, containerId, pid),
    createVolume: (request) => createVolume(state, request),
    listVolumes: () => listVolumes(state),
    inspectVolume: (name) => inspectVolume(state, name),
    removeVolume: (name, removeOptions) => removeVolume(state, name, removeOptions),
    pruneVolumes: (pruneOptions) => pruneVolumes(state, pruneOptions),
    releaseContainerVolumes: async (containerId, releaseOptions) => releaseContainerVolumes(state, containerId, releaseOptions),
    mountsForInspect: async (containerId) => mountsForInspect(state, containerId),
    exec: (request) => execInContainer(state, request),
    copy: (request) => copyFiles(state, request),
    close: () => void state.close(),
  };
}
