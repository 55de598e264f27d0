// panva's openid-client signs a member in at a running kosmo-idp and prints what it saw as JSON.
//
// Discovery, authorization code + PKCE (the browser part is plain fetch with a tiny cookie
// jar, filling the hosted sign-in form), userinfo and refresh; then, when a confidential
// client is given, a client-credentials grant. Every failure exits non-zero with the error.
//
// Usage: node code-flow.mjs  (settings from the environment)
//   ISSUER        http://localhost:PORT/realms/kosmo-demo
//   CLIENT_ID     a public client with PKCE, REDIRECT_URI registered for it
//   USERNAME, PASSWORD                  the member who signs in
//   SERVICE_CLIENT_ID, SERVICE_SECRET   optional: a confidential client with a service account
import * as client from 'openid-client'

function setting (name) {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set`)
  return value
}

/** Cookies by name; one host and path are all this flow visits, so that is enough. */
class CookieJar {
  #cookies = new Map()

  keep (response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const at = pair.indexOf('=')
      this.#cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim())
    }
  }

  header () {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }
}

async function browse (jar, url, init = {}) {
  const headers = { ...init.headers, cookie: jar.header() }
  const response = await fetch(url, { ...init, headers, redirect: 'manual' })
  jar.keep(response)
  return response
}

function unescapeHtml (text) {
  return text.replaceAll('&amp;', '&').replaceAll('&quot;', '"').replaceAll('&#39;', "'")
    .replaceAll('&lt;', '<').replaceAll('&gt;', '>')
}

function hiddenField (page, name) {
  const input = page.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))
  const value = input && input[0].match(/value="([^"]*)"/)
  if (!value) throw new Error(`the sign-in page has no ${name} field`)
  return unescapeHtml(value[1])
}

/** What a member's browser does: open the sign-in page, fill it in, follow back with a code. */
async function signInInBrowser (authorizationUrl, username, password) {
  const jar = new CookieJar()
  const pageResponse = await browse(jar, authorizationUrl)
  const page = await pageResponse.text()
  if (pageResponse.status !== 200) throw new Error(`sign-in page answered ${pageResponse.status}: ${page}`)
  const action = page.match(/<form[^>]*action="([^"]*)"/)
  if (!action) throw new Error('the sign-in page has no form')
  const form = new URLSearchParams({
    csrf_token: hiddenField(page, 'csrf_token'),
    tab_id: hiddenField(page, 'tab_id'),
    step: hiddenField(page, 'step'),
    username,
    password
  })
  const answer = await browse(jar, new URL(unescapeHtml(action[1]), authorizationUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form
  })
  const location = answer.headers.get('location')
  if (answer.status !== 302 || !location) {
    throw new Error(`signing in answered ${answer.status}: ${await answer.text()}`)
  }
  return { callbackUrl: new URL(location, authorizationUrl), jar }
}

async function codeFlow (config, redirectUri, username, password) {
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  const authorizationUrl = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce
  })
  const { callbackUrl } = await signInInBrowser(authorizationUrl, username, password)
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: codeVerifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true
  })
  return { callbackUrl, tokens, nonce }
}

async function main () {
  const issuer = new URL(setting('ISSUER'))
  const insecure = { execute: [client.allowInsecureRequests] }
  const config = await client.discovery(issuer, setting('CLIENT_ID'), undefined, client.None(), insecure)
  const { callbackUrl, tokens, nonce } = await codeFlow(
    config, setting('REDIRECT_URI'), setting('USERNAME'), setting('PASSWORD'))
  const idClaims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  const summary = {
    discovered_issuer: config.serverMetadata().issuer,
    callback_params: Object.fromEntries([...callbackUrl.searchParams.keys()].map(key => [key, true])),
    token_response: {
      token_type: tokens.token_type,
      expires_in: tokens.expiresIn(),
      scope: tokens.scope,
      has_refresh_token: Boolean(tokens.refresh_token),
      session_state: tokens.session_state
    },
    id_token: { ...idClaims, nonce_matches: idClaims.nonce === nonce },
    userinfo,
    refresh: {
      new_refresh_token: refreshed.refresh_token !== tokens.refresh_token,
      new_access_token: refreshed.access_token !== tokens.access_token,
      id_token_sub: refreshed.claims()?.sub
    }
  }
  if (process.env.SERVICE_CLIENT_ID) {
    const service = await client.discovery(issuer, process.env.SERVICE_CLIENT_ID, undefined,
      client.ClientSecretBasic(setting('SERVICE_SECRET')), insecure)
    const granted = await client.clientCredentialsGrant(service)
    summary.client_credentials = {
      token_type: granted.token_type,
      has_refresh_token: Boolean(granted.refresh_token),
      scope: granted.scope
    }
  }
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
}

main().catch(error => {
  process.stderr.write(`${error.name}: ${error.message}\n`)
  if (error.cause) process.stderr.write(`cause: ${JSON.stringify(error.cause)}\n`)
  process.exit(1)
})
