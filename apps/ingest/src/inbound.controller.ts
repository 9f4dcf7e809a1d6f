import { All, Controller, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InboundReceiver } from '@tessera/pipeline';

/** ESP webhooks (opt-outs) and their set-up handshakes: `GET|POST /v1/inbound/{destinationId}`. */
@Controller()
export class InboundController {
  constructor(private readonly receiver: InboundReceiver) {}

  // Every method: GET is Mailchimp's URL check, POST a notification, anything else a clear 405.
  @All('v1/inbound/:destinationId')
  async receive(
    @Param('destinationId') destinationId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await this.receiver.receive(destinationId, {
      method: request.method,
      headers,
      query: request.query as Record<string, string | undefined>,
      rawBody: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    });
    void reply
      .status(response.status)
      .headers(response.headers ?? {})
      .send(response.body);
  }
}
