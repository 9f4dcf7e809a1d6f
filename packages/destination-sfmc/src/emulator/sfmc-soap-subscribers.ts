import { randomUUID } from 'node:crypto';
import type { SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { validateSoapEnvelope } from '../contract/soap-envelope.validator';
import { SOAP_NAMESPACES, SUBSCRIBER_STATUSES, type SubscriberStatus } from '../sfmc-endpoints';
import { child, children, escapeXml, isXmlNode, text, type XmlNode } from '../soap/soap-xml';
import { soapFault, XML_HEADERS } from './sfmc-responses';

/*
 * The emulator's SOAP API: `Create` / `Update` of `Subscriber` objects in All Subscribers, answered with one
 * `Results` entry per object (StatusCode, StatusMessage, OrdinalID, ErrorCode), as the SOAP API guide's
 * Subscriber object and Create method describe. The envelope's token and throttling are checked before.
 */

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface SfmcStoredSubscriber {
  SubscriberKey: string;
  EmailAddress: string;
  Status: SubscriberStatus;
}

interface SaveResult {
  statusCode: 'OK' | 'Error';
  statusMessage: string;
  ordinal: number;
  errorCode?: string;
}

export class SoapSubscribers {
  private subscribers = new Map<string, SfmcStoredSubscriber>();

  all(): SfmcStoredSubscriber[] {
    return [...this.subscribers.values()].map((subscriber) => ({ ...subscriber }));
  }

  set(subscriber: SfmcStoredSubscriber): void {
    this.subscribers.set(subscriber.SubscriberKey, { ...subscriber });
  }

  delete(subscriberKey: string): void {
    this.subscribers.delete(subscriberKey);
  }

  clear(): void {
    this.subscribers = new Map();
  }

  /** Answers a SOAP request whose envelope (`Envelope` element) carries a valid token. */
  answer(request: SandboxRequest, envelope: XmlNode): SandboxResponse {
    const body = child(envelope, 'Body');
    const method = (['Create', 'Update'] as const).find((name) => isXmlNode(body?.[`${name}Request`]));
    if (method === undefined) {
      return soapFault(
        'soap:Client',
        'Server was unable to read request. Body has no CreateRequest or UpdateRequest.',
      );
    }
    const structural = validateSoapEnvelope({
      headers: request.headers,
      body: request.rawBody.toString('utf8'),
    }).filter((problem) => /Status must be|SOAPAction|xsi:type|has no Objects/.test(problem));
    if (structural.length > 0) {
      return soapFault('soap:Client', `Server was unable to read request. ${structural.join('; ')}`);
    }
    const methodRequest = body?.[`${method}Request`];
    const upsert = children(child(child(methodRequest, 'Options'), 'SaveOptions'), 'SaveOption').some(
      (option) => text(option, 'SaveAction') === 'UpdateAdd',
    );
    const mode = method === 'Update' ? 'update' : upsert ? 'upsert' : 'create';
    const results = children(methodRequest, 'Objects').map((object, ordinal) =>
      this.save(object, ordinal, mode),
    );
    const failed = results.filter((result) => result.statusCode !== 'OK').length;
    const overall = failed === 0 ? 'OK' : failed === results.length ? 'Error' : 'Has Errors';
    const xml =
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<soap:Envelope xmlns:soap="${SOAP_NAMESPACES.envelope}" xmlns:xsi="${SOAP_NAMESPACES.xsi}">` +
      `<soap:Body><${method}Response xmlns="${SOAP_NAMESPACES.partnerApi}">` +
      results
        .map(
          (result) =>
            `<Results><StatusCode>${result.statusCode}</StatusCode><StatusMessage>${escapeXml(result.statusMessage)}</StatusMessage>` +
            `<OrdinalID>${result.ordinal}</OrdinalID>${result.errorCode === undefined ? '' : `<ErrorCode>${result.errorCode}</ErrorCode>`}` +
            '<NewID>0</NewID></Results>',
        )
        .join('') +
      `<RequestID>${randomUUID()}</RequestID><OverallStatus>${overall}</OverallStatus>` +
      `</${method}Response></soap:Body></soap:Envelope>`;
    return { status: 200, headers: XML_HEADERS, body: xml };
  }

  private save(object: unknown, ordinal: number, mode: 'create' | 'update' | 'upsert'): SaveResult {
    const node: XmlNode = isXmlNode(object) ? object : {};
    const key = text(node, 'SubscriberKey');
    const email = text(node, 'EmailAddress');
    const status = (text(node, 'Status') ?? 'Active') as SubscriberStatus;
    if (key === undefined || key === '') {
      return {
        statusCode: 'Error',
        statusMessage: 'SubscriberKey is required.',
        ordinal,
        errorCode: '12000',
      };
    }
    if (email === undefined || !EMAIL.test(email)) {
      return { statusCode: 'Error', statusMessage: 'Invalid email address.', ordinal, errorCode: '12001' };
    }
    const existing = this.subscribers.get(key);
    if (existing === undefined && mode === 'update') {
      return {
        statusCode: 'Error',
        statusMessage: 'The subscriber does not exist.',
        ordinal,
        errorCode: '12003',
      };
    }
    if (existing !== undefined && mode === 'create') {
      return {
        statusCode: 'Error',
        statusMessage: 'The subscriber already exists.',
        ordinal,
        errorCode: '12014',
      };
    }
    if (!(SUBSCRIBER_STATUSES as readonly string[]).includes(status)) {
      return { statusCode: 'Error', statusMessage: 'Invalid status.', ordinal, errorCode: '12002' };
    }
    this.subscribers.set(key, { SubscriberKey: key, EmailAddress: email, Status: status });
    return {
      statusCode: 'OK',
      statusMessage: existing === undefined ? 'Created Subscriber.' : 'Updated Subscriber.',
      ordinal,
    };
  }
}
