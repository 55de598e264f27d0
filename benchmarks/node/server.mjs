// node-oidc-provider as the benchmark's reference: one confidential client asking for client
// credentials, RS256-signed JWT access tokens, the in-memory adapter (the provider's default).
// Usage: node server.mjs PORT CLIENT_ID CLIENT_SECRET — listens on 127.0.0.1 only.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, clientId, clientSecret] = process.argv.slice(2);
const resource = 'urn:kosmo-idp:bench';

// A fresh 2048-bit key per run, the size Keycloak's and kosmo-idp's RS256 keys have.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: 'bench' };

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
  }],
  jwks: { keys: [signingKey] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // Client-credentials access tokens are JWTs only when issued for a resource server.
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      getResourceServerInfo: () => ({ scope: 'api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
    },
  },
});

provider.listen(Number(port), '127.0.0.1');
