import { AuthError, RejectedError, RetryableError } from '@tessera/destination-kit';
import { validateSoapEnvelope } from '../contract/soap-envelope.validator';
import {
  buildSubscriberEnvelope,
  classifySoapFailure,
  parseSaveResults,
  subscriberResults,
} from './subscriber-status.request';

const fault = (code: string, message: string): string =>
  '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>' +
  `<faultcode>${code}</faultcode><faultstring>${message}</faultstring></soap:Fault></soap:Body></soap:Envelope>`;

describe('subscriber status over SOAP', () => {
  it('builds an envelope SFMC reads: fueloauth token, Create with UpdateAdd, escaped values', () => {
    const xml = buildSubscriberEnvelope('tok&en', 'https://x.soap.marketingcloudapis.com/Service.asmx', [
      { SubscriberKey: '00123<>', EmailAddress: 'ada@example.com', Status: 'Active' },
    ]);

    expect(validateSoapEnvelope({ headers: { soapaction: 'Create' }, body: xml })).toEqual([]);
    expect(xml).toContain('<fueloauth xmlns="http://exacttarget.com">tok&amp;en</fueloauth>');
    expect(xml).toContain('<SubscriberKey>00123&lt;&gt;</SubscriberKey>');
  });

  it('reads Results by OrdinalID, keeping keys as strings', () => {
    const xml =
      '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
      '<CreateResponse xmlns="http://exacttarget.com/wsdl/partnerAPI">' +
      '<Results><StatusCode>Error</StatusCode><StatusMessage>Invalid email address.</StatusMessage><OrdinalID>1</OrdinalID><ErrorCode>12001</ErrorCode></Results>' +
      '<Results><StatusCode>OK</StatusCode><StatusMessage>Updated Subscriber.</StatusMessage><OrdinalID>0</OrdinalID></Results>' +
      '<OverallStatus>Has Errors</OverallStatus></CreateResponse></soap:Body></soap:Envelope>';
    const results = parseSaveResults(xml) ?? [];

    expect(subscriberResults(3, results)).toEqual([
      { status: 'ok' },
      { status: 'rejected', reason: 'SFMC: Invalid email address. (ErrorCode 12001)' },
      { status: 'rejected', reason: 'SFMC returned no result for this subscriber' },
    ]);
    expect(parseSaveResults('<html>busy</html>')).toBeUndefined();
  });

  it('classifies SOAP faults: security → auth, Client → rejected, Server → still retryable', () => {
    const http500 = (body: string): RetryableError => new RetryableError('HTTP 500', { status: 500, body });

    expect(classifySoapFailure(http500(fault('q0:Security', 'Login Failed')))).toBeInstanceOf(AuthError);
    expect(classifySoapFailure(http500(fault('soap:Client', 'Server was unable to read request.')))).toEqual(
      new RejectedError('SFMC SOAP client fault: Server was unable to read request.'),
    );
    const busy = http500(fault('soap:Server', 'The server is busy'));
    expect(classifySoapFailure(busy)).toBe(busy);
    const gateway = http500('<html>Bad gateway</html>');
    expect(classifySoapFailure(gateway)).toBe(gateway);
  });
});
