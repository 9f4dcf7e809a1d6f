// talisman ships CommonJS without types; only the two functions the matcher uses are declared.

declare module 'talisman/phonetics/double-metaphone' {
  /** Returns the [primary, secondary] codes, each at most four characters. */
  function doubleMetaphone(name: string): [string, string];
  export = doubleMetaphone;
}

declare module 'talisman/metrics/jaro-winkler' {
  /** Jaro–Winkler similarity in [0, 1]; 1 for identical strings. */
  function jaroWinkler(a: string, b: string): number;
  namespace jaroWinkler {
    function similarity(a: string, b: string): number;
    function distance(a: string, b: string): number;
  }
  export = jaroWinkler;
}
