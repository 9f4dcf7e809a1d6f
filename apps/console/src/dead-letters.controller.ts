import { Controller, Get, HttpCode, Inject, Param, ParseIntPipe, Post } from '@nestjs/common';
import { can } from '@tessera/control-plane';
import {
  type DeadLetterErrorClass,
  type DeadLetterView,
  maskContactPointsIn,
  type ReplaySelection,
} from '@tessera/pipeline';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import { DEAD_LETTER_QUERY, DISCARD_INPUT, REPLAY_INPUT } from './console-schemas';

interface LetterQuery {
  brand?: string;
  destination?: string;
  errorClass?: DeadLetterErrorClass;
  error?: string;
  includeReplayed?: boolean;
  limit: number;
}

const filterOf = (query: LetterQuery) => ({
  ...(query.brand === undefined ? {} : { brand: query.brand }),
  ...(query.destination === undefined ? {} : { destinationId: query.destination }),
  ...(query.errorClass === undefined ? {} : { errorClass: query.errorClass }),
  ...(query.error === undefined ? {} : { errorContains: query.error }),
  ...(query.includeReplayed === true ? { includeReplayed: true } : {}),
});

/** How much of a letter's error and ESP answer a reader without pii.read sees. */
export const LETTER_SUMMARY_CHARS = 200;

const summary = (text: string): string => {
  const masked = maskContactPointsIn(text);
  return masked.length <= LETTER_SUMMARY_CHARS ? masked : `${masked.slice(0, LETTER_SUMMARY_CHARS - 1)}…`;
};

/**
 * A letter as the caller may read it. Error texts and ESP answers are redacted of contact points and names
 * before they are stored (and cut to 2 KB), so nobody can read those back; an admin (pii.read) sees the stored
 * texts whole, the other roles a summary with any written form of a contact point masked once more.
 */
function letterFor<T extends DeadLetterView>(letter: T, mayReadPii: boolean): T {
  if (mayReadPii) return letter;
  return {
    ...letter,
    error: summary(letter.error),
    ...(letter.espAnswer === undefined ? {} : { espAnswer: summary(letter.espAnswer) }),
  };
}

/** The dead-letter queue: browse, inspect, replay, discard (errors are stored with contact points masked). */
@Controller('v1/dead-letters')
export class DeadLettersController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get()
  @Endpoint({
    permission: 'dead-letters.read',
    tag: 'dead-letters',
    summary: 'List letters, oldest first',
    query: DEAD_LETTER_QUERY,
  })
  async list(@ValidQuery() query: LetterQuery, @Caller() caller: ConsoleCaller) {
    const operations = await this.deps.operations(caller.actor);
    const mayReadPii = can(caller.key.role, 'pii.read');
    const letters = await operations.listDeadLetters(filterOf(query), query.limit);
    return { letters: letters.map((letter) => letterFor(letter, mayReadPii)) };
  }

  @Get('counts')
  @Endpoint({
    permission: 'dead-letters.read',
    tag: 'dead-letters',
    summary: 'Waiting letters per destination',
    query: DEAD_LETTER_QUERY,
  })
  async counts(@ValidQuery() query: LetterQuery, @Caller() caller: ConsoleCaller) {
    const operations = await this.deps.operations(caller.actor);
    return { counts: await operations.countDeadLetters(filterOf(query)) };
  }

  @Get(':id')
  @Endpoint({ permission: 'dead-letters.read', tag: 'dead-letters', summary: 'One letter, without its item' })
  async show(@Param('id', ParseIntPipe) id: number, @Caller() caller: ConsoleCaller) {
    const letter = await (await this.deps.operations(caller.actor)).showDeadLetter(id);
    return letterFor(letter, can(caller.key.role, 'pii.read'));
  }

  @Post('replay')
  @HttpCode(200)
  @Endpoint({
    permission: 'dead-letters.replay',
    tag: 'dead-letters',
    summary:
      'Replay letters (by ids, all, or a filter): each is taken once; items delivered since are skipped',
    body: REPLAY_INPUT,
  })
  async replay(@ValidBody() body: ReplaySelection, @Caller() caller: ConsoleCaller) {
    const operations = await this.deps.operations(caller.actor);
    const report = await operations.replayDeadLetters(body);
    return report;
  }

  @Post('discard')
  @HttpCode(200)
  @Endpoint({
    permission: 'dead-letters.replay',
    tag: 'dead-letters',
    summary: 'Discard letters: they will never be sent',
    body: DISCARD_INPUT,
  })
  async discard(@ValidBody() body: { ids: number[]; reason: string }, @Caller() caller: ConsoleCaller) {
    return (await this.deps.operations(caller.actor)).discardDeadLetters(body.ids, body.reason);
  }
}
