// The OpenID provider of the OIDC tests: the npm `oidc-provider` package, configured from
// the environment by tests/oidc_op.py. OP_PORT: the port (127.0.0.1); OP_CONFIG: JSON
// {clients: [...], users: {name: {groups, email, name}}}.
//
// Besides the provider, a few test controls under /__test/ (never part of a real OP):
//   POST /__test/rotate   a new signing key signs from now on (the old one stays published)
//   POST /__test/tamper   JSON claims that replace those of the ID tokens the token endpoint
//                         answers with, re-signed with the current key ({} stops it):
//                         a wrong audience, an expired token, another nonce
//   POST /__test/down     JSON {down: true|false}: while down, every provider request has
//                         its connection closed without an answer
//   POST /__test/users    JSON {name: {groups, email, name}}: users added or changed (their
//                         claims in the tokens issued from now on, refreshes included)
import http from 'node:http';

import { SignJWT, decodeJwt, exportJWK, generateKeyPair, importJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.OP_PORT);
const config = JSON.parse(process.env.OP_CONFIG);
const issuer = `http://127.0.0.1:${port}`;

const keys = []; // private JWKs, the signing one first
let tamper = {};
let down = false;
let provider;
let handler;

async function addKey() {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  Object.assign(jwk, { kid: `key-${keys.length + 1}`, alg: 'RS256', use: 'sig' });
  keys.unshift(jwk);
}

function findAccount(ctx, id) {
  const user = config.users[id];
  if (!user) return undefined;
  return {
    accountId: id,
    claims: async () => ({
      sub: id,
      preferred_username: id,
      name: user.name ?? id,
      email: user.email ?? `${id}@example.test`,
      groups: user.groups ?? [],
    }),
  };
}

function build() {
  const op = new Provider(issuer, {
    clients: config.clients,
    jwks: { keys },
    findAccount,
    claims: {
      openid: ['sub'],
      profile: ['name', 'preferred_username'],
      email: ['email'],
      groups: ['groups'],
    },
    scopes: ['openid', 'offline_access', 'profile', 'email', 'groups'],
    // The scopes' claims in the ID token itself, as Keycloak and Dex give them.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    pkce: { required: () => true },
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    cookies: { keys: ['oidc-test-cookie-key'] },
    ttl: { IdToken: 300, AccessToken: 300 },
  });
  op.use(async (ctx, next) => {
    await next();
    const body = ctx.body;
    if (ctx.path === '/token' && body && typeof body === 'object' && body.id_token) {
      if (Object.keys(tamper).length) {
        const claims = { ...decodeJwt(body.id_token), ...tamper };
        const key = await importJWK(keys[0], 'RS256');
        const idToken = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'RS256', kid: keys[0].kid })
          .sign(key);
        ctx.body = { ...body, id_token: idToken };
      }
    }
  });
  return op;
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString() || '{}';
  return JSON.parse(text);
}

async function control(req, res) {
  const body = await readJson(req);
  if (req.url === '/__test/rotate') {
    await addKey();
    provider = build();
    handler = provider.callback();
  } else if (req.url === '/__test/tamper') {
    tamper = body;
  } else if (req.url === '/__test/users') {
    Object.assign(config.users, body);
  } else if (req.url === '/__test/down') {
    down = Boolean(body.down);
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kids: keys.map((k) => k.kid) }));
}

await addKey();
provider = build();
handler = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url.startsWith('/__test/')) {
    control(req, res).catch((err) => res.writeHead(500).end(String(err)));
    return;
  }
  if (down) {
    req.socket.destroy();
    return;
  }
  handler(req, res);
});
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening ${issuer}\n`);
});
