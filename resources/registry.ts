/*
 * Registry resources: the content of one artifact version, whatever its size (registry_get
 * puts content inline only up to 1 MiB and names this resource for the rest).
 */
import { defineResource } from '../src/surface/resource.js';
import { encodeContent } from '../src/surface/content-encoding.js';
import { artifactUri } from '../src/surface/uris.js';

export const registryArtifact = defineResource({
  name: 'registry-artifact',
  engine: 'registry',
  uriTemplate: 'registry://artifacts/{name}/{version}',
  title: 'Registry artifact',
  description: 'Content of one artifact version; name is URL-encoded ("acme%2Fmodel").',
  scope: 'registry:read',
  governedAs: { operation: 'registry_get', input: ({ name, version }) => ({ name, version }) },
  async list({ engines }) {
    const page = await engines.registry.list({ limit: 100 });
    return page.artifacts.map((a) => ({ uri: artifactUri(a.name, a.version), name: `${a.name}@${a.version}`, mimeType: a.mediaType, size: a.size }));
  },
  complete: {
    name: (value, _values, { engines }) => engines.registry.names(value),
    version: (value, { name }, { engines }) => (name ? engines.registry.versions(name, value) : Promise.resolve([])),
  },
  async read({ name, version }, { engines }) {
    const artifact = await engines.registry.getVersion(name, version);
    const encoded = encodeContent(artifact.mediaType, artifact.content);
    return encoded.encoding === 'utf8' ? { mimeType: artifact.mediaType, text: encoded.content } : { mimeType: artifact.mediaType, blob: encoded.content };
  },
});

export const REGISTRY_RESOURCES = [registryArtifact];
