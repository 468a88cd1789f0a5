// The proxy through the official SDK (@nangohq/node): proxy(), get() and post() against a grid whose provider API is
// the emulated Atlassian. The C# side (NangoSdkTests) imports a connection the emulator accepts and passes its names:
//
//   GRID_URL=… GRID_SECRET_KEY=… PROXY_INTEGRATION=… PROXY_CONNECTION_ID=… PROXY_CLOUD_ID=… PROXY_SITE=… node --test

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { before, describe, it } from 'node:test';

import { Nango } from '@nangohq/node';

const { GRID_URL, GRID_SECRET_KEY, PROXY_INTEGRATION, PROXY_CONNECTION_ID, PROXY_CLOUD_ID, PROXY_SITE } = process.env;

describe('the proxy works through @nangohq/node', { skip: !PROXY_CONNECTION_ID && 'set PROXY_CONNECTION_ID (NangoSdkTests does)' }, () => {
    /** @type {Nango} */
    let nango;
    const titles = (n) => [1, 2, 3].slice(0, n).map((i) => `Page ${i} of ${PROXY_SITE}`);

    before(() => {
        nango = new Nango({ host: GRID_URL, secretKey: GRID_SECRET_KEY });
    });

    it('proxy() lists Confluence pages with the short path, forwarding custom headers', async () => {
        const res = await nango.proxy({
            method: 'GET',
            endpoint: '/wiki/api/v2/pages',
            providerConfigKey: PROXY_INTEGRATION,
            connectionId: PROXY_CONNECTION_ID,
            retries: 2,
            headers: { 'X-Request-Tag': 'sdk' }
        });
        assert.equal(res.status, 200);
        assert.deepEqual(res.data.results.map((p) => p.title), titles(3));
        assert.equal(res.headers['x-grid-proxy-source'], 'provider');
    });

    it('get() reaches the explicit /ex/confluence/{cloudId} path with query params', async () => {
        const res = await nango.get({
            endpoint: `/ex/confluence/${PROXY_CLOUD_ID}/wiki/api/v2/pages`,
            params: { limit: '1' },
            providerConfigKey: PROXY_INTEGRATION,
            connectionId: PROXY_CONNECTION_ID
        });
        assert.equal(res.status, 200);
        assert.deepEqual(res.data.results.map((p) => p.title), titles(1));
    });

    it('post() sends its JSON body intact', async () => {
        const data = { spaceId: '65538', status: 'current', title: 'From the SDK ✓', body: { representation: 'storage', value: '<p>hi</p>' } };
        const res = await nango.post({ endpoint: '/wiki/api/v2/pages', data, providerConfigKey: PROXY_INTEGRATION, connectionId: PROXY_CONNECTION_ID });
        assert.equal(res.status, 200);
        const sent = Buffer.from(JSON.stringify(data), 'utf8');
        assert.equal(res.data.received_bytes, sent.length);
        assert.equal(res.data.received_sha256, createHash('sha256').update(sent).digest('hex'));
    });

    it("an unknown connection is the grid's 404, marked as the grid's", async () => {
        await assert.rejects(
            nango.get({ endpoint: '/wiki/api/v2/pages', providerConfigKey: PROXY_INTEGRATION, connectionId: 'nobody-here' }),
            (err) => {
                const status = err?.status ?? err?.response?.status;
                assert.equal(status, 404, `expected 404, got ${status}: ${JSON.stringify(err?.response?.data)}`);
                assert.equal(err.response.data?.error?.code, 'unknown_connection');
                assert.equal(err.response.headers['x-grid-proxy-source'], 'grid');
                return true;
            }
        );
    });
});
