import { SFMC_LIMITS, SUBSCRIBER_STATUSES } from '../sfmc-endpoints';
import { child, children, isXmlNode, parseXml, text } from '../soap/soap-xml';

/*
 * Checks a SOAP request the way SFMC's SOAP API reads it (SOAP API guide: envelope, `fueloauth` header,
 * Create/Update methods, the Subscriber object and its SubscriberStatus values; at most 50 objects a request, the
 * API limits' batch size for synchronous requests). The REST contract cannot:
 * its bodies are XML. Used by the tests on every SOAP request the destination sends, and by the emulator.
 */

const METHODS = ['Create', 'Update'] as const;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface SoapRequestToCheck {
  /** Header names in lower case. */
  headers?: Record<string, string | undefined>;
  body: string;
}

/** Everything wrong with a Subscriber Create/Update request; empty when SFMC would read it. */
export function validateSoapEnvelope(request: SoapRequestToCheck): string[] {
  const problems: string[] = [];
  const document = parseXml(request.body);
  const envelope = child(document, 'Envelope');
  if (envelope === undefined) return ['body is not a SOAP envelope (no Envelope element)'];
  const header = child(envelope, 'Header');
  const token = text(header, 'fueloauth');
  if (header === undefined) problems.push('Envelope has no Header');
  else if (token === undefined || token.trim() === '') problems.push('Header has no fueloauth access token');
  const body = child(envelope, 'Body');
  if (body === undefined) return [...problems, 'Envelope has no Body'];
  const method = METHODS.find((name) => isXmlNode(body[`${name}Request`]));
  if (method === undefined) return [...problems, 'Body has no CreateRequest or UpdateRequest'];
  const soapAction = request.headers?.['soapaction']?.replace(/^"|"$/g, '');
  if (request.headers !== undefined && soapAction !== method) {
    problems.push(`SOAPAction header must be ${method} (got ${JSON.stringify(soapAction ?? null)})`);
  }
  const objects = children(body[`${method}Request`], 'Objects');
  if (objects.length === 0) problems.push(`${method}Request has no Objects`);
  if (objects.length > SFMC_LIMITS.soapObjectsPerRequest) {
    problems.push(
      `${method}Request has ${objects.length} Objects; SFMC takes at most ${SFMC_LIMITS.soapObjectsPerRequest} per synchronous request`,
    );
  }
  objects.forEach((object, index) => {
    const at = `Objects[${index}]`;
    if (!isXmlNode(object)) {
      problems.push(`${at} is empty`);
      return;
    }
    if (object['@_type'] !== 'Subscriber') problems.push(`${at} must have xsi:type="Subscriber"`);
    const key = text(object, 'SubscriberKey');
    if (key === undefined || key === '') problems.push(`${at}.SubscriberKey is required`);
    else if (key.length > 254) problems.push(`${at}.SubscriberKey is longer than 254 characters`);
    const email = text(object, 'EmailAddress');
    if (email === undefined || !EMAIL.test(email))
      problems.push(`${at}.EmailAddress must be an email address`);
    const status = text(object, 'Status');
    if (status !== undefined && !(SUBSCRIBER_STATUSES as readonly string[]).includes(status)) {
      problems.push(
        `${at}.Status must be one of ${SUBSCRIBER_STATUSES.join(', ')} (got ${JSON.stringify(status)})`,
      );
    }
  });
  return problems;
}
