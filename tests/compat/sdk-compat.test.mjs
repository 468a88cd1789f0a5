// Compatibility test: drives a running ConnectionGrid with the official Nango Node SDK (@nangohq/node, pinned in package.json).
//
//   GRID_URL=http://127.0.0.1:5080 GRID_SECRET_KEY=<tenant key> node --test
//
// The contract these assertions come from is documented in SDK-CONTRACT.md (same folder).
// Steps share state and run in order (node:test runs the tests of a describe() sequentially).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { Nango } from '@nangohq/node';

const GRID_URL = process.env.GRID_URL;
const GRID_SECRET_KEY = process.env.GRID_SECRET_KEY;

const suffix = randomBytes(4).toString('hex');
const integrationKey = `confluence-${suffix}`;
const connectionId = `conn-${suffix}`;
const clientId = `client-${suffix}`;
const clientSecret = `secret-${randomBytes(8).toString('hex')}`;
const scopes = 'read:confluence-content.all';
const accessToken = `at-${randomBytes(12).toString('hex')}`;
const refreshToken = `rt-${randomBytes(12).toString('hex')}`;
// One hour ahead, whole seconds: the grid must not consider the token due for refresh.
const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 60 * 60 * 1000);

/** @type {Nango} */
let nango;
let integrationCreated = false;
let connectionDeleted = false;

/** Status of an error thrown by the SDK (axios: err.status, and err.response.status). */
function statusOf(err) {
    return err?.status ?? err?.response?.status;
}

/** Asserts that `promise` rejects with an HTTP error of the given status; includes the response body in the message. */
async function rejectsWithStatus(promise, expected, what) {
    await assert.rejects(promise, (err) => {
        assert.equal(
            statusOf(err),
            expected,
            `${what}: expected HTTP ${expected}, got ${statusOf(err) ?? 'no status'} (${err?.message}); body: ${JSON.stringify(err?.response?.data)}`
        );
        // Nango-style error body: {error: {code, message}}
        const body = err.response?.data;
        assert.equal(typeof body?.error?.code, 'string', `${what}: error body should be {error:{code,...}}, got ${JSON.stringify(body)}`);
        return true;
    });
}

/** Wraps an SDK call so a failing HTTP call shows its status and body instead of a bare axios message. */
async function call(what, fn) {
    try {
        return await fn();
    } catch (err) {
        if (err?.isAxiosError) {
            throw new Error(`${what} failed: HTTP ${statusOf(err) ?? '-'} ${err.message}; body: ${JSON.stringify(err.response?.data)}`, { cause: err });
        }
        throw err;
    }
}

