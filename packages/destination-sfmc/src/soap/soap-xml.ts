import { XMLParser } from 'fast-xml-parser';

/*
 * Reading and writing SFMC's SOAP 1.1 XML. Tag values stay strings (a subscriber key `00123` is not a number)
 * and namespace prefixes are dropped, so `soap:Envelope` and `s:Envelope` read alike.
 */

const REPEATED = new Set(['Objects', 'Results', 'SaveOption']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  isArray: (name) => REPEATED.has(name),
});

export type XmlNode = Record<string, unknown>;

/** Parses XML into plain objects; undefined when the text is not well-formed XML with an element. */
export function parseXml(text: string): XmlNode | undefined {
  try {
    const parsed: unknown = parser.parse(text, true);
    return isXmlNode(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function isXmlNode(value: unknown): value is XmlNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The child element `name` of `node` (undefined when absent or not an element). */
export function child(node: unknown, name: string): XmlNode | undefined {
  if (!isXmlNode(node)) return undefined;
  const value = node[name];
  return isXmlNode(value) ? value : undefined;
}

/** The children named `name` (repeated elements parse as arrays). */
export function children(node: unknown, name: string): unknown[] {
  if (!isXmlNode(node)) return [];
  const value = node[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The text of element `name` (an element with attributes keeps its text under `#text`). */
export function text(node: unknown, name: string): string | undefined {
  if (!isXmlNode(node)) return undefined;
  const value = node[name];
  if (typeof value === 'string') return value;
  if (isXmlNode(value) && typeof value['#text'] === 'string') return value['#text'];
  return undefined;
}

/** Escapes text for an XML element or attribute value. */
export function escapeXml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** The Body of a SOAP envelope. */
export function soapBody(document: XmlNode | undefined): XmlNode | undefined {
  return child(child(document, 'Envelope'), 'Body');
}

export interface SoapFault {
  faultcode: string;
  faultstring: string;
}

/** The fault a SOAP response carries, if any. */
export function soapFault(document: XmlNode | undefined): SoapFault | undefined {
  const fault = child(soapBody(document), 'Fault');
  if (fault === undefined) return undefined;
  return { faultcode: text(fault, 'faultcode') ?? '', faultstring: text(fault, 'faultstring') ?? '' };
}
