import { AllowedDestinationHosts } from '@tessera/destination-kit';
import { waitFor } from '@tessera/testing';
import { compileRules } from '@tessera/transform';
import type { PipelineDestination } from '../src';
import { echoDestination } from './support/echo-destination';
import {
  pointsEvent,
  queueOneJobPerEvent,
  startTestPipeline,
  type TestPipeline,
} from './support/test-pipeline';

const echo = echoDestination(100) as unknown as PipelineDestination['definition'];

const destination = (root: string, id: string): PipelineDestination => ({
  id,
  brand: 'sd',
  type: 'echo',
  definition: echo,
  settings: { apiKey: 'k', baseUrl: `${root}/${id}`, windowMs: 0 },
  initialState: 'enabled',
  rules: compileRules({ mappings: { points: 'profile.?points_balance.orValue(0)' } }),
  plugins: [],
});

// Two destinations on the same loopback capture server: the deployment allows it by one name (localhost) only.
describe('Destination hosts in the running pipeline', () => {
  let pipeline: TestPipeline;

  afterAll(() => pipeline?.close());

  it('dead-letters what a destination may not send, naming the host, and sends nothing; the allowed one is delivered', async () => {
    pipeline = await startTestPipeline({
      capture: () => ({ status: 200, body: { refused: [] } }),
      destinationsAt: (root) => [
        destination(root.replace('//127.0.0.1:', '//localhost:'), 'allowed-1'),
        destination(root, 'loopback-1'),
      ],
      worker: { allowedDestinationHosts: new AllowedDestinationHosts(['localhost']) },
    });
    await queueOneJobPerEvent(pipeline, [pointsEvent('sd-loyalty', 'C-HOST-1')]);

    const letters = await waitFor(
      () => pipeline.worker.deadLetters.list({ destinationId: 'loopback-1', limit: 10 }),
      (page) => page.length === 1,
      'the refused item in the dead letters',
    );
    expect(letters.map((letter) => [letter.errorClass, letter.error, letter.espAnswer])).toEqual([
      [
        'rejected',
        "Destination host refused: 127.0.0.1 is a loopback address, not one of Echo's hosts (echo.invalid); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it",
        undefined,
      ],
    ]);
    await waitFor(
      () => pipeline.sandbox.stats('capture').byEndpoint['POST /allowed-1/profiles'] ?? 0,
      (count) => count === 1,
      'the allowed destination gets the profile',
    );
    expect(pipeline.sandbox.stats('capture').total).toBe(1);
  }, 30_000);
});