describe('ConnectionGrid is compatible with @nangohq/node', () => {
    before(() => {
        assert.ok(GRID_URL, 'set GRID_URL, e.g. http://127.0.0.1:5080');
        assert.ok(GRID_SECRET_KEY, 'set GRID_SECRET_KEY to a tenant secret key');
        nango = new Nango({ host: GRID_URL, secretKey: GRID_SECRET_KEY });
    });

    after(async () => {
        if (!nango) return;
        // Best-effort cleanup if a step failed half-way.
        if (integrationCreated && !connectionDeleted) {
            await nango.deleteConnection(integrationKey, connectionId).catch(() => {});
        }
        if (integrationCreated) {
            await nango.deleteIntegration(integrationKey).catch(() => {});
        }
    });

    it('1a. createIntegration creates a confluence integration and returns it under data', async () => {
        const res = await call('createIntegration', () =>
            nango.createIntegration({
                unique_key: integrationKey,
                provider: 'confluence',
                display_name: `Confluence ${suffix}`,
                credentials: { type: 'OAUTH2', client_id: clientId, client_secret: clientSecret, scopes }
            })
        );
        integrationCreated = true;
        assert.ok(res?.data, `createIntegration must return {data: {...}}, got ${JSON.stringify(res)}`);
        assert.equal(res.data.unique_key, integrationKey);
        assert.equal(res.data.provider, 'confluence');
        assert.equal(res.data.display_name, `Confluence ${suffix}`);
        assert.ok(!Number.isNaN(Date.parse(res.data.created_at)), `created_at should be ISO 8601, got ${res.data.created_at}`);
        assert.ok(!Number.isNaN(Date.parse(res.data.updated_at)), `updated_at should be ISO 8601, got ${res.data.updated_at}`);
        // Credentials are only returned on request (include=credentials).
        assert.equal(res.data.credentials?.client_secret, undefined, 'client_secret must not be returned by default');
    });

    it('1b. getIntegration returns it; include=credentials returns the client id, secret and scopes', async () => {
        const res = await call('getIntegration', () => nango.getIntegration({ uniqueKey: integrationKey }));
        assert.equal(res.data.unique_key, integrationKey);
        assert.equal(res.data.provider, 'confluence');
        assert.equal(res.data.credentials?.client_secret, undefined, 'client_secret must not be returned without include=credentials');

        // The SDK sends only the last array element (?include=credentials).
        const withCreds = await call('getIntegration(include=credentials)', () =>
            nango.getIntegration({ uniqueKey: integrationKey }, { include: ['credentials'] })
        );
        assert.equal(withCreds.data.unique_key, integrationKey);
        assert.equal(withCreds.data.credentials?.type, 'OAUTH2');
        assert.equal(withCreds.data.credentials?.client_id, clientId);
        assert.equal(withCreds.data.credentials?.client_secret, clientSecret);
        assert.ok(
            String(withCreds.data.credentials?.scopes ?? '')
                .split(/[,\s]+/)
                .includes(scopes),
            `scopes should contain ${scopes}, got ${withCreds.data.credentials?.scopes}`
        );
    });

    it('1c. listIntegrations contains it (SDK re-wraps {data} as {configs})', async () => {
        const res = await call('listIntegrations', () => nango.listIntegrations());
        assert.ok(Array.isArray(res.configs), `server must answer {data: [...]}; SDK returned ${JSON.stringify(res)}`);
        const mine = res.configs.find((c) => c.unique_key === integrationKey);
        assert.ok(mine, `listIntegrations should contain ${integrationKey}`);
        assert.equal(mine.provider, 'confluence');
    });

    it('1d. updateIntegration changes the display name', async () => {
        const res = await call('updateIntegration', () => nango.updateIntegration({ uniqueKey: integrationKey }, { display_name: `Renamed ${suffix}` }));
        assert.equal(res.data.unique_key, integrationKey);
        assert.equal(res.data.display_name, `Renamed ${suffix}`);
        const again = await call('getIntegration', () => nango.getIntegration({ uniqueKey: integrationKey }, { include: ['credentials'] }));
        assert.equal(again.data.display_name, `Renamed ${suffix}`);
        assert.equal(again.data.credentials?.client_id, clientId, 'a partial update must keep the credentials');
    });

    it('2. importing a connection (POST /connections; the SDK has no import method)', async () => {
        const res = await fetch(`${GRID_URL.replace(/\/$/, '')}/connections`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${GRID_SECRET_KEY}`, 'Content-Type': 'application/json' },
            body: JSON.stringify({
                provider_config_key: integrationKey,
                connection_id: connectionId,
                credentials: { type: 'OAUTH2', access_token: accessToken, refresh_token: refreshToken, expires_at: expiresAt.toISOString() }
            })
        });
        const text = await res.text();
        assert.ok(res.ok, `POST /connections: HTTP ${res.status} ${text}`);
        const body = JSON.parse(text);
        assert.equal(body.connection_id, connectionId);
        assert.equal(body.provider_config_key, integrationKey);
    });

    it('3. getToken returns the imported access token as a string', async () => {
        const token = await call('getToken', () => nango.getToken(integrationKey, connectionId));
        assert.equal(typeof token, 'string', `getToken should return a string (credentials.type must be "OAUTH2"), got ${JSON.stringify(token)}`);
        assert.equal(token, accessToken, 'a token valid for another hour must be returned as imported, not refreshed');
    });

    it('4a. getConnection returns the connection, without the refresh token by default', async () => {
        const conn = await call('getConnection', () => nango.getConnection(integrationKey, connectionId));
        assert.equal(conn.connection_id, connectionId);
        assert.equal(conn.provider_config_key, integrationKey);
        assert.equal(conn.provider, 'confluence');
        assert.equal(conn.credentials?.type, 'OAUTH2');
        assert.equal(conn.credentials.access_token, accessToken);
        assert.ok(conn.credentials.expires_at, 'credentials.expires_at should be present');
        assert.ok(
            Math.abs(Date.parse(conn.credentials.expires_at) - expiresAt.getTime()) < 1000,
            `expires_at should round-trip: sent ${expiresAt.toISOString()}, got ${conn.credentials.expires_at}`
        );
        assert.equal(conn.credentials.refresh_token, undefined, 'refresh_token must be absent unless refresh_token=true');
        assert.ok(!JSON.stringify(conn).includes(refreshToken), 'the refresh token must not appear anywhere in the response (e.g. credentials.raw)');
        assert.ok(Array.isArray(conn.errors), 'errors should be an array');
    });

    it('4b. getConnection(key, id, forceRefresh=false, refreshToken=true) includes the refresh token', async () => {
        const conn = await call('getConnection(refresh_token=true)', () => nango.getConnection(integrationKey, connectionId, false, true));
        assert.equal(conn.credentials.access_token, accessToken, 'force_refresh=false must not refresh');
        assert.equal(conn.credentials.refresh_token, refreshToken);
    });

    it('5. setMetadata replaces, updateMetadata merges, getConnection/getMetadata show the result', async () => {
        const set = await call('setMetadata', () => nango.setMetadata(integrationKey, connectionId, { a: 1, nested: { x: 'y' } }));
        assert.ok(set.status >= 200 && set.status < 300);
        let conn = await call('getConnection', () => nango.getConnection(integrationKey, connectionId));
        assert.deepEqual(conn.metadata, { a: 1, nested: { x: 'y' } });

        const upd = await call('updateMetadata', () => nango.updateMetadata(integrationKey, connectionId, { b: 2, a: 3 }));
        assert.ok(upd.status >= 200 && upd.status < 300);
        conn = await call('getConnection', () => nango.getConnection(integrationKey, connectionId));
        assert.deepEqual(conn.metadata, { a: 3, nested: { x: 'y' }, b: 2 }, 'updateMetadata must merge top-level keys');
        assert.deepEqual(await call('getMetadata', () => nango.getMetadata(integrationKey, connectionId)), { a: 3, nested: { x: 'y' }, b: 2 });

        await call('setMetadata', () => nango.setMetadata(integrationKey, connectionId, { only: true }));
        conn = await call('getConnection', () => nango.getConnection(integrationKey, connectionId));
        assert.deepEqual(conn.metadata, { only: true }, 'setMetadata must replace the whole metadata');
        assert.equal(conn.credentials.access_token, accessToken, 'metadata writes must not touch credentials');
    });

    it('6. listConnections contains the connection (all forms the SDK offers)', async () => {
        const all = await call('listConnections()', () => nango.listConnections());
        assert.ok(Array.isArray(all.connections), `server must answer {connections: [...]}, got ${JSON.stringify(all)}`);
        const mine = all.connections.find((c) => c.connection_id === connectionId && c.provider_config_key === integrationKey);
        assert.ok(mine, `listConnections() should contain ${connectionId}`);
        assert.equal(mine.provider, 'confluence');
        assert.deepEqual(mine.metadata, { only: true });
        assert.equal(mine.credentials, undefined, 'list entries carry no credentials');
        assert.ok(!JSON.stringify(all).includes(accessToken), 'no token may appear in the list');

        // Legacy positional form: exact connectionId filter.
        const byId = await call('listConnections(connectionId)', () => nango.listConnections(connectionId));
        assert.ok(byId.connections.length >= 1);
        assert.ok(byId.connections.every((c) => c.connection_id === connectionId), 'connectionId filter must be exact');

        // Object form: integrationId filter.
        const byIntegration = await call('listConnections({integrationId})', () => nango.listConnections({ integrationId: integrationKey }));
        assert.deepEqual(
            byIntegration.connections.map((c) => c.connection_id),
            [connectionId],
            'integrationId filter should return only this integration\'s connection'
        );
    });

    it('6b. createConnectSession returns a working connect link', async () => {
        const res = await call('createConnectSession', () =>
            nango.createConnectSession({ end_user: { id: `user-${suffix}`, email: 'alice@example.com' }, allowed_integrations: [integrationKey] })
        );
        assert.match(res.data.token, /^cg_cs_/);
        assert.ok(Date.parse(res.data.expires_at) > Date.now(), `expires_at should be in the future, got ${res.data.expires_at}`);
        // The link opens a page of the grid that offers the allowed integration...
        const page = await fetch(res.data.connect_link);
        const html = await page.text();
        assert.equal(page.status, 200, `GET connect_link: HTTP ${page.status} ${html}`);
        // (a GET form per integration: its action and the session token as a hidden field)
        assert.ok(html.includes(`action="/oauth/connect/${integrationKey}"`), `the connect page should offer ${integrationKey}: ${html}`);
        assert.ok(html.includes(`name="connect_session_token" value="${res.data.token}"`), `the connect page's form should carry the session token: ${html}`);
        const start = `/oauth/connect/${integrationKey}?connect_session_token=${encodeURIComponent(res.data.token)}`;
        // ...whose link sends the browser to the provider's consent page with this integration's client id.
        const toProvider = await fetch(new URL(start, res.data.connect_link), { redirect: 'manual' });
        assert.equal(toProvider.status, 302);
        const authorize = new URL(toProvider.headers.get('location'));
        assert.equal(authorize.searchParams.get('client_id'), clientId);
        assert.equal(authorize.searchParams.get('redirect_uri'), `${GRID_URL.replace(/\/$/, '')}/oauth/callback`);
        assert.ok(authorize.searchParams.get('state'), 'the authorization URL should carry a state');
    });

    it('6c. createReconnectSession returns a session for an existing connection', async () => {
        const res = await call('createReconnectSession', () =>
            nango.createReconnectSession({ connection_id: connectionId, integration_id: integrationKey })
        );
        assert.match(res.data.token, /^cg_cs_/);
        assert.ok(res.data.connect_link.includes(encodeURIComponent(res.data.token)));
    });

    it('7. deleteConnection, then getConnection rejects with 404', async () => {
        const res = await call('deleteConnection', () => nango.deleteConnection(integrationKey, connectionId));
        assert.ok(res.status >= 200 && res.status < 300, `deleteConnection: HTTP ${res.status}`);
        connectionDeleted = true;
        await rejectsWithStatus(nango.getConnection(integrationKey, connectionId), 404, 'getConnection after delete');
        await rejectsWithStatus(nango.getToken(integrationKey, connectionId), 404, 'getToken after delete');
        const list = await call('listConnections', () => nango.listConnections({ integrationId: integrationKey }));
        assert.ok(!list.connections.some((c) => c.connection_id === connectionId), 'a deleted connection must not be listed');
    });

    it('8. a wrong secret key is rejected with 401', async () => {
        const wrong = new Nango({ host: GRID_URL, secretKey: `wrong-${randomBytes(16).toString('hex')}` });
        await rejectsWithStatus(wrong.listIntegrations(), 401, 'listIntegrations with a wrong key');
        await rejectsWithStatus(wrong.getIntegration({ uniqueKey: integrationKey }), 401, 'getIntegration with a wrong key');
        await rejectsWithStatus(wrong.getConnection(integrationKey, connectionId), 401, 'getConnection with a wrong key');
    });

    it('9. deleteIntegration, then getIntegration rejects with 404', async () => {
        const res = await call('deleteIntegration', () => nango.deleteIntegration(integrationKey));
        assert.ok(res.status >= 200 && res.status < 300, `deleteIntegration: HTTP ${res.status}`);
        integrationCreated = false;
        await rejectsWithStatus(nango.getIntegration({ uniqueKey: integrationKey }), 404, 'getIntegration after delete');
        const list = await call('listIntegrations', () => nango.listIntegrations());
        assert.ok(!list.configs.some((c) => c.unique_key === integrationKey), 'a deleted integration must not be listed');
    });
});
