import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Queue } from 'bullmq';
import { AuditLog } from '@tessera/consent';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createHttpApp } from '@tessera/nest-platform';
import { PipelineWorker } from '@tessera/pipeline';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import { PipelineModule } from '@tessera/worker';
import { ConsoleModule } from '../src';

// Bull Board at /queues on a real runtime (PGlite, the real Redis, the pipeline's worker) over Fastify's
// inject: who may see it, who may change anything (only admins), and the audit log of what admins change.

const ADMIN_KEY = 'tsk_admin-key-for-the-queue-board-spec-0123456789';
const ADMIN_ACTOR = 'console:admin-from-environment';

describe('Bull Board at /queues', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  let dsr: Queue;
  let maintenance: Queue;
  const keys: Record<'marketer' | 'operator' | 'auditor', string> = {
    marketer: '',
    operator: '',
    auditor: '',
  };

  beforeAll(async () => {
    t = await createTestRuntime(testWorkspace(), { TESSERA_ADMIN_KEY: ADMIN_KEY });
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await createHttpApp(t.runtime, [ConsoleModule.forRoot(PipelineModule)]);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    for (const role of ['marketer', 'operator', 'auditor'] as const) {
      const created = await app.inject({
        method: 'POST',
        url: '/v1/api-keys',
        headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
        payload: JSON.stringify({ name: `${role} key`, role }),
      });
      expect(created.statusCode).toBe(201);
      keys[role] = String((JSON.parse(created.body) as { key: string }).key);
    }
    const queueNamed = (name: string) => {
      const queue = app.get(PipelineWorker).queues.find((candidate) => candidate.queueName === name);
      if (queue === undefined) throw new Error(`no ${name} queue`);
      return queue.queue;
    };
    dsr = queueNamed('dsr');
    maintenance = queueNamed('maintenance');
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  afterEach(async () => {
    await dsr.resume();
  });

  const basic = (key: string) => `Basic ${Buffer.from(`ops:${key}`).toString('base64')}`;

  async function board(method: string, url: string, key: string, body?: unknown) {
    const response = await app.inject({
      method: method as 'GET',
      url,
      headers: {
        authorization: basic(key),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });
    return {
      status: response.statusCode,
      body: response.body === '' ? {} : (JSON.parse(response.body) as unknown),
    };
  }

  const queueAudit = async () =>
    (await new AuditLog(t.runtime.store).query()).filter((entry) => entry.action.startsWith('queue.'));

  const OPERATE_REFUSAL = (role: string) => ({
    error: 'forbidden',
    message: `role ${role} may not operate the queues in Bull Board (pause, resume, retry, promote, clean, empty, add or remove jobs)`,
  });

  it('asks for a key, and refuses a role that may not see the queues', async () => {
    expect((await app.inject({ method: 'GET', url: '/queues/api/queues' })).statusCode).toBe(401);
    expect(await board('GET', '/queues/api/queues', keys.marketer)).toEqual({
      status: 403,
      body: {
        error: 'forbidden',
        message: 'role marketer may not see the queues and their jobs in Bull Board',
      },
    });
  });

  it('shows an operator and an auditor every queue read-only, and an admin the same queues writable', async () => {
    for (const key of [keys.operator, keys.auditor]) {
      const seen = await board('GET', '/queues/api/queues', key);
      expect(seen.status).toBe(200);
      const queues = (seen.body as { queues: Array<Record<string, unknown>> }).queues;
      expect(queues.map((queue) => queue['name'])).toEqual(expect.arrayContaining(['dsr', 'maintenance']));
      for (const queue of queues)
        expect(queue).toMatchObject({
          readOnlyMode: true,
          allowRetries: false,
          allowCompletedRetries: false,
        });
    }
    const admin = (await board('GET', '/queues/api/queues', ADMIN_KEY)).body as {
      queues: Array<Record<string, unknown>>;
    };
    for (const queue of admin.queues)
      expect(queue).toMatchObject({ readOnlyMode: false, allowRetries: true });
  });

  it('refuses an operator’s or an auditor’s change with 403 before Bull Board sees it: nothing changes, nothing is audited', async () => {
    await maintenance.add('maintenance.retention', {}, { jobId: 'kept-by-the-refusals', delay: 3_600_000 });
    expect(await board('PUT', '/queues/api/queues/dsr/pause', keys.operator)).toEqual({
      status: 403,
      body: OPERATE_REFUSAL('operator'),
    });
    expect(await board('PUT', '/queues/api/queues/pause', keys.auditor)).toEqual({
      status: 403,
      body: OPERATE_REFUSAL('auditor'),
    });
    expect(await board('PUT', '/queues/api/queues/maintenance/empty', keys.operator)).toEqual({
      status: 403,
      body: OPERATE_REFUSAL('operator'),
    });
    expect(
      await board('PUT', '/queues/api/queues/maintenance/kept-by-the-refusals/clean', keys.operator),
    ).toEqual({ status: 403, body: OPERATE_REFUSAL('operator') });
    expect(
      await board('POST', '/queues/api/queues/dsr/add', keys.operator, { name: 'dsr.erasure', data: {} }),
    ).toEqual({ status: 403, body: OPERATE_REFUSAL('operator') });

    expect(await dsr.isPaused()).toBe(false);
    expect(await maintenance.isPaused()).toBe(false);
    expect(await maintenance.getJob('kept-by-the-refusals')).toBeDefined();
    expect(await dsr.getJobCounts('waiting', 'delayed')).toEqual({ waiting: 0, delayed: 0 });
    expect(await queueAudit()).toEqual([]);
    await maintenance.remove('kept-by-the-refusals');
  });

  it('applies an admin’s pause of the erasure queue and writes it to the audit log, with the resume', async () => {
    expect(await board('PUT', '/queues/api/queues/dsr/pause', ADMIN_KEY)).toEqual({ status: 200, body: {} });
    expect(await dsr.isPaused()).toBe(true);
    const [paused] = await queueAudit();
    expect(paused).toMatchObject({
      actor: ADMIN_ACTOR,
      action: 'queue.pause',
      detail: {
        via: 'bull-board',
        method: 'PUT',
        route: '/api/queues/:queueName/pause',
        queue: 'dsr',
        outcome: 'applied',
        status: 200,
      },
    });

    expect((await board('PUT', '/queues/api/queues/dsr/resume', ADMIN_KEY)).status).toBe(200);
    expect(await dsr.isPaused()).toBe(false);
    const [resumed] = await queueAudit();
    expect(resumed).toMatchObject({ actor: ADMIN_ACTOR, action: 'queue.resume', detail: { queue: 'dsr' } });
  });

  it('audits an admin’s job added through the board without its data, and a refused change as refused', async () => {
    const added = await board('POST', '/queues/api/queues/maintenance/add', ADMIN_KEY, {
      name: 'maintenance.retention',
      data: { note: 'added-by-an-admin' },
      options: { delay: 3_600_000 },
    });
    expect(added.status).toBe(200);
    const job = (added.body as { job: { id: string } }).job;
    expect((await maintenance.getJob(job.id))?.data).toEqual({ note: 'added-by-an-admin' });
    const [entry] = await queueAudit();
    expect(entry).toMatchObject({
      actor: ADMIN_ACTOR,
      action: 'queue.add_job',
      detail: { queue: 'maintenance', outcome: 'applied', status: 200 },
    });
    expect(JSON.stringify(entry?.detail)).not.toContain('added-by-an-admin');

    expect((await board('PUT', `/queues/api/queues/maintenance/${job.id}/clean`, ADMIN_KEY)).status).toBe(
      204,
    );
    expect(await maintenance.getJob(job.id)).toBeUndefined();
    expect((await queueAudit())[0]).toMatchObject({
      action: 'queue.remove_job',
      detail: { queue: 'maintenance', jobId: job.id, outcome: 'applied', status: 204 },
    });

    expect((await board('PUT', '/queues/api/queues/no-such-queue/pause', ADMIN_KEY)).status).toBe(404);
    expect((await queueAudit())[0]).toMatchObject({
      action: 'queue.pause',
      detail: { queue: 'no-such-queue', outcome: 'refused', status: 404 },
    });
  });
});
