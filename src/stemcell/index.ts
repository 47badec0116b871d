export { buildStemcell, hostDebianMirror, StemcellBuildError, type BuildStemcellOptions, type BuiltStemcell } from './build-stemcell.js';
export { compareStemcellVersions, parseStemcellManifest, serializeStemcellManifest, type StemcellManifest } from './stemcell-manifest.js';
export { openStemcellTarball, readStemcellManifest, type OpenedStemcell } from './stemcell-tarball.js';
export { defaultStemcellCacheDir, defaultStemcellDir, bosunPackageRoot } from './paths.js';
export * from './stemcell-contents.js';
