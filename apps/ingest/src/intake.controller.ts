import { Controller, Param, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { EventIntake } from '@tessera/intake';

@Controller()
export class IntakeController {
  constructor(private readonly intake: EventIntake) {}

  @Post('v1/sources/:sourceId/events')
  async receive(
    @Param('sourceId') sourceId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const response = await this.intake.receive({
      sourceId,
      contentType: request.headers['content-type'],
      headers: request.headers,
      body: Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
    });
    void reply
      .status(response.status)
      .headers(response.headers ?? {})
      .send(response.body);
  }
}
