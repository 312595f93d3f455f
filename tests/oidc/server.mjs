// A real OpenID provider (oidc-provider) for the integration and end-to-end tests, driven
// without a browser: the interaction endpoint signs in whoever `login_hint` names and grants
// the requested scopes at once, so a plain HTTP client following redirects goes from the
// authorization URL straight to `redirect_uri?code=...&state=...&iss=...`.
//
// Environment:
//   PORT      port to listen on, on 127.0.0.1 (0 or unset: any free port); the issuer is
//             http://127.0.0.1:<port>, printed as the single line `READY <issuer>` on stdout.
//   CLIENTS   JSON list of clients: {client_id, client_secret, redirect_uris: [...]}; any other
//             client metadata given is passed through to oidc-provider.
//   JWKS      optional JSON {"keys": [private RSA JWKs]}: the first signs, all are published.
//             Unset: one RSA key is generated at start.
//   CODE_TTL  optional authorization code lifetime in seconds (default 60).
//   ID_TOKEN_ALGS  optional JSON list of the ID token algorithms offered (default ["RS256"]),
//             among RS256, PS256 and ES256; a key is generated for each one beyond RS256. A
//             client picks one with `id_token_signed_response_alg` (default RS256).
//
// Accounts: every login_hint is an account. sub = "sub-" + login; email = the login when it
// contains "@", else login@example.test, except that `unverified+<email>` claims <email>;
// email_verified unless the login starts with "unverified". The login "deny" refuses: the OP
// answers error=access_denied at the redirect_uri.
//
// Test-only route (not part of OpenID Connect):
//   POST /_harness/rotate[?drop=1]  generate a new RSA key and sign with it from now on; the old
//                                   keys stay published unless drop=1. Answers {"kid", "kids"}.

import * as crypto from 'node:crypto';
import * as http from 'node:http';

import Provider, { interactionPolicy } from 'oidc-provider';

const HOST = '127.0.0.1';
const INTERACTION = /^\/interaction\/([^/]+)\/?$/;

function fail(message) {
  process.stderr.write(`oidc test provider: ${message}\n`);
  process.exit(2);
}

function parseJson(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  try {
    return JSON.parse(raw);
  } catch (err) {
    return fail(`${name} is not valid JSON: ${err.message}`);
  }
}

function generateKey(alg = 'RS256') {
  const { privateKey } = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), use: 'sig', alg };
}

const SIGNING_ALGS = ['RS256', 'PS256', 'ES256'];
const idTokenAlgs = parseJson('ID_TOKEN_ALGS', ['RS256']);
if (!Array.isArray(idTokenAlgs) || !idTokenAlgs.includes('RS256')
    || idTokenAlgs.some((alg) => !SIGNING_ALGS.includes(alg))) {
  fail(`ID_TOKEN_ALGS must be a JSON list with RS256 and any of ${SIGNING_ALGS.join(', ')}`);
}

function clientsFromEnv() {
  const clients = parseJson('CLIENTS', []);
  if (!Array.isArray(clients)) fail('CLIENTS must be a JSON list');
  return clients.map((client, i) => {
    if (!client?.client_id || !client?.client_secret || !Array.isArray(client?.redirect_uris)) {
      fail(`CLIENTS[${i}] needs client_id, client_secret and redirect_uris (a list)`);
    }
    return {
      response_types: ['code'],
      grant_types: ['authorization_code'],
      // oidc-provider accepts client_secret_basic for a client registered with
      // client_secret_post and vice versa: both carry the same secret.
      token_endpoint_auth_method: 'client_secret_post',
      id_token_signed_response_alg: 'RS256',
      ...client,
    };
  });
}

// ---- accounts ---------------------------------------------------------------------------

const SUB_PREFIX = 'sub-';
const DENY = 'deny';

const accountIdFor = (login) => `${SUB_PREFIX}${login}`;

// `unverified+<email>`: an account at a provider that does not verify addresses, claiming
// someone else's (the attacker who registered the victim's email there).
const CLAIMS_EMAIL = /^unverified\+(.+@.+)$/;

function claimsFor(login) {
  const claimed = CLAIMS_EMAIL.exec(login)?.[1];
  const email = claimed ?? (login.includes('@') ? login : `${login}@example.test`);
  return {
    email,
    email_verified: !login.startsWith('unverified'),
    name: login.split('@')[0],
    preferred_username: login,
  };
}

async function findAccount(ctx, sub) {
  if (typeof sub !== 'string' || !sub.startsWith(SUB_PREFIX) || sub.length === SUB_PREFIX.length) {
    return undefined;
  }
  const login = sub.slice(SUB_PREFIX.length);
  return {
    accountId: sub,
    async claims() {
      return { sub, ...claimsFor(login) };
    },
  };
}

// ---- provider ---------------------------------------------------------------------------

