export { KeyRing, UnknownKeyError, type Sealed, type SealedBox } from './key-ring';
