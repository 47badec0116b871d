import type { CloudConfigRequest } from '../../../common/contracts/api.js';
import type { DirectorService } from '../../director-service.js';
import { objectSchema, type RouteSpec } from '../route-spec.js';

const body = objectSchema({ text: { type: 'string', minLength: 1 } }, ['text']);

/** BOSH's cloud config: read, diff (validates, changes nothing), update. */
export function cloudConfigRoutes(director: DirectorService): RouteSpec[] {
  const tag = 'cloud-config';
  return [
    {
      method: 'GET',
      url: '/api/v1/cloud_config',
      tag,
      auth: 'token',
      summary: 'The current cloud config (text null and version 0 when none was uploaded)',
      response: 'CloudConfigInfo',
      handler: () => director.getCloudConfig(),
    },
    {
      method: 'POST',
      url: '/api/v1/cloud_config/diff',
      tag,
      auth: 'token',
      body,
      summary: 'Validate a cloud config and show what it changes against the current one (changes nothing)',
      response: 'CloudConfigDiffResponse',
      handler: (req) => director.diffCloudConfig((req.body as CloudConfigRequest).text),
    },
    {
      method: 'POST',
      url: '/api/v1/cloud_config',
      tag,
      auth: 'token',
      body,
      summary: 'Make a cloud config the current one (a new version; none when the text is unchanged)',
      response: 'CloudConfigInfo',
      handler: (req, { user }) => director.updateCloudConfig((req.body as CloudConfigRequest).text, user),
    },
  ];
}