// A session signed in as one account must not silently answer for another: when login_hint
// names someone else than the session's account, ask for login again (which our interaction
// endpoint then does without a form).
function interactionPolicyWithLoginHint() {
  const policy = interactionPolicy.base();
  policy.get('login').checks.add(new interactionPolicy.Check(
    'login_hint_mismatch',
    'login_hint names another account than the one signed in',
    (ctx) => {
      const hint = ctx.oidc.params.login_hint;
      const current = ctx.oidc.session.accountId;
      if (hint === undefined || current === undefined) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return hint === DENY || accountIdFor(hint) !== current
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  ));
  return policy;
}

const clients = clientsFromEnv();
const cookieKeys = [crypto.randomBytes(32).toString('base64url')];
const codeTtl = Number.parseInt(process.env.CODE_TTL ?? '60', 10);
if (!Number.isInteger(codeTtl) || codeTtl <= 0) fail('CODE_TTL must be a positive integer');

let keys = parseJson('JWKS', { keys: [generateKey()] }).keys;
if (!Array.isArray(keys) || keys.length === 0) fail('JWKS must be {"keys": [at least one private JWK]}');
// One key for each further algorithm, after the RSA ones (the first RSA key signs RS256).
const otherAlgKeys = idTokenAlgs.filter((alg) => alg !== 'RS256').map((alg) => generateKey(alg));

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients,
    jwks: { keys: [...keys, ...otherAlgKeys] },
    findAccount,
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    scopes: ['openid', 'email', 'profile'],
    // Scope claims (email, email_verified, ...) go into the ID token too, not only userinfo.
    conformIdTokenClaims: false,
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
    enabledJWA: { idTokenSigningAlgValues: idTokenAlgs },
    // oidc-provider 9 only knows S256; this makes PKCE mandatory for every client.
    pkce: { required: () => true },
    // RFC 9207 `iss` in authorization responses is always on in oidc-provider 9 (no feature
    // flag any more); discovery says authorization_response_iss_parameter_supported: true.
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
    },
    interactions: {
      url: (ctx, interaction) => `/interaction/${interaction.uid}`,
      policy: interactionPolicyWithLoginHint(),
    },
    cookies: { keys: cookieKeys },
    ttl: {
      AuthorizationCode: codeTtl,
      AccessToken: 300,
      IdToken: 300,
      Interaction: 300,
      Grant: 3600,
      Session: 3600,
    },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`oidc test provider: server_error: ${err?.stack ?? err}\n`);
  });
  return provider;
}

// ---- browser-less interaction -----------------------------------------------------------

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

async function interaction(provider, req, res) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (err) {
    answer(res, 400, {
      error: 'invalid_request',
      error_description: `no interaction in progress here (${err.message}); `
        + 'start at the authorization endpoint and keep the cookies it sets',
    });
    return;
  }

  const { prompt, params, session, grantId } = details;
  const loginHint = params.login_hint;
  const finish = (result) => provider.interactionFinished(req, res, result, {
    mergeWithLastSubmission: false,
  });

  if (loginHint === DENY) {
    await finish({
      error: 'access_denied',
      error_description: 'the End-User refused to sign in',
    });
    return;
  }

  let accountId;
  if (prompt.name === 'login') {
    if (typeof loginHint !== 'string' || loginHint === '') {
      answer(res, 400, {
        error: 'login_required',
        error_description: 'this test OpenID provider signs in whoever login_hint names, '
          + 'and the authorization request has no login_hint: add login_hint=<login>',
      });
      return;
    }
    accountId = accountIdFor(loginHint);
  } else {
    accountId = session?.accountId;
  }

  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  if (typeof params.scope === 'string' && params.scope) grant.addOIDCScope(params.scope);
  const missingClaims = prompt.details?.missingOIDCClaims;
  if (Array.isArray(missingClaims) && missingClaims.length) grant.addOIDCClaims(missingClaims);
  const savedGrantId = await grant.save();

  const result = { consent: { grantId: savedGrantId } };
  if (prompt.name === 'login') result.login = { accountId };
  await finish(result);
}

// ---- server -----------------------------------------------------------------------------

let provider;
let callback;

async function rotate(req, res, url) {
  const key = generateKey();
  keys = url.searchParams.get('drop') === '1' ? [key] : [key, ...keys];
  provider = buildProvider(provider.issuer); // the memory adapter's storage is shared
  callback = provider.callback();
  answer(res, 200, { kid: key.kid, kids: keys.map((k) => k.kid) });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://localhost');
  let handled;
  if (INTERACTION.test(url.pathname)) {
    if (req.method !== 'GET') {
      answer(res, 405, { error: 'invalid_request', error_description: 'use GET' });
      return;
    }
    handled = interaction(provider, req, res);
  } else if (url.pathname === '/_harness/rotate' && req.method === 'POST') {
    handled = rotate(req, res, url);
  } else {
    callback(req, res);
    return;
  }
  handled.catch((err) => {
    process.stderr.write(`oidc test provider: ${err?.stack ?? err}\n`);
    if (!res.headersSent) answer(res, 500, { error: 'server_error', error_description: String(err) });
    else res.end();
  });
});

const port = Number.parseInt(process.env.PORT ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) fail('PORT must be a port number');

server.on('error', (err) => fail(`cannot listen on ${HOST}:${port}: ${err.message}`));
server.listen(port, HOST, () => {
  const issuer = `http://${HOST}:${server.address().port}`;
  provider = buildProvider(issuer);
  callback = provider.callback();
  process.stdout.write(`READY ${issuer}\n`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
