#!/usr/bin/env node
// Posts one signed points.updated event to the demo source of a running `npm start`.
// Usage: node scripts/send-demo-event.js [baseUrl] (default http://127.0.0.1:8080)
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { randomUUID } = require('node:crypto');
const { Webhook } = require('standardwebhooks');

const baseUrl = process.argv[2] ?? `http://127.0.0.1:${process.env.PORT ?? 8080}`;
const dataDir = process.env.TESSERA_DATA_DIR ?? '.tessera';
const credentials = JSON.parse(readFileSync(join(dataDir, 'demo-credentials.json'), 'utf8'));
const source = credentials.sources[0];

const body = JSON.stringify({
  specversion: '1.0',
  id: randomUUID(),
  source: 'https://loyalty.example.com',
  type: 'points.updated',
  time: new Date().toISOString(),
  data: {
    customer_id: 'C123456',
    email: 'user@example.com',
    delta: 120,
    new_balance: 1840,
    reason: 'purchase',
  },
});
const webhookId = `msg_${randomUUID()}`;
const now = new Date();
const signature = new Webhook(source.secret).sign(webhookId, now, body);

fetch(`${baseUrl}/v1/sources/${source.id}/events`, {
  method: 'POST',
  headers: {
    'content-type': 'application/cloudevents+json',
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': signature,
  },
  body,
}).then(async (response) => {
  process.stdout.write(`${response.status} ${await response.text()}\n`);
  process.exitCode = response.ok ? 0 : 1;
});
